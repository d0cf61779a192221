"""One object, from event to verdict to action: the shell around the pure core.

Order of the quarantine, so that a failure at any step leaves the original where it was:
open the case -> write the evidence copy and check its SHA-256 -> remove the original ->
mark the case quarantined. A retry finds the case by its deterministic id and resumes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib import lifecycle, logs, matching, policy, signals
from chalicelib.adapters.classifier import Classifier
from chalicelib.adapters.flood import FloodGuard
from chalicelib.adapters.storage import Fetched, ObjectHead
from chalicelib.errors import (
    CordonError,
    ObjectGoneError,
    ObjectReplacedError,
    UnknownTenantError,
)
from chalicelib.lifecycle import Case, CaseStatus, Ruling, Step
from chalicelib.models import (
    HELD,
    Action,
    Examination,
    Match,
    ObjectRef,
    Outcome,
    Result,
    Tenant,
    Verdict,
)
from chalicelib.notices import statement_of_reasons
from chalicelib.ports import Cases, Objects, SharedHashes, Tenants
from chalicelib.review import Reviews
from chalicelib.settings import Settings

logger = logs.logger

STAGES = ("fetch", "hash", "match", "act")
# S3's longest key, in UTF-8 bytes: the evidence key adds the tenant and case in front of the
# tenant's own key, which may already be this long.
MAX_KEY_BYTES = 1024


def evidence_key_for(tenant_id: str, case_id: str, key: str) -> str:
    """Where a case's evidence copy goes: `<tenant>/<case>/<the original key>`, readable in
    the bucket; when that passes S3's 1,024 bytes, the key's end (its file name) behind a hash
    of the whole key, so every key S3 accepts can be quarantined (the case keeps the key)."""
    whole = f"{tenant_id}/{case_id}/{key}"
    if len(whole.encode()) <= MAX_KEY_BYTES:
        return whole
    prefix = f"{tenant_id}/{case_id}/{hashlib.sha256(key.encode()).hexdigest()[:16]}-"
    room = MAX_KEY_BYTES - len(prefix.encode())
    tail = key.encode()[-room:].decode("utf-8", errors="ignore")
    return prefix + tail


def _quarantines(case: Case | None) -> int:
    """The quarantine a case in (or just out of) quarantine is in; cases opened before they
    were counted are in their first."""
    return (case.quarantines if case else 0) or 1


def _once(quarantines: int) -> str:
    """The occurrence that audit rows written once per quarantine belong to."""
    return f"q{quarantines}"


@dataclass
class Timer:
    """Milliseconds spent per stage of one object."""

    stages: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + (time.perf_counter() - start) * 1e3


@dataclass
class Pipeline:
    settings: Settings
    store: Objects
    hashes: SharedHashes
    cases: Cases
    tenants: Tenants
    classifier_factory: Callable[[], Classifier] | None = None
    reviews: Reviews | None = None
    flood_guard: FloodGuard | None = None
    _classifier: Classifier | None = field(default=None, init=False, repr=False)

    # -- the steps ------------------------------------------------------------------------
    def identify(self, ref: ObjectRef) -> ObjectRef:
        """Fill in the ETag when the event named neither version nor ETag (replay by key)."""
        if ref.identity:
            return ref
        try:
            head = self.store.head(ref)
        except ObjectGoneError:
            return ref  # `process` records it as gone
        return replace(ref, etag=head.etag, version_id=head.version_id)

    def present(self, ref: ObjectRef) -> bool:
        """Whether the object (this version, or these bytes) is in the bucket now."""
        try:
            self.store.head(ref)
        except ObjectGoneError:
            return False
        return True

    def process(self, ref: ObjectRef, force: bool = False) -> Result:
        """Judge one object and act on the verdict, at most once per upload.

        What is left to do comes from the object's case and whether the object is in the
        bucket now (`lifecycle.next_step`): a removed object that is back is removed again,
        an interrupted quarantine resumes, an object already handled is left alone.
        `force` re-evaluates an object already handled (after a threshold change or a new
        shared hash): an allowed object that now matches is quarantined, in its one case;
        one still held gets its verdict updated and audited, and nothing else is done.
        """
        timer = Timer()
        tenant = self.tenants.for_bucket(ref.bucket)
        if tenant is None:
            logger.error("bucket belongs to no tenant: event rejected", extra={"object": ref.uri})
            return Result(Outcome.NO_TENANT, ref, detail=f"no tenant owns bucket {ref.bucket}")
        case_id = ref.case_id(tenant.tenant_id)
        # A case exists already only for a re-upload, a retry, a replay after the idempotency
        # record has expired, or a forced re-evaluation. Ingest does not read it first (a
        # consistent read for every object, for the rare retry): an allowed object's
        # conditional create finds it, and only then, or for a verdict to act on, is it read.
        # Forced runs nearly always meet their case: they read it first.
        existing = self.cases.get(case_id) if force else None
        known = force
        try:
            with timer.stage("fetch"):
                fetched = self.store.fetch(ref, self.settings.max_object_bytes)
            with timer.stage("hash"):
                examination = self._examine(fetched)
        except ObjectGoneError as gone:
            if not known:
                if self._record_gone(tenant, ref, case_id, str(gone)):
                    return Result(Outcome.GONE, ref, tenant.tenant_id, case_id, detail=str(gone))
                existing = self.cases.get(case_id)  # a retry or a replay: the case was there
            return self._carry_out_absent(tenant, ref, case_id, existing, force, str(gone), timer)
        with timer.stage("match"):
            verdict = self._judge(tenant, examination, case_id, count=True)
        if not known:
            with timer.stage("act"):
                opened = verdict.action is Action.ALLOW and self.cases.open(
                    case_id,
                    tenant.tenant_id,
                    CaseStatus.ALLOWED,
                    self._case_fields(ref, fetched.head, examination, verdict),
                )
            if opened:
                result = Result(Outcome.ALLOWED, ref, tenant.tenant_id, case_id, verdict, ref.uri)
                return replace(result, timings=timer.stages)
            existing = self.cases.get(case_id)
        sha256 = examination.signal("sha256")
        other = existing and sha256 and existing.sha256 not in (None, sha256.value)
        if other and ref.content is None and sha256:
            # The key holds other bytes under this case's ETag: an MD5 collision, which an
            # uploader can craft to hide a file behind a case already settled. They are
            # judged as the object they are, in a case named by their SHA-256 too.
            return self.process(ref.holding(sha256.value), force)
        step = lifecycle.next_step(existing.state if existing else None, True, force)
        with timer.stage("act"):
            if step is Step.FINISH_REMOVAL:
                result = self._finish_quarantine(tenant, ref, case_id, existing)
            elif step is Step.REMOVE_AGAIN:
                result = self._remove_again(tenant, ref, case_id, existing, fetched, examination)
            else:  # JUDGE, REJUDGE, RESUME_QUARANTINE: act on the verdict, in the one case
                result = self._act(
                    tenant, ref, case_id, fetched, examination, verdict, existing, force
                )
        return replace(result, timings=timer.stages)

    def _carry_out_absent(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        existing: Case | None,
        force: bool,
        why: str,
        timer: Timer,
    ) -> Result:
        """What is left to do for a case whose object is not in the bucket."""
        step = lifecycle.next_step(existing.state if existing else None, False, force)
        if existing is None:  # forced, and never seen: record it (RECORD_GONE)
            self._record_gone(tenant, ref, case_id, why)
            return Result(Outcome.GONE, ref, tenant.tenant_id, case_id, detail=why)
        with timer.stage("act"):
            if step is Step.FINISH_REMOVAL:
                result = self._finish_quarantine(tenant, ref, case_id, existing)
            elif step is Step.REJUDGE_HELD:
                result = self._reevaluate_held(tenant, ref, case_id, existing)
            elif step is Step.MARK_GONE:
                # The row first: a retry after the status would find the case done.
                once = _once(_quarantines(existing))
                self.cases.audit(case_id, "gone", {"reason": why}, once=once)
                self.cases.set_status(case_id, CaseStatus.GONE, {"detail": why})
                result = Result(Outcome.GONE, ref, tenant.tenant_id, case_id, detail=why)
            else:
                result = Result(
                    Outcome.ALREADY_HANDLED,
                    ref,
                    tenant.tenant_id,
                    case_id,
                    detail=f"case already {existing.status}",
                )
        return replace(result, timings=timer.stages)

    def evaluate(self, ref: ObjectRef) -> tuple[Tenant, Examination, Verdict, str]:
        """The verdict the object would get now, touching nothing (dry runs).

        Reads the object in the bucket, or, when it is not there, its evidence copy if it is
        held. Raises UnknownTenantError or ObjectGoneError when there is nothing to judge.
        """
        tenant = self.tenants.for_bucket(ref.bucket)
        if tenant is None:
            raise UnknownTenantError(f"no tenant owns bucket {ref.bucket}")
        case_id = ref.case_id(tenant.tenant_id)
        try:
            fetched = self.store.fetch(ref, self.settings.max_object_bytes)
        except ObjectGoneError:
            case = self.cases.get(case_id) if ref.identity else None
            if not (case and case.evidence):
                raise
            data = self.store.read_evidence(case.evidence)
            examination, verdict = self.examine_and_judge(tenant, data, case_id)
            return tenant, examination, verdict, "evidence copy"
        examination = self._examine(fetched)
        return tenant, examination, self._judge(tenant, examination, case_id), ref.uri

    def _reevaluate_held(self, tenant: Tenant, ref: ObjectRef, case_id: str, case: Case) -> Result:
        data = self.store.read_evidence(case.evidence or {})
        _, verdict = self.examine_and_judge(tenant, data, case_id)
        before = case.verdict.action.value if case.verdict else "?"
        self.cases.update_fields(case_id, {"verdict": verdict.to_dict()})
        self.cases.audit(case_id, "re-evaluated", {"before": before, "after": verdict.action.value})
        detail = (
            f"re-evaluated: was {before}, now {verdict.action.value}; the object stays held "
            f"({case.status}) until a reviewer decides"
        )
        return Result(
            Outcome.ALREADY_HANDLED, ref, tenant.tenant_id, case_id, verdict, detail=detail
        )

    def examine_and_judge(
        self, tenant: Tenant, data: bytes, case_id: str | None = None
    ) -> tuple[Examination, Verdict]:
        """The verdict bytes would get (`cordon compare`, evidence copies), touching nothing;
        `case_id` is the case they belong to, whose own ruling is not a precedent for them."""
        examination = signals.examine_bytes(data, self.settings.max_image_pixels)
        return examination, self._judge(tenant, examination, case_id)

    def _examine(self, fetched: Fetched) -> Examination:
        if fetched.data is None:
            # Over the cap: the rest of the same GET is streamed through the exact hashers.
            size = fetched.head.size
            reason = (
                f"object of {size:,} bytes exceeds the size cap of "
                f"{self.settings.max_object_bytes:,}: streamed for exact hashes only"
            )
            return signals.examine_stream(fetched.chunks(), size, reason)
        return signals.examine_bytes(fetched.data, self.settings.max_image_pixels)

    def _judge(
        self,
        tenant: Tenant,
        examination: Examination,
        case_id: str | None = None,
        count: bool = False,
    ) -> Verdict:
        """The verdict under the tenant's policy and its earlier decision on the same bytes
        (the precedent of another case than `case_id`). `count` (real processing, not a dry
        run) counts the matches for the flood guard, which may hold a hash right then."""
        rules = tenant.policy
        distances = policy.match_distances(rules, self.settings.match_distances)
        matches = matching.find_matches(
            examination.signals,
            self.hashes.get_many,
            self.hashes.index,
            distances,
            visible=lambda record: record.visible_to(tenant),
        )
        overrides: list[str] = []
        if matches:
            matches, overrides = self._tenant_overrides(tenant, matches)
        if count and matches and self.flood_guard is not None:
            held = self.flood_guard.count(matches)
            matches = [replace(m, status=HELD) if m.image_key in held else m for m in matches]
        scores = []
        if rules.classifier_enabled and not matches and examination.image_bytes:
            scores = self._get_classifier().classify(examination.image_bytes)
        verdict = policy.decide(rules, examination, matches, scores, distances)
        if overrides:
            verdict = replace(verdict, reasons=(*verdict.reasons, *overrides))
        sha256 = examination.signal("sha256")
        if verdict.action is not Action.ALLOW and sha256 is not None:
            # Bytes this tenant's reviewers decided on follow that decision; copies of bytes
            # under review are held with it. Read only for a verdict to act on: an allowed
            # upload of bytes a reviewer confirmed does not occur while their shared exact
            # hash stands (an operator who retires it has decided), so every other upload
            # costs no read and no round trip.
            precedent = self.cases.precedent(tenant.tenant_id, sha256.value)
            verdict = lifecycle.follow_precedent(verdict, precedent, case_id)
        return verdict

    def _tenant_overrides(
        self, tenant: Tenant, matches: list[Match]
    ) -> tuple[list[Match], list[str]]:
        """Matches left once the tenant's private allow-list of shared hashes is applied, and
        a reason for each one it overrode. Allowing an image's hash allows the crops and
        masked copies stored with it."""
        keys = {key for m in matches for key in ((m.signal_type, m.matched_value), m.image_key)}
        allowed = self.tenants.allowed_hashes(tenant.tenant_id, keys)
        if not allowed:
            return matches, []
        kept = [
            m
            for m in matches
            if (m.signal_type, m.matched_value) not in allowed and m.image_key not in allowed
        ]
        notes = [
            f"shared hash {key[0]} {key[1][:16]}… is on this tenant's allow-list "
            f"(by {entry.get('by', '?')}: {entry.get('reason') or 'no reason given'}): ignored"
            for key, entry in allowed.items()
        ]
        return kept, notes

    def _get_classifier(self) -> Classifier:
        if self._classifier is None:
            if self.classifier_factory is None:
                raise CordonError("a tenant enabled the classifier but none is configured")
            self._classifier = self.classifier_factory()
        return self._classifier

    # -- acting on the verdict -----------------------------------------------------------
    def _case_fields(
        self, ref: ObjectRef, head: ObjectHead, examination: Examination, verdict: Verdict
    ) -> dict[str, Any]:
        return {
            "object": {
                **ref.to_dict(),
                "media_type": examination.media_type,
                "size": examination.size,
                "content_type": head.content_type,
            },
            # The upload's own signals (its variants are derived again when needed), so
            # without the variant name every one of them would carry (readers default it).
            # The SHA-256 is kept once, on its own (cases written so far hold it there; the
            # case store puts it back among the signals on read). Each byte counts: an allowed
            # case is billed per KB in the table and in its index (by_tenant_status).
            "signals": [
                {k: v for k, v in s.to_dict().items() if k != "variant"}
                for s in examination.signals
                if s.variant == "original" and s.type != "sha256"
            ],
            "sha256": next(s.value for s in examination.signals if s.type == "sha256"),
            "verdict": verdict.to_dict(),
        }

    def _act(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        fetched: Fetched,
        examination: Examination,
        verdict: Verdict,
        existing: Case | None,
        force: bool,
    ) -> Result:
        """Act on the verdict: open the case (or move the one there on), store the evidence,
        remove the original."""
        fields = self._case_fields(ref, fetched.head, examination, verdict)
        before = existing.status if existing is not None else None
        kept = before in (CaseStatus.ALLOWED, CaseStatus.REINSTATED)
        if verdict.action is Action.ALLOW:
            if before is None:
                self.cases.open(case_id, tenant.tenant_id, CaseStatus.ALLOWED, fields)
            elif kept and not force:
                # Judged again (a re-upload, or a delivery past idempotency): nothing changed.
                return Result(
                    Outcome.ALREADY_HANDLED,
                    ref,
                    tenant.tenant_id,
                    case_id,
                    verdict,
                    detail=f"case already {before}",
                )
            elif kept:
                self.cases.update_fields(case_id, fields)
                self.cases.audit(case_id, "re-evaluated", {"before": "ALLOW", "after": "ALLOW"})
            else:  # GONE, and back in the bucket
                self.cases.set_status(case_id, CaseStatus.ALLOWED, fields)
                self.cases.audit(case_id, "reappeared", {"after": "ALLOW"})
            return Result(Outcome.ALLOWED, ref, tenant.tenant_id, case_id, verdict, ref.uri)
        # Each step is written so that a retry (after a crash, a lost answer, or beside a
        # concurrent delivery) can do it again: rows once per quarantine, the evidence once.
        if before is None:
            count = 1
            opened = self.cases.open(
                case_id, tenant.tenant_id, CaseStatus.QUARANTINING, {**fields, "quarantines": 1}
            )
            if not opened:  # opened between our read and now: a concurrent delivery
                self.cases.audit(case_id, "retry", {"reason": "a concurrent delivery opened it"})
        elif before is CaseStatus.QUARANTINING:
            count = _quarantines(existing)
            self.cases.audit(case_id, "retry", {"reason": "earlier attempt did not finish"})
        else:
            # Allowed, reinstated or gone before, and now to act on: the one case moves on,
            # its row first (a retry after the move finds the case quarantining).
            count = (existing.quarantines if existing else 0) + 1
            self.cases.audit(
                case_id,
                "re-evaluated",
                {"before": str(before), "after": verdict.action.value},
                once=_once(count),
            )
            self.cases.set_status(
                case_id, CaseStatus.QUARANTINING, {**fields, "quarantines": count}
            )
        once = _once(count)
        self.cases.audit(case_id, "verdict", verdict.to_dict(), once=once)
        sha256 = fields["sha256"]
        evidence_key = evidence_key_for(tenant.tenant_id, case_id, ref.key)
        metadata = {
            "cordon-tenant": tenant.tenant_id,
            "cordon-case": case_id,
            "original-bucket": ref.bucket,
            "original-key": ref.key,
            "original-version": ref.identity,
            "verdict": verdict.action.value,
        }
        try:
            evidence = self.store.store_evidence(
                ref, evidence_key, fetched.data, sha256, metadata, head=fetched.head
            )
        except CordonError as error:
            self.cases.audit(case_id, "evidence_failed", {"error": str(error)})
            raise
        self.cases.update_fields(case_id, {"evidence": evidence.to_dict()})
        self.cases.audit(case_id, "evidence_stored", evidence.to_dict(), once=once)
        return self._remove_original(
            tenant, ref, case_id, verdict, fetched.head, evidence.uri, sha256, once
        )

    def _remove_original(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        verdict: Verdict,
        head: ObjectHead | None,
        evidence_uri: str,
        sha256: str,
        once: str,
    ) -> Result:
        """Remove the original and give the case its final status: each step done again by
        a retry is harmless (a delete of what is gone, rows `once` per quarantine), and the
        status comes last, since a retry takes it as done."""
        try:
            self.store.delete_original(ref, head)
        except ObjectReplacedError as error:
            # The bytes judged are no longer at the key (a newer upload replaced them, and is
            # judged on its own event): nothing of them is public, the case goes on.
            self.cases.audit(
                case_id,
                "original_replaced",
                {"uri": ref.uri, "detail": str(error)},
                once=once,
            )
        except Exception as error:
            self.cases.audit(case_id, "remove_failed", {"error": str(error)})
            raise
        else:
            self.cases.audit(case_id, "original_removed", {"uri": ref.uri}, once=once)
        rules = tenant.policy
        needs_review = verdict.action is Action.REVIEW or rules.review_takedowns
        if verdict.held_with:
            # The same bytes already await a review: held with it, whose decision they share.
            self.cases.attach(verdict.held_with, case_id)
            self.cases.audit(
                verdict.held_with,
                "copy_held",
                {"case_id": case_id, "uri": ref.uri},
                once=f"{case_id}-{once}",
            )
            self.cases.audit(case_id, "held_with", {"case_id": verdict.held_with}, once=once)
            self.cases.set_status(case_id, CaseStatus.ATTACHED, {"attached_to": verdict.held_with})
        elif needs_review:
            if self.reviews is not None:
                # Before the final status: a retry after a failure here starts the (same) review.
                self.reviews.start(
                    case_id, tenant.tenant_id, "review", rules.review_timeout_seconds
                )
            # The ruling before the final status, which a retry would take as done.
            self.cases.set_precedent(tenant.tenant_id, sha256, case_id, Ruling.PENDING)
            self.cases.set_status(case_id, CaseStatus.PENDING_REVIEW)
        else:
            # An automated takedown: its statement of reasons, then the ruling, then the
            # final status (a retry after it would not write the notice).
            case = self.cases.get(case_id)
            if case is not None:
                notice = statement_of_reasons(case.to_dict(), "removed")
                self.cases.update_fields(case_id, {"notice": notice})
            self.cases.set_precedent(tenant.tenant_id, sha256, case_id, Ruling.REMOVED)
            self.cases.set_status(case_id, CaseStatus.QUARANTINED)
        logger.info(
            "quarantined",
            extra={
                "object": ref.uri,
                "case_id": case_id,
                "verdict": verdict.action.value,
                "tenant_id": tenant.tenant_id,
            },
        )
        return Result(Outcome.QUARANTINED, ref, tenant.tenant_id, case_id, verdict, evidence_uri)

    def _finish_quarantine(
        self, tenant: Tenant, ref: ObjectRef, case_id: str, case: Case
    ) -> Result:
        """An earlier attempt stored the evidence but did not remove the original (or did,
        and stopped before the case said so)."""
        self.cases.audit(case_id, "retry", {"reason": "evidence stored, original not removed"})
        once = _once(_quarantines(case))
        # It may have stopped between recording the evidence on the case and its row.
        self.cases.audit(case_id, "evidence_stored", case.evidence or {}, once=once)
        verdict = case.verdict or Verdict(Action.TAKEDOWN, ())
        return self._remove_original(
            tenant,
            ref,
            case_id,
            verdict,
            None,
            case.evidence_uri,
            case.sha256 or "",
            once,
        )

    def _remove_again(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        case: Case,
        fetched: Fetched,
        examination: Examination,
    ) -> Result:
        """The object of a case that removed it is in the bucket again (the same bytes
        uploaded again to the same key): removed again under that case, whose evidence
        already holds these bytes."""
        sha256 = examination.signal("sha256")
        if sha256 is None or sha256.value != case.sha256:
            raise CordonError(
                f"{ref.uri} has the ETag of case {case_id} but other bytes: not removed "
                "under that case; replay it once the case is looked at"
            )
        status = case.status
        try:
            self.store.delete_original(ref, fetched.head)
        except ObjectReplacedError as error:  # replaced again since the GET: judged on its own
            self.cases.audit(case_id, "original_replaced", {"uri": ref.uri, "detail": str(error)})
        self.cases.audit(
            case_id,
            "reupload_removed",
            {"uri": ref.uri, "upload": ref.delivery_id, "status": status},
        )
        logger.info(
            "re-upload removed",
            extra={"object": ref.uri, "case_id": case_id, "status": status},
        )
        return Result(
            Outcome.QUARANTINED,
            ref,
            tenant.tenant_id,
            case_id,
            case.verdict,
            case.evidence_uri,
            detail=f"uploaded again: removed again under case {case_id} ({status})",
        )

    def _record_gone(self, tenant: Tenant, ref: ObjectRef, case_id: str, why: str) -> bool:
        """A case saying the object was gone; False (nothing written) if it had a case."""
        if not self.cases.open(
            case_id, tenant.tenant_id, CaseStatus.GONE, {"object": ref.to_dict(), "detail": why}
        ):
            return False
        logger.warning("object gone before processing", extra={"object": ref.uri, "why": why})
        return True
