"""The case lifecycle, pure: every status against every kind of event, no AWS."""

from __future__ import annotations

import pytest

from chalicelib.lifecycle import (
    CaseState,
    CaseStatus,
    Precedent,
    Ruling,
    Step,
    follow_precedent,
    next_step,
)
from chalicelib.models import Action, Verdict

S = CaseStatus
REMOVED_STATUSES = [
    S.QUARANTINED,
    S.PENDING_REVIEW,
    S.ESCALATED,
    S.APPEAL_PENDING,
    S.DECIDING,
    S.ATTACHED,
    S.CONFIRMED,
]
KEPT_STATUSES = [S.ALLOWED, S.REINSTATED, S.GONE]

# (status, has evidence, object in the bucket now, forced) -> step
TABLE: list[tuple[CaseStatus | None, bool, bool, bool, Step]] = [
    # No case yet: judge what is there, or record that nothing was.
    *[(None, False, present, forced, Step.JUDGE if present else Step.RECORD_GONE)
      for present in (True, False) for forced in (False, True)],
    # An interrupted quarantine resumes where it stopped, whatever the event.
    *[(S.QUARANTINING, True, present, forced, Step.FINISH_REMOVAL)
      for present in (True, False) for forced in (False, True)],
    *[(S.QUARANTINING, False, True, forced, Step.RESUME_QUARANTINE) for forced in (False, True)],
    *[(S.QUARANTINING, False, False, forced, Step.MARK_GONE) for forced in (False, True)],
    # Removed, and back in the bucket: removed again, forced or not (the re-upload).
    *[(status, True, True, forced, Step.REMOVE_AGAIN)
      for status in REMOVED_STATUSES for forced in (False, True)],
    # Removed and still out: nothing to do, unless an operator asks to judge it again.
    *[(status, True, False, False, Step.ALREADY_HANDLED) for status in REMOVED_STATUSES],
    *[(status, True, False, True, Step.REJUDGE_HELD) for status in REMOVED_STATUSES],
    # Kept in place (or gone) and here now: judged again; not here: nothing to do.
    *[(status, evidence, True, forced, Step.REJUDGE)
      for status in KEPT_STATUSES for evidence in (False, True) for forced in (False, True)],
    *[(status, evidence, False, forced, Step.ALREADY_HANDLED)
      for status in KEPT_STATUSES for evidence in (False, True) for forced in (False, True)],
]  # fmt: skip


@pytest.mark.parametrize(("status", "evidence", "present", "forced", "step"), TABLE)
def test_next_step(
    status: CaseStatus | None, evidence: bool, present: bool, forced: bool, step: Step
) -> None:
    case = CaseState(status, evidence) if status is not None else None
    assert next_step(case, present=present, forced=forced) is step


def test_the_table_covers_every_status_and_event() -> None:
    seen = {(row[0], row[2], row[3]) for row in TABLE}
    for status in [None, *CaseStatus]:
        for present in (True, False):
            for forced in (True, False):
                assert (status, present, forced) in seen, (status, present, forced)


def test_every_status_either_removes_the_object_or_leaves_it() -> None:
    assert set(REMOVED_STATUSES) | set(KEPT_STATUSES) | {S.QUARANTINING} == set(CaseStatus)
    assert all(status.removes_object for status in REMOVED_STATUSES)
    assert not any(status.removes_object for status in [*KEPT_STATUSES, S.QUARANTINING])
    assert {s for s in CaseStatus if s.awaits_review} == {
        S.PENDING_REVIEW,
        S.ESCALATED,
        S.APPEAL_PENDING,
    }
    assert [s for s in CaseStatus if not s.settled] == [S.QUARANTINING]


ALLOW = Verdict(Action.ALLOW, ("no match",))
REVIEW = Verdict(Action.REVIEW, ("pdq variant match",))
TAKEDOWN = Verdict(Action.TAKEDOWN, ("sha256 match",))


@pytest.mark.parametrize("verdict", [ALLOW, REVIEW, TAKEDOWN])
def test_no_precedent_changes_nothing(verdict: Verdict) -> None:
    assert follow_precedent(verdict, None, "case-new") == verdict


@pytest.mark.parametrize("verdict", [ALLOW, REVIEW, TAKEDOWN])
def test_bytes_a_reviewer_cleared_are_allowed_everywhere_the_restored_object_included(
    verdict: Verdict,
) -> None:
    for case_id in ("case-new", "case-old"):
        ruled = follow_precedent(verdict, Precedent("case-old", Ruling.ALLOWED), case_id)
        assert ruled.action is Action.ALLOW
        if verdict.action is not Action.ALLOW:
            assert "case-old" in ruled.reasons[0] and ruled.reasons[1:] == verdict.reasons


@pytest.mark.parametrize("verdict", [ALLOW, REVIEW, TAKEDOWN])
def test_bytes_a_reviewer_confirmed_are_taken_down_whatever_matches_now(verdict: Verdict) -> None:
    ruled = follow_precedent(verdict, Precedent("case-old", Ruling.CONFIRMED), "case-new")
    assert ruled.action is Action.TAKEDOWN
    assert "case-old" in ruled.reasons[0] and ruled.held_with is None


def test_bytes_under_review_are_held_with_that_review_not_a_second_one() -> None:
    ruled = follow_precedent(REVIEW, Precedent("case-old", Ruling.PENDING), "case-new")
    assert ruled.action is Action.REVIEW and ruled.held_with == "case-old"
    assert "case-old" in ruled.reasons[0]
    # ... unless they are taken down on their own, or allowed now (no decision yet binds)
    for verdict in (ALLOW, TAKEDOWN):
        ruled = follow_precedent(verdict, Precedent("case-old", Ruling.PENDING), "case-new")
        assert ruled.action is verdict.action and ruled.held_with is None
        assert "case-old" in ruled.reasons[-1]


@pytest.mark.parametrize("verdict", [ALLOW, REVIEW, TAKEDOWN])
def test_an_automated_takedown_is_named_and_the_matches_of_now_decide(verdict: Verdict) -> None:
    ruled = follow_precedent(verdict, Precedent("case-old", Ruling.REMOVED), "case-new")
    assert ruled.action is verdict.action and ruled.held_with is None
    assert ruled.reasons[: len(verdict.reasons)] == verdict.reasons
    assert "case-old" in ruled.reasons[-1]


@pytest.mark.parametrize("ruling", [Ruling.REMOVED, Ruling.CONFIRMED, Ruling.PENDING])
def test_a_case_is_not_its_own_precedent(ruling: Ruling) -> None:
    assert follow_precedent(ALLOW, Precedent("case-1", ruling), "case-1") == ALLOW


def test_evidence_keys_fit_s3s_limit_and_keep_the_file_name() -> None:
    from chalicelib.pipeline import MAX_KEY_BYTES, evidence_key_for

    assert evidence_key_for("t", "case-1", "a/b.jpg") == "t/case-1/a/b.jpg"
    for key in ("k" * 1024, "dir/" + "é" * 510, "€" * 341):
        made = evidence_key_for("tenant", "case-" + "0" * 24, key)
        assert len(made.encode()) <= MAX_KEY_BYTES and key.endswith(made[-20:])
    # two long keys that share their end do not share an evidence key
    a = evidence_key_for("t", "c", "x" * 1100 + "/photo.jpg")
    b = evidence_key_for("t", "c", "y" + "x" * 1099 + "/photo.jpg")
    assert a != b
