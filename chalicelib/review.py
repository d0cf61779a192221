"""Human review: what reviewers see and decide, and the steps of the workflow that need code.

The Step Functions workflow (`infra/resources.json`, `ReviewStateMachine`) drives each review:
it waits for a decision with a task token, then has it applied. Its steps that need code
arrive on the review-work queue and are handled here:

- ``await``: a task token to keep on the case until a reviewer decides (stage "first", when
  the review's start is recorded and reviewers are told, or "escalated" after an escalation
  or a timeout);
- ``apply``: a decision to carry out — confirm (hashes shared with provenance, statement of
  reasons recorded) or reject (object restored bit-identical, allow-listed for the tenant) —
  and then the tenant is told.

Escalation answers the token with the error `Cordon.Escalated`, which the workflow catches:
each state a review enters is billed, so the usual path (await, apply) has no Choice, audit
or notice states.

A decision answers the token exactly once: it is claimed on the case with a conditional
write before SendTaskSuccess, so a second decision is refused. Every reviewer belongs to one
tenant and can neither see nor decide another tenant's cases.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib import logs, signals
from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.hashes import HashTable
from chalicelib.adapters.storage import ObjectStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.adapters.workflow import ReviewWorkflow
from chalicelib.claims import (
    STUCK_AFTER_SECONDS,
    ClaimMove,
    after_token_gone,
    is_stuck,
    same_decision,
)
from chalicelib.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    ObjectReplacedError,
    RequestError,
    TaskTokenGoneError,
)
from chalicelib.lifecycle import Case, CaseStatus, Ruling
from chalicelib.models import HashRecord, Signal, Tenant, Visibility, now_iso
from chalicelib.notices import statement_of_reasons

logger = logs.logger

PENDING, ESCALATED = CaseStatus.PENDING_REVIEW, CaseStatus.ESCALATED
APPEAL_PENDING, DECIDING = CaseStatus.APPEAL_PENDING, CaseStatus.DECIDING
CONFIRMED, REINSTATED = CaseStatus.CONFIRMED, CaseStatus.REINSTATED
OPEN_STATUSES = (PENDING, ESCALATED, APPEAL_PENDING)
ACTIONS = ("confirm", "reject", "escalate")
APPEAL_SECONDS = 14 * 24 * 3600  # TCO Art 10: complaints decided within two weeks
ESCALATED_ERROR = "Cordon.Escalated"  # the error the workflow's AwaitDecision catches


@dataclass(frozen=True)
class Reviewer:
    tenant_id: str
    reviewer_id: str


def _seconds_between(start: str, end: str) -> int:
    return int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())


def _claimed(case: Case) -> dict[str, Any] | None:
    """The decision the case's claim holds the token for."""
    index = (case.claim or {}).get("decision_index")
    if index is None or index >= len(case.decisions):
        return None
    return case.decisions[index]


