"""What becomes of a reviewer's decision once it has claimed the task token (pure).

A decision takes the token from the case (`CaseStore.claim_decision`) before it is sent to the
workflow, so it is answered once. If the answer to that write is lost, or the Lambda dies
before SendTaskSuccess, the case stays `deciding` with the token kept in `review.claim`; the
same reviewer deciding again, or the sweeper (`Reviews.sweep_claims`), sends it again, and the
workflow's answer says what follows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class ClaimMove(StrEnum):
    ANSWERED = "answered"  # the workflow took the decision now
    TAKEN = "taken"  # it had taken it before, or moved on: its next step settles the case
    RELEASED = "released"  # not taken: token, status and decision given back
    RESTARTED = "restarted"  # not taken and the execution is over: a new review is started


# Longer than the API function's timeout (60 s): a claim this old is no decision in flight.
STUCK_AFTER_SECONDS = 120.0

# An execution in these states no longer waits on any of its tokens.
ENDED = frozenset({"FAILED", "TIMED_OUT", "ABORTED"})


def after_token_gone(execution_status: str) -> ClaimMove:
    """The token is no longer waited on. A running (or finished) execution took this answer
    before or moved on (a timeout escalates: its next await undoes the claim); one that ended
    otherwise waits on nothing, so only a new review can bring the case a token again."""
    return ClaimMove.RESTARTED if execution_status in ENDED else ClaimMove.TAKEN


def is_stuck(claim: dict[str, Any] | None, now: str, older_than_seconds: float) -> bool:
    """A claim the sweeper should finish: made longer ago than a decision takes to send."""
    if not claim or not claim.get("at"):
        return False
    made = datetime.fromisoformat(claim["at"])
    return datetime.fromisoformat(now) - made >= timedelta(seconds=older_than_seconds)


def same_decision(claimed: dict[str, Any] | None, reviewer_id: str, action: str) -> bool:
    """A reviewer sending again what they claimed (their answer was lost)."""
    return bool(claimed) and claimed.get("reviewer") == reviewer_id and claimed["action"] == action
