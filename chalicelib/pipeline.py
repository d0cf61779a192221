"""One object, from event to verdict to action: the shell around the pure core.

Order of the quarantine, so that a failure at any step leaves the original where it was:
open the case -> write the evidence copy and check its SHA-256 -> remove the original ->
mark the case quarantined. A retry finds the case by its deterministic id and resumes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib import logs, matching, policy, signals
from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.classifier import Classifier
from chalicelib.adapters.flood import FloodGuard
from chalicelib.adapters.hashes import HashTable
from chalicelib.adapters.storage import Fetched, ObjectHead, ObjectStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.errors import CordonError, ObjectGoneError, UnknownTenantError
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
from chalicelib.review import Reviews
from chalicelib.settings import Settings

logger = logs.logger

STATUS_ALLOWED = "allowed"
STATUS_QUARANTINING = "quarantining"
STATUS_QUARANTINED = "quarantined"
STATUS_PENDING_REVIEW = "pending_review"
STATUS_GONE = "gone"
FINAL_STATUSES = frozenset({STATUS_ALLOWED, STATUS_QUARANTINED, STATUS_PENDING_REVIEW, STATUS_GONE})
STAGES = ("fetch", "hash", "match", "act")


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
    store: ObjectStore
    hashes: HashTable
    cases: CaseStore
    tenants: TenantRegistry
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

    def process(self, ref: ObjectRef, force: bool = False) -> Result:
        """Judge one object version and act on the verdict, at most once.

        `force` re-evaluates an object already handled (after a threshold change or a new
        shared hash): an allowed object that now matches is quarantined, in its one case;
        one already held gets its verdict updated and audited, and nothing else is done.
        """
        timer = Timer()
        tenant = self.tenants.for_bucket(ref.bucket)
        if tenant is None:
            logger.error("bucket belongs to no tenant: event rejected", extra={"object": ref.uri})
            return Result(Outcome.NO_TENANT, ref, detail=f"no tenant owns bucket {ref.bucket}")
        case_id = ref.case_id(tenant.tenant_id)
        # A case exists already only for a retry, a replay after the idempotency record has
        # expired, or a forced re-evaluation. Ingest does not read it first (a consistent
        # read for every object, for the rare retry): an allowed object's conditional create
        # finds it, and only then, or for a verdict to act on, is it read. Forced runs nearly
        # always meet their case: they read it first.
        existing = self.cases.get(case_id) if force else None
        if existing is not None:
            resumed = self._resume(tenant, ref, case_id, existing, force, timer)
            if resumed is not None:
                return resumed
        try:
            with timer.stage("fetch"):
                fetched = self.store.fetch(ref, self.settings.max_object_bytes)
            with timer.stage("hash"):
                examination = self._examine(fetched)
        except ObjectGoneError as gone:
            if existing is None and not self._record_gone(tenant, ref, case_id, str(gone)):
                existing = self.cases.get(case_id)  # a retry or a replay: the case was there
                resumed = self._resume(tenant, ref, case_id, existing, force, timer)
                if resumed is not None:
                    return resumed
            return Result(Outcome.GONE, ref, tenant.tenant_id, case_id, detail=str(gone))
        with timer.stage("match"):
            verdict = self._judge(tenant, examination, count=True)
        head, data = fetched.head, fetched.data
        if not force:
            with timer.stage("act"):
                opened = verdict.action is Action.ALLOW and self.cases.open(
                    case_id,
                    tenant.tenant_id,
                    STATUS_ALLOWED,
                    self._case_fields(ref, head, examination, verdict),
                )
                if not opened:
                    existing = self.cases.get(case_id)
            if opened:
                result = Result(Outcome.ALLOWED, ref, tenant.tenant_id, case_id, verdict, ref.uri)
                return replace(result, timings=timer.stages)
            resumed = self._resume(tenant, ref, case_id, existing, force, timer)
            if resumed is not None:
                return resumed
        with timer.stage("act"):
            result = self._act(tenant, ref, case_id, head, data, examination, verdict, existing)
        return replace(result, timings=timer.stages)

    def _resume(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        existing: dict[str, Any] | None,
        force: bool,
        timer: Timer,
    ) -> Result | None:
        """What an existing case leaves to do: finish its quarantine, nothing (already
        handled), or re-judge a held object (forced); None when the object is to be judged."""
        if existing is None:
            return None
        status = existing["status"]
        if status == STATUS_QUARANTINING and existing.get("evidence"):
            return self._finish_quarantine(tenant, ref, case_id, existing, timer)
        if status in FINAL_STATUSES and not (force and status == STATUS_ALLOWED):
            if force and existing.get("evidence"):
                return self._reevaluate_held(tenant, ref, case_id, existing)
            return Result(
                Outcome.ALREADY_HANDLED,
                ref,
                tenant.tenant_id,
                case_id,
                detail=f"case already {status}",
            )
        return None

    def evaluate(self, ref: ObjectRef) -> tuple[Tenant, Examination, Verdict, str]:
        """The verdict the object would get now, touching nothing (dry runs).

        Reads the original, or the evidence copy when the object is held. Raises
        UnknownTenantError or ObjectGoneError when there is nothing to judge.
        """
        tenant = self.tenants.for_bucket(ref.bucket)
        if tenant is None:
            raise UnknownTenantError(f"no tenant owns bucket {ref.bucket}")
        case = self.cases.get(ref.case_id(tenant.tenant_id)) if ref.identity else None
        if case and case.get("evidence"):
            data = self.store.read_evidence(case["evidence"])
            where = "evidence copy"
        else:
            fetched = self.store.fetch(ref, self.settings.max_object_bytes)
            if fetched.data is None:
                examination = self._examine(fetched)
                return tenant, examination, self._judge(tenant, examination), ref.uri
            data = fetched.data
            where = ref.uri
        examination, verdict = self.examine_and_judge(tenant, data)
        return tenant, examination, verdict, where

    def _reevaluate_held(
        self, tenant: Tenant, ref: ObjectRef, case_id: str, case: dict[str, Any]
    ) -> Result:
        data = self.store.read_evidence(case["evidence"])
        _, verdict = self.examine_and_judge(tenant, data)
        before = case["verdict"]["action"]
        self.cases.update_fields(case_id, {"verdict": verdict.to_dict()})
        self.cases.audit(case_id, "re-evaluated", {"before": before, "after": verdict.action.value})
        detail = (
            f"re-evaluated: was {before}, now {verdict.action.value}; the object stays held "
            f"({case['status']}) until a reviewer decides"
        )
        return Result(
            Outcome.ALREADY_HANDLED, ref, tenant.tenant_id, case_id, verdict, detail=detail
        )

    def examine_and_judge(self, tenant: Tenant, data: bytes) -> tuple[Examination, Verdict]:
        """The verdict bytes would get, touching nothing (dry runs, `cordon compare`)."""
        examination = signals.examine_bytes(data, self.settings.max_image_pixels)
        return examination, self._judge(tenant, examination)

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

    def _judge(self, tenant: Tenant, examination: Examination, count: bool = False) -> Verdict:
        """The verdict under the tenant's policy. `count` (real processing, not a dry run)
        counts the matches for the flood guard, which may hold a hash right then."""
        rules = tenant.policy
        matches = matching.find_matches(
            examination.signals,
            self.hashes.get_many,
            self.hashes.pdq_index(),
            rules.pdq_distance,
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
        verdict = policy.decide(rules, examination, matches, scores)
        if overrides:
            verdict = replace(verdict, reasons=(*verdict.reasons, *overrides))
        sha256 = examination.signal("sha256")
        if verdict.action is not Action.ALLOW and sha256 is not None:
            cleared = self.tenants.allowed(tenant.tenant_id, sha256.value)
            if cleared:
                # A reviewer of this tenant rejected a takedown of these very bytes.
                reason = (
                    f"allow-listed: a reviewer cleared these bytes in case "
                    f"{cleared['case_id']}; the matches below are overridden"
                )
                verdict = replace(verdict, action=Action.ALLOW, reasons=(reason, *verdict.reasons))
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
        head: ObjectHead,
        data: bytes | None,
        examination: Examination,
        verdict: Verdict,
        existing: dict[str, Any] | None,
    ) -> Result:
        fields = self._case_fields(ref, head, examination, verdict)
        was_allowed = existing is not None and existing["status"] == STATUS_ALLOWED
        if verdict.action is Action.ALLOW:
            if was_allowed:
                self.cases.update_fields(case_id, fields)
                self.cases.audit(case_id, "re-evaluated", {"before": "ALLOW", "after": "ALLOW"})
            else:
                self.cases.open(case_id, tenant.tenant_id, STATUS_ALLOWED, fields)
            return Result(Outcome.ALLOWED, ref, tenant.tenant_id, case_id, verdict, ref.uri)
        if was_allowed:
            # A forced re-evaluation found a match: the one case of this version moves on.
            self.cases.set_status(case_id, STATUS_QUARANTINING, fields)
            self.cases.audit(
                case_id, "re-evaluated", {"before": "ALLOW", "after": verdict.action.value}
            )
            self.cases.audit(case_id, "verdict", verdict.to_dict())
        elif existing is None and self.cases.open(
            case_id, tenant.tenant_id, STATUS_QUARANTINING, fields
        ):
            self.cases.audit(case_id, "verdict", verdict.to_dict())
        else:
            self.cases.audit(case_id, "retry", {"reason": "earlier attempt did not finish"})
        sha256 = fields["sha256"]
        evidence_key = f"{tenant.tenant_id}/{case_id}/{ref.key}"
        metadata = {
            "cordon-tenant": tenant.tenant_id,
            "cordon-case": case_id,
            "original-bucket": ref.bucket,
            "original-key": ref.key,
            "original-version": ref.identity,
            "verdict": verdict.action.value,
        }
        try:
            evidence = self.store.store_evidence(ref, evidence_key, data, sha256, metadata)
        except CordonError as error:
            self.cases.audit(case_id, "evidence_failed", {"error": str(error)})
            raise
        self.cases.update_fields(case_id, {"evidence": evidence.to_dict()})
        self.cases.audit(case_id, "evidence_stored", evidence.to_dict())
        return self._remove_original(tenant, ref, case_id, verdict, head, evidence.uri)

    def _remove_original(
        self,
        tenant: Tenant,
        ref: ObjectRef,
        case_id: str,
        verdict: Verdict,
        head: ObjectHead | None,
        evidence_uri: str,
    ) -> Result:
        try:
            self.store.delete_original(ref, head)
        except Exception as error:
            self.cases.audit(case_id, "remove_failed", {"error": str(error)})
            raise
        self.cases.audit(case_id, "original_removed", {"uri": ref.uri})
        rules = tenant.policy
        needs_review = verdict.action is Action.REVIEW or rules.review_takedowns
        if needs_review and self.reviews is not None:
            # Before the final status: a retry after a failure here starts the (same) review.
            self.reviews.start(case_id, tenant.tenant_id, "review", rules.review_timeout_seconds)
        if needs_review:
            self.cases.set_status(case_id, STATUS_PENDING_REVIEW)
        else:
            self.cases.set_status(case_id, STATUS_QUARANTINED)
            case = self.cases.get(case_id)
            if case is not None:  # an automated takedown: its statement of reasons now
                self.cases.update_fields(case_id, {"notice": statement_of_reasons(case, "removed")})
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
        self, tenant: Tenant, ref: ObjectRef, case_id: str, case: dict[str, Any], timer: Timer
    ) -> Result:
        """An earlier attempt stored the evidence but did not remove the original."""
        self.cases.audit(case_id, "retry", {"reason": "evidence stored, original not removed"})
        verdict = Verdict(Action(case["verdict"]["action"]), tuple(case["verdict"]["reasons"]))
        evidence = case["evidence"]
        with timer.stage("act"):
            result = self._remove_original(
                tenant, ref, case_id, verdict, None, f"s3://{evidence['bucket']}/{evidence['key']}"
            )
        return replace(result, timings=timer.stages)

    def _record_gone(self, tenant: Tenant, ref: ObjectRef, case_id: str, why: str) -> bool:
        """A case saying the object was gone; False (nothing written) if it had a case."""
        if not self.cases.open(
            case_id, tenant.tenant_id, STATUS_GONE, {"object": ref.to_dict(), "detail": why}
        ):
            return False
        logger.warning("object gone before processing", extra={"object": ref.uri, "why": why})
        return True