class Reviews:
    def __init__(
        self,
        cases: CaseStore,
        tenants: TenantRegistry,
        hashes: HashTable,
        store: ObjectStore,
        workflow: ReviewWorkflow,
        notify: Any = None,
        notify_reviewers: Any = None,
        max_image_pixels: int = 64_000_000,
    ) -> None:
        self.max_image_pixels = max_image_pixels
        self.cases = cases
        self.tenants = tenants
        self.hashes = hashes
        self.store = store
        self.workflow = workflow
        self.notify = notify  # callable(tenant_id, event dict); None: not told
        self.notify_reviewers = notify_reviewers  # the same, to the tenant's reviewers

    # -- starting a review -----------------------------------------------------------------
    def start(
        self,
        case_id: str,
        tenant_id: str,
        kind: str,
        timeout_seconds: int,
        excluded: list[str] | None = None,
        attempt: int = 1,
    ) -> str:
        """Start the workflow for a case; its execution is named after the case, so a retry
        of the same step finds the execution already running instead of starting another."""
        started = now_iso()
        deadline = datetime.fromisoformat(started) + timedelta(seconds=timeout_seconds)
        name = f"{case_id}-{kind}-{attempt}"
        arn = self.workflow.execution_arn(name)
        # Written before the execution starts: its first step (the token) updates this.
        self.cases.update_fields(
            case_id,
            {
                "review": {
                    "kind": kind,
                    "execution_arn": arn,
                    "started_at": started,
                    "deadline": deadline.isoformat(timespec="milliseconds"),
                    "excluded": excluded or [],
                    "attempt": attempt,
                }
            },
        )
        self.workflow.start(
            name,
            {
                "case_id": case_id,
                "tenant_id": tenant_id,
                "kind": kind,
                "timeout_seconds": timeout_seconds,
            },
        )
        self.cases.audit(case_id, f"{kind}_requested", {"execution_arn": arn})
        return arn

    # -- the workflow's steps that need code ----------------------------------------------
    def handle_work(self, message: dict[str, Any]) -> None:
        if message["kind"] == "await":
            self._await(message)
        elif message["kind"] == "apply":
            self._apply(message)
        else:
            raise RequestError(f"unknown review work {message['kind']!r}")

    def _await(self, message: dict[str, Any]) -> None:
        case_id = message["case_id"]
        case = self._get(case_id)
        review = dict(case.review or {})
        if message["stage"] == "escalated":
            status = ESCALATED
        else:
            status = APPEAL_PENDING if message.get("review_kind") == "appeal" else PENDING
        if message["stage"] == "first" and review.get("token") != message["task_token"]:
            # The workflow's start, recorded and announced here rather than by states of
            # their own (each state entered is billed); before the token is kept, so a
            # redelivered message may do it twice but a failure in between never loses it.
            self.cases.audit(case_id, "review_started", {"execution": message["execution"]})
            if self.notify_reviewers:
                self.notify_reviewers(
                    case.tenant_id,
                    {
                        "event": "review_needed",
                        "case_id": case_id,
                        "kind": message.get("review_kind", "review"),
                    },
                )
        review.update(
            {"token": message["task_token"], "stage": message["stage"], "waiting_since": now_iso()}
        )
        fields: dict[str, Any] = {"review": review}
        claimed = _claimed(case)
        if review.pop("claim", None) and claimed and claimed["action"] != "escalate":
            # A confirm or reject the workflow never took (the review timed out first, and
            # this await is the escalation's): it is no decision of the case.
            decisions = list(case.decisions)
            decisions.remove(claimed)
            fields["decisions"] = decisions
            self.cases.audit(
                case_id,
                "decision_undone",
                {"action": claimed["action"], "error": "the review timed out before it"},
            )
        self.cases.set_status(case_id, status, fields)
        if message["stage"] == "escalated" and self._timed_out(case_id):
            logger.warning("review deadline passed: escalated", extra={"case_id": case_id})
            self.cases.audit(case_id, "deadline_breached", {"deadline": review.get("deadline")})
            logs.count("ReviewDeadlineBreached", "review")
            if self.notify:
                self.notify(
                    case.tenant_id, {"event": "review_deadline_breached", "case_id": case_id}
                )

    def _timed_out(self, case_id: str) -> bool:
        return any(row["event"] == "review_timed_out" for row in self.cases.audit_trail(case_id))

    def _apply(self, message: dict[str, Any]) -> None:
        case_id = message["case_id"]
        case = self._get(case_id)
        decision = message["decision"]
        if decision["action"] == "confirm":
            result = self._confirm(case, decision)
        else:
            result = self._reinstate(case, decision)
        if self.notify:  # once applied, before the workflow ends (no state of its own)
            self.notify(
                case.tenant_id,
                {"event": "review_decided", "case_id": case_id, "action": decision["action"]},
            )
        self.workflow.succeed(message["task_token"], result)

    def _confirm(self, case: Case, decision: dict[str, Any]) -> dict[str, Any]:
        case_id, tenant_id = case.case_id, case.tenant_id
        labels = tuple(sorted(set(decision.get("labels") or []) | set(case.labels)))
        # Shared as widely as the tenant's policy says: all, its groups, or itself alone.
        tenant = self.tenants.get(tenant_id) or Tenant(tenant_id)
        visibility = Visibility(tenant.policy.share_visibility)
        groups = tenant.groups if visibility == Visibility.GROUPS else ()
        shared = [
            signal
            for signal in case.signals
            if signal.get("variant", "original") == "original"
            and signals.usable(Signal.from_dict(signal))
        ]
        stored = self._stored_variants(case, shared)
        # The image's own PDQ lists its stored variants (they are retired with it), and each
        # names it back (it is disputed, held and allow-listed as the image).
        stored_values = tuple(v["value"] for v in stored)
        own_pdq = next((s["value"] for s in shared if s["type"] == "pdq"), None)

        def record(signal: dict[str, Any], **links: Any) -> HashRecord:
            return HashRecord(
                signal_type=signal["type"],
                value=signal["value"],
                labels=labels,
                source=tenant_id,
                case_id=case_id,
                added_at=decision["at"],
                confirmed_by=decision["reviewer"],
                visibility=visibility,
                groups=groups,
                variant=signal.get("variant", "original"),
                **links,
            )

        own = [
            record(s, stored_variants=stored_values if s["type"] == "pdq" else ()) for s in shared
        ]
        records = [*own, *(record(s, variant_of=own_pdq) for s in stored)]
        self.hashes.put(records, keep_holds=True)
        self.cases.audit(
            case_id,
            "hashes_shared",
            {"hashes": [f"{r.signal_type}:{r.value}" for r in records], "labels": list(labels)},
        )
        fresh = self._get(case_id)
        self.cases.set_precedent(tenant_id, fresh.sha256 or "", case_id, Ruling.CONFIRMED)
        for attached in self._attached(fresh):
            self._follow(attached, fresh, CONFIRMED, "removed")
        notice = statement_of_reasons(fresh.to_dict(), "removed")
        self.cases.set_status(case_id, CONFIRMED, {"notice": notice})
        self.cases.audit(case_id, "notice_recorded", {"outcome": "removed"})
        return {"outcome": CONFIRMED, "hashes_shared": len(records)}

    def _attached(self, case: Case) -> list[Case]:
        """The cases of the same bytes uploaded again while this one awaited its review."""
        found = (self.cases.get(case_id) for case_id in case.attached)
        return [c for c in found if c is not None and c.status is CaseStatus.ATTACHED]

    def _follow(self, attached: Case, decided: Case, status: CaseStatus, outcome: str) -> None:
        """An attached case takes the decision of the case it was held with: its uploader gets
        the same statement, with the decision's reasons."""
        case_id = attached.case_id
        if status is REINSTATED:
            self._restore(attached)
        decisions = list(decided.decisions)
        notice = statement_of_reasons({**attached.to_dict(), "decisions": decisions}, outcome)
        self.cases.set_status(case_id, status, {"notice": notice, "decisions": decisions})
        self.cases.audit(case_id, "decision_followed", {"case_id": decided.case_id})

    def _stored_variants(self, case: Case, own: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """PDQ hashes of crops, masked copies and anchored windows of the confirmed image, to
        store beside its own: copies cropped (evenly or not) or captioned over match them (as
        variants, REVIEW by default).
        None that equals the image's own hash or another shared hash (an original stays an
        original: a simple picture's slight crop can hash the same as the picture)."""
        if not case.evidence:
            return []
        data = self.store.read_evidence(case.evidence)
        found: dict[tuple[str, str], Signal] = {}
        for signal in signals.shared_variant_signals(data, self.max_image_pixels):
            if signals.usable(signal):
                found.setdefault((signal.type, signal.value), signal)
        for mine in own:
            found.pop((mine["type"], mine["value"]), None)
        taken = self.hashes.get_many(list(found), consistent=True)
        return [s.to_dict() for key, s in found.items() if key not in taken]

    def _reinstate(self, case: Case, decision: dict[str, Any]) -> dict[str, Any]:
        case_id, tenant_id = case.case_id, case.tenant_id
        obj = case.object
        sha256 = case.sha256 or ""
        version = self._restore(case)
        self.cases.audit(
            case_id,
            "reinstated",
            {"bucket": obj["bucket"], "key": obj["key"], "version_id": version, "sha256": sha256},
        )
        # These bytes are cleared for this tenant wherever they are uploaded again.
        self.cases.set_precedent(tenant_id, sha256, case_id, Ruling.ALLOWED)
        fresh = self._get(case_id)
        for attached in self._attached(fresh):
            self._follow(attached, fresh, REINSTATED, "restored")
        notice = statement_of_reasons(fresh.to_dict(), "restored")
        self.cases.set_status(
            case_id, REINSTATED, {"notice": notice, "reinstated_version": version}
        )
        self.cases.audit(case_id, "notice_recorded", {"outcome": "restored"})
        return {"outcome": REINSTATED, "version_id": version}

    def _restore(self, case: Case) -> str:
        """The evidence back at its key, unless a newer upload is there (never overwritten:
        the decision stands, the audit says why the bytes were not written back)."""
        obj = case.object
        try:
            return self.store.reinstate(
                case.evidence or {}, obj["bucket"], obj["key"], case.sha256 or "", case.created_at
            )
        except ObjectReplacedError as error:
            self.cases.audit(case.case_id, "restore_skipped", {"reason": str(error)})
            return ""

    # -- what reviewers do -----------------------------------------------------------------
    def _get(self, case_id: str) -> Case:
        case = self.cases.get(case_id)
        if case is None:
            raise NotFoundError(f"no case {case_id}")
        return case

    def _case_for(self, reviewer: Reviewer, case_id: str) -> Case:
        case = self._get(case_id)
        if case.tenant_id != reviewer.tenant_id:
            # The very answer an unknown id gets: a 403 would tell that the case exists.
            raise NotFoundError(f"no case {case_id}")
        return case

    def queue(
        self, reviewer: Reviewer, status: str | None = None, label: str | None = None
    ) -> list[dict[str, Any]]:
        """Cases waiting for a decision, oldest first, with time waited and time left."""
        statuses = [status] if status else list(OPEN_STATUSES)
        now = now_iso()
        rows = []
        for wanted in statuses:
            for case in self.cases.for_tenant(reviewer.tenant_id, wanted):
                review = case.review or {}
                labels = case.labels
                if label and label not in labels:
                    continue
                started = review.get("started_at", case.created_at)
                rows.append(
                    {
                        "case_id": case.case_id,
                        "status": case.status.value,
                        "kind": review.get("kind", "review"),
                        "object": case.uri,
                        "verdict": case.verdict.action.value if case.verdict else None,
                        "labels": labels,
                        "waiting_seconds": _seconds_between(started, now),
                        "deadline": review.get("deadline"),
                        "seconds_left": _seconds_between(now, review["deadline"])
                        if review.get("deadline")
                        else None,
                        "started_at": started,
                        "can_decide": case.may_decide(reviewer.reviewer_id),
                    }
                )
        return sorted(rows, key=lambda row: row["started_at"])

    def view(self, reviewer: Reviewer, case_id: str) -> dict[str, Any]:
        case = self._case_for(reviewer, case_id)
        whole = case.to_dict()
        view = {
            k: whole.get(k)
            for k in (
                "case_id",
                "tenant_id",
                "status",
                "created_at",
                "object",
                "signals",
                "verdict",
                "history",
                "decisions",
                "notice",
            )
        }
        review = dict(case.review or {})
        review.pop("token", None)  # the token is the workflow's, never the client's
        if "claim" in review:
            review["claim"] = {k: v for k, v in review["claim"].items() if k != "token"}
        view["review"] = review
        view["audit"] = self.cases.audit_trail(case_id)
        if case.evidence:
            view["image_url"] = self.store.presigned_evidence_url(case.evidence)
        return view

    def decide(
        self,
        reviewer: Reviewer,
        case_id: str,
        action: str,
        reason: str = "",
        labels: list[str] | None = None,
    ) -> dict[str, Any]:
        if action not in ACTIONS:
            raise RequestError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        case = self._case_for(reviewer, case_id)
        review = case.review or {}
        token = case.token
        if case.status is CaseStatus.ATTACHED:
            raise ConflictError(
                f"case {case_id} holds a copy of the bytes of case {case.attached_to}, "
                "whose decision it follows: decide that case"
            )
        if case.status is DECIDING and case.claim:
            return self._decide_again(reviewer, case, action)
        if not case.status.awaits_review or not token:
            raise ConflictError(
                f"case {case_id} is not waiting for a decision "
                f"(status {case.status}): it was already decided"
            )
        if not case.may_decide(reviewer.reviewer_id):
            raise ForbiddenError(
                "a second reviewer must decide this case: you escalated it "
                "or took the decision under appeal"
            )
        if action == "escalate" and review.get("stage") == "escalated":
            raise RequestError("the case is already escalated: confirm or reject it")
        decision = {
            "action": action,
            "reviewer": reviewer.reviewer_id,
            "reason": reason,
            "labels": list(labels or []),
            "at": now_iso(),
            "stage": review.get("stage"),
            "kind": review.get("kind"),
        }
        # An escalation too is `deciding` until the workflow's second await gives the case its
        # next token: every claim is where the sweeper looks, none sits in the queue undecidable.
        exclude = reviewer.reviewer_id if action == "escalate" else None
        claim = {
            "back_to": case.status.value,
            "decision_index": len(case.decisions),
            "excluded_index": len(case.excluded) if exclude else None,
        }
        if not self.cases.claim_decision(case_id, token, decision, DECIDING, exclude, claim):
            raise ConflictError(f"case {case_id} was decided by someone else just now")
        move = self._answer(case, {**claim, "token": token}, decision, reraise=True)
        return self._decided(case_id, move, decision)

    def _decide_again(self, reviewer: Reviewer, case: Case, action: str) -> dict[str, Any]:
        """A reviewer sending again the decision they claimed (the answer to it was lost):
        it is sent to the workflow again; anyone else's decision is refused as before."""
        claim = case.claim or {}
        decision = _claimed(case)
        if not same_decision(decision, reviewer.reviewer_id, action):
            raise ConflictError(
                f"case {case.case_id} was already decided (status {case.status}): "
                "the decision is being applied"
            )
        move = self._answer(case, claim, decision or {}, reraise=True, seen_before=True)
        return self._decided(case.case_id, move, decision or {})

    def _decided(self, case_id: str, move: ClaimMove, decision: dict[str, Any]) -> dict[str, Any]:
        if move is ClaimMove.RESTARTED:
            raise ConflictError(
                f"case {case_id}'s review had ended before the decision reached it: "
                "a new review is started, decide again"
            )
        return {"case_id": case_id, "status": DECIDING, "decision": decision}

    def _answer(
        self,
        case: Case,
        claim: dict[str, Any],
        decision: dict[str, Any],
        reraise: bool = False,
        seen_before: bool = False,
    ) -> ClaimMove:
        """Send the claimed decision to the workflow, and settle the claim by its answer."""
        case_id, token = case.case_id, claim["token"]
        actor = decision.get("reviewer", "cordon")
        try:
            if decision["action"] == "escalate":
                # The workflow catches this error and waits for a second reviewer: a branch
                # without a Choice state, so confirm and reject go straight to being applied.
                self.workflow.fail(token, ESCALATED_ERROR, json.dumps(decision))
            else:
                self.workflow.succeed(token, decision)
        except TaskTokenGoneError as error:
            execution = (case.review or {}).get("execution_arn", "")
            move = after_token_gone(self.workflow.status(execution))
            if move is ClaimMove.RESTARTED:
                self._restart(case, claim, decision, f"{type(error).__name__}: {error}")
                return move
            if not seen_before or not self._audited(case_id, decision):
                self.cases.audit(case_id, "decision", decision, actor=actor)
            return move
        except Exception as error:
            # The workflow did not take the answer: give the token back, so the case is not
            # left deciding with nobody able to decide it (the reviewer may try again).
            self._release(case_id, claim, decision, f"{type(error).__name__}: {error}")
            if reraise:
                raise
            return ClaimMove.RELEASED
        if not seen_before or not self._audited(case_id, decision):
            self.cases.audit(case_id, "decision", decision, actor=actor)
        return ClaimMove.ANSWERED

    def _audited(self, case_id: str, decision: dict[str, Any]) -> bool:
        return any(
            row["event"] == "decision" and row.get("detail", {}).get("at") == decision.get("at")
            for row in self.cases.audit_trail(case_id)
        )

    def _release(
        self,
        case_id: str,
        claim: dict[str, Any],
        decision: dict[str, Any],
        error: str,
        token_back: bool = True,
    ) -> bool:
        """The claim undone (audit `decision_undone`); False if the case moved since."""
        released = self.cases.release_decision(
            case_id,
            claim["token"],
            claimed=DECIDING,
            back_to=claim["back_to"],
            decision_index=claim["decision_index"],
            excluded_index=claim.get("excluded_index"),
            give_token_back=token_back,
        )
        if released:
            self.cases.audit(
                case_id,
                "decision_undone",
                {"action": decision.get("action"), "error": error},
                actor=decision.get("reviewer", "cordon"),
            )
        return released

    def _restart(
        self, case: Case, claim: dict[str, Any], decision: dict[str, Any], error: str
    ) -> None:
        """The execution ended without the decision: undone, and a new review started, whose
        first await brings the case a live token (the token kept is dead)."""
        if not self._release(case.case_id, claim, decision, error, token_back=False):
            return  # something else moved the case since it was read
        review = case.review or {}
        kind = review.get("kind", "review")
        excluded = list(case.excluded)
        index = claim.get("excluded_index")
        if index is not None and index < len(excluded):
            del excluded[index]  # the escalation undone is no exclusion
        tenant = self.tenants.get(case.tenant_id) or Tenant(case.tenant_id)
        seconds = APPEAL_SECONDS if kind == "appeal" else tenant.policy.review_timeout_seconds
        attempt = int(review.get("attempt", 1)) + 1
        self.start(case.case_id, case.tenant_id, kind, seconds, excluded, attempt)

    def sweep_claims(self, older_than_seconds: float = STUCK_AFTER_SECONDS) -> list[dict[str, str]]:
        """Decisions stuck `deciding` (the answer to the claim, or the Lambda, lost): each
        claimed longer ago than `older_than_seconds` is sent to the workflow again and settled
        by its answer (`ClaimMove`). One query of the status index per tenant."""
        now = now_iso()
        before = datetime.fromisoformat(now) - timedelta(seconds=older_than_seconds)
        swept = []
        for tenant in self.tenants.all():
            stuck = self.cases.claimed_before(
                tenant.tenant_id, before.isoformat(timespec="milliseconds")
            )
            for case in stuck:
                if not is_stuck(case.claim, now, older_than_seconds):
                    continue
                decision = _claimed(case)
                if decision is None:
                    logger.error("claim names no decision", extra={"case_id": case.case_id})
                    continue
                try:
                    move = self._answer(case, case.claim or {}, decision, seen_before=True)
                except Exception as error:
                    logger.exception("stuck decision not settled", extra={"case_id": case.case_id})
                    move_name = f"failed: {type(error).__name__}"
                else:
                    move_name = move.value
                logger.warning(
                    "stuck decision swept", extra={"case_id": case.case_id, "move": move_name}
                )
                swept.append(
                    {"case_id": case.case_id, "tenant_id": tenant.tenant_id, "move": move_name}
                )
        return swept

    def appeal(self, reviewer: Reviewer, case_id: str, reason: str) -> dict[str, Any]:
        """The tenant, for its uploader, contests a takedown: a new review by someone else."""
        case = self._case_for(reviewer, case_id)
        if not case.appealable:
            raise ConflictError(
                f"case {case_id} is {case.status}: only a takedown that stands can be appealed"
            )
        earlier = case.reviewers_so_far
        attempt = int((case.review or {}).get("attempt", 0)) + 1
        self.cases.audit(case_id, "appealed", {"reason": reason}, actor=reviewer.reviewer_id)
        arn = self.start(
            case_id, case.tenant_id, "appeal", APPEAL_SECONDS, excluded=earlier, attempt=attempt
        )
        return {
            "case_id": case_id,
            "execution_arn": arn,
            "deadline_days": 14,
            "excluded_reviewers": earlier,
        }

    def statement(self, reviewer: Reviewer, case_id: str) -> dict[str, Any]:
        case = self._case_for(reviewer, case_id)
        if case.notice:
            return case.notice
        if case.status is CaseStatus.QUARANTINED:
            return statement_of_reasons(case.to_dict(), "removed")
        raise NotFoundError(f"case {case_id} has no decision to explain yet ({case.status})")


def handle_work_batch(
    reviews: Reviews, event: dict[str, Any], max_receives: int, context: Any = None
) -> dict[str, Any]:
    """The review-work queue's consumer: partial batch failures, and a step that keeps failing
    is reported to the workflow (SendTaskFailure) so the execution does not hang."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    def record_handler(record: Any) -> None:
        message = json.loads(record.body)
        try:
            reviews.handle_work(message)
        except Exception as error:
            receives = int(record.attributes.approximate_receive_count or 1)
            logger.exception(
                "review step failed",
                extra={"case_id": message.get("case_id"), "receives": receives},
            )
            if receives < max_receives or message.get("kind") != "apply":
                raise
            reviews.cases.audit(
                message["case_id"], "decision_failed", {"error": f"{type(error).__name__}: {error}"}
            )
            reviews.workflow.fail(
                message["task_token"], "Cordon.ApplyFailed", f"{type(error).__name__}: {error}"
            )

    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
