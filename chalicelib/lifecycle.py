"""The case lifecycle, pure: what an event means for the case of the object it names.

A case is opened per object version (`ObjectRef.case_id`: version id, else ETag). S3 and moto
notify every PUT, but an unversioned bucket gives the same bytes at the same key the same
ETag, so a re-upload of a removed file finds the removed file's case. The rule that keeps it
from staying up: a case whose object Cordon removed, while the object is in the bucket again,
means the object came back (a re-upload, or a copy restored by someone else): it is removed
again under that case. The object's presence is the one fact every path can read (ingest,
replay, rescan), whatever the event carried.

Each delivery of a notification is acted on at most once by the ingest's idempotency key
(`ObjectRef.delivery_id`); the lifecycle makes a delivery that gets past it (after the
idempotency record expired, a second envelope, a replay) harmless: it finds the case and the
object as they are and does only what is left.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from chalicelib.models import Action, Verdict


class CaseStatus(StrEnum):
    """Where a case stands. The object is out of the bucket (in evidence) in every status
    that `removes_object` names."""

    ALLOWED = "allowed"  # judged, left in place
    QUARANTINING = "quarantining"  # being moved to evidence (opened before the first copy)
    QUARANTINED = "quarantined"  # removed by an automated takedown
    PENDING_REVIEW = "pending_review"  # removed, a reviewer to decide
    ESCALATED = "escalated"  # removed, a second reviewer to decide
    APPEAL_PENDING = "appeal_pending"  # removed, an appeal to decide
    DECIDING = "deciding"  # a reviewer's decision is being applied
    ATTACHED = "attached"  # removed, follows the review of an earlier case of the same bytes
    CONFIRMED = "confirmed"  # removed, a reviewer confirmed it
    REINSTATED = "reinstated"  # a reviewer rejected the takedown: restored
    GONE = "gone"  # deleted by its owner before Cordon read it

    @property
    def removes_object(self) -> bool:
        return self in REMOVED

    @property
    def awaits_review(self) -> bool:
        return self in AWAITING_REVIEW

    @property
    def settled(self) -> bool:
        """Ingest is done with it (whatever reviewers do next)."""
        return self is not CaseStatus.QUARANTINING


REMOVED = frozenset(
    {
        CaseStatus.QUARANTINED,
        CaseStatus.PENDING_REVIEW,
        CaseStatus.ESCALATED,
        CaseStatus.APPEAL_PENDING,
        CaseStatus.DECIDING,
        CaseStatus.ATTACHED,
        CaseStatus.CONFIRMED,
    }
)
# A reviewer can take these from the queue (DECIDING is already taken, ATTACHED follows another).
AWAITING_REVIEW = frozenset(
    {CaseStatus.PENDING_REVIEW, CaseStatus.ESCALATED, CaseStatus.APPEAL_PENDING}
)
# An appeal reopens a takedown that stands.
APPEALABLE = frozenset({CaseStatus.QUARANTINED, CaseStatus.CONFIRMED})


class Step(StrEnum):
    """What is left to do for one object, given its case and whether it is in the bucket."""

    JUDGE = "judge"  # no case: judge it and open one
    REJUDGE = "rejudge"  # allowed, reinstated or gone before, and here now: judge it again
    RESUME_QUARANTINE = "resume_quarantine"  # opened, no evidence yet: quarantine it
    FINISH_REMOVAL = "finish_removal"  # evidence stored, the original not yet removed
    REMOVE_AGAIN = "remove_again"  # removed before and back in the bucket: remove it again
    REJUDGE_HELD = "rejudge_held"  # forced, still held: judge the evidence, move nothing
    RECORD_GONE = "record_gone"  # no case and nothing to read: record that
    MARK_GONE = "mark_gone"  # opened, never copied, and deleted by its owner since
    ALREADY_HANDLED = "already_handled"  # nothing left to do


@dataclass(frozen=True)
class CaseState:
    """What the lifecycle needs to know of a case."""

    status: CaseStatus
    has_evidence: bool = False


@dataclass(frozen=True)
class Case:
    """One object acted on (or allowed), as the services see it. `CaseStore` alone knows how
    it is stored (compactly: an allowed case is billed per KB, twice over)."""

    case_id: str
    tenant_id: str
    status: CaseStatus
    created_at: str
    updated_at: str
    object: dict[str, Any] = field(default_factory=dict)  # bucket, key, version, size...
    sha256: str | None = None
    signals: tuple[dict[str, Any], ...] = ()  # the upload's own, SHA-256 first
    verdict: Verdict | None = None
    history: tuple[dict[str, Any], ...] = ()
    evidence: dict[str, Any] | None = None  # the locked copy: bucket, key, version, retention
    review: dict[str, Any] | None = None  # the review under way: kind, execution, deadline...
    decisions: tuple[dict[str, Any], ...] = ()
    notice: dict[str, Any] | None = None  # the statement of reasons
    detail: str = ""  # why nothing could be judged (gone)
    attached: tuple[str, ...] = ()  # copies of the same bytes held with this case's review
    attached_to: str | None = None  # the case whose review this copy follows
    # How often the object was taken into quarantine (a gone or reinstated one may come back):
    # numbers the audit rows written once per quarantine, so a retry writes none twice.
    quarantines: int = 0
    extra: dict[str, Any] = field(default_factory=dict)  # any other stored attribute

    @property
    def state(self) -> CaseState:
        return CaseState(self.status, self.evidence is not None)

    @property
    def uri(self) -> str:
        return f"s3://{self.object.get('bucket')}/{self.object.get('key')}"

    @property
    def evidence_uri(self) -> str:
        evidence = self.evidence or {}
        return f"s3://{evidence.get('bucket')}/{evidence.get('key')}"

    @property
    def labels(self) -> list[str]:
        """The labels of the shared hashes it matched."""
        matches = self.verdict.matches if self.verdict else ()
        return sorted({label for m in matches for label in m.labels})

    # -- review ---------------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        """The workflow's task token this case waits on, if a reviewer can decide it now."""
        return (self.review or {}).get("token")

    @property
    def claim(self) -> dict[str, Any] | None:
        """A reviewer's decision that took the token and is not yet known to have reached the
        workflow (`review.claim`: the token, when, the status before, where the decision is)."""
        return (self.review or {}).get("claim")

    @property
    def excluded(self) -> list[str]:
        """Reviewers who may not decide it (they escalated, or decided before an appeal)."""
        return list((self.review or {}).get("excluded", []))

    def may_decide(self, reviewer_id: str) -> bool:
        return reviewer_id not in self.excluded

    @property
    def appealable(self) -> bool:
        return self.status in APPEALABLE

    @property
    def reviewers_so_far(self) -> list[str]:
        return [d["reviewer"] for d in self.decisions]

    def to_dict(self) -> dict[str, Any]:
        """The case as the API, the trace and a statement of reasons read it."""
        data: dict[str, Any] = {
            **self.extra,
            "case_id": self.case_id,
            "tenant_id": self.tenant_id,
            "status": self.status.value,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "object": self.object,
            "signals": list(self.signals),
            "history": list(self.history),
        }
        optional = {
            "sha256": self.sha256,
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "evidence": self.evidence,
            "review": self.review,
            "decisions": list(self.decisions) or None,
            "notice": self.notice,
            "detail": self.detail or None,
            "attached": list(self.attached) or None,
            "attached_to": self.attached_to,
            "quarantines": self.quarantines or None,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data


def next_step(case: CaseState | None, present: bool, forced: bool = False) -> Step:
    """What to do for an object whose case is `case` (None: none yet) and which is (or is not)
    in the bucket now. `forced` is an operator's re-evaluation (`replay --force`, rescans):
    an object held in evidence is judged again from its evidence copy."""
    if case is None:
        return Step.JUDGE if present else Step.RECORD_GONE
    status = case.status
    if status is CaseStatus.QUARANTINING:
        if case.has_evidence:
            return Step.FINISH_REMOVAL
        return Step.RESUME_QUARANTINE if present else Step.MARK_GONE
    if status.removes_object:
        if present:
            return Step.REMOVE_AGAIN
        return Step.REJUDGE_HELD if forced and case.has_evidence else Step.ALREADY_HANDLED
    # ALLOWED, REINSTATED, GONE: the object is (or was) the tenant's to keep.
    return Step.REJUDGE if present else Step.ALREADY_HANDLED


class Ruling(StrEnum):
    """A tenant's standing decision on some bytes, wherever they are uploaded again. A
    reviewer's decision binds every later upload of the bytes; an automated one is only as
    good as its matches, which are judged again (a hash disputed or retired since changes the
    verdict, as the tenants and operators who did it meant)."""

    REMOVED = "removed"  # taken down automatically, on the matches of the day
    CONFIRMED = "confirmed"  # a reviewer confirmed the takedown
    PENDING = "pending"  # held while a reviewer decides
    ALLOWED = "allowed"  # a reviewer rejected the takedown


@dataclass(frozen=True)
class Precedent:
    """The tenant's earlier decision on the same bytes (same SHA-256), and its case."""

    case_id: str
    ruling: Ruling


def follow_precedent(verdict: Verdict, precedent: Precedent | None, case_id: str | None) -> Verdict:
    """The verdict under the tenant's earlier decision on the same bytes (the precedent).

    A reviewer's decision binds: bytes cleared are allowed (the restored object included),
    bytes confirmed are taken down though their hashes are disputed or held since. Bytes
    whose review is pending are held with that review (`held_with`) rather than starting
    another. An automated takedown is named in the reasons, and the matches of now decide."""
    if precedent is None:
        return verdict
    earlier, ruling = precedent.case_id, precedent.ruling
    if earlier == case_id and ruling is not Ruling.ALLOWED:
        return verdict  # the case's own lifecycle decides
    if ruling is Ruling.ALLOWED:
        if verdict.action is Action.ALLOW:
            return verdict
        reason = (
            f"allow-listed: a reviewer cleared these bytes in case {earlier}; "
            "the matches below are overridden"
        )
        return _ruled(verdict, Action.ALLOW, reason)
    if ruling is Ruling.CONFIRMED:
        reason = f"a reviewer confirmed the takedown of these bytes in case {earlier}"
        if verdict.action is not Action.TAKEDOWN:
            reason += ": taken down again under that decision"
        return _ruled(verdict, Action.TAKEDOWN, reason)
    if ruling is Ruling.PENDING and verdict.action is Action.REVIEW:
        reason = f"the same bytes await review in case {earlier}: held with it until it is decided"
        return replace(_ruled(verdict, Action.REVIEW, reason), held_with=earlier)
    what = "await review" if ruling is Ruling.PENDING else "were taken down automatically"
    note = f"the same bytes {what} in case {earlier}"
    return replace(verdict, reasons=(*verdict.reasons, note))


def _ruled(verdict: Verdict, action: Action, reason: str) -> Verdict:
    return replace(verdict, action=action, reasons=(reason, *verdict.reasons))
