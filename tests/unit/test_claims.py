"""What becomes of a claimed decision, from the workflow's answer (pure)."""

from __future__ import annotations

import pytest

from chalicelib.claims import ClaimMove, after_token_gone, is_stuck, same_decision

NOW = "2026-12-04T22:00:00.000+00:00"


@pytest.mark.parametrize(
    ("execution", "move"),
    [
        ("RUNNING", ClaimMove.TAKEN),  # answered before, or moved on after a timeout
        ("SUCCEEDED", ClaimMove.TAKEN),
        ("FAILED", ClaimMove.RESTARTED),
        ("TIMED_OUT", ClaimMove.RESTARTED),
        ("ABORTED", ClaimMove.RESTARTED),
    ],
)
def test_a_gone_token_is_settled_by_the_execution(execution: str, move: ClaimMove):
    assert after_token_gone(execution) is move


@pytest.mark.parametrize(
    ("claim", "stuck"),
    [
        (None, False),
        ({}, False),
        ({"at": "2026-12-04T21:57:59.999+00:00"}, True),
        ({"at": "2026-12-04T21:58:00.000+00:00"}, True),
        ({"at": "2026-12-04T21:58:00.001+00:00"}, False),  # younger than 120 s: in flight
    ],
)
def test_only_a_claim_older_than_the_limit_is_stuck(claim, stuck: bool):
    assert is_stuck(claim, NOW, 120) is stuck


def test_only_the_same_reviewer_and_action_is_the_same_decision():
    claimed = {"reviewer": "ana", "action": "confirm"}
    assert same_decision(claimed, "ana", "confirm")
    assert not same_decision(claimed, "bo", "confirm")
    assert not same_decision(claimed, "ana", "reject")
    assert not same_decision(None, "ana", "confirm")
