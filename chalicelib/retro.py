"""Retro-scan: when a hash is shared, the objects tenants already let through are checked again.

Every processed object keeps its signals on its case. For each tenant a new hash is shared
with, its allowed uploads are read once (the `by_tenant_status` index) and their stored
signals compared with the new hashes: exact types by value, PDQ through an index of the
stored signals. Each object found goes through its tenant's policy again, as if just
uploaded, in its one case (`Pipeline.process(force=True)`), so a confirmed takedown at one
platform reaches the copies the others already hold.

A confirmation always shares a PDQ with its exact hashes, so an index by SHA-256 would save
no read there; it was dropped, as it cost a write unit on every upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from chalicelib import logs, matching, pdq
from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.index import HammingIndex
from chalicelib.lifecycle import Case, CaseStatus
from chalicelib.models import ObjectRef, Result, Signal
from chalicelib.pipeline import Pipeline
from chalicelib.sharing import HashUpdate
from chalicelib.signals import PDQ

logger = logs.logger


class RetroScanner:
    def __init__(self, cases: CaseStore, tenants: TenantRegistry, pipeline: Pipeline) -> None:
        self.cases = cases
        self.tenants = tenants
        self.pipeline = pipeline

    def scan(self, updates: Iterable[HashUpdate]) -> list[Result]:
        """Re-judge every allowed upload that a newly added (or reactivated) hash matches."""
        fresh = [
            u for u in updates if u.change in ("added", "reactivated") and u.status == "active"
        ]
        if not fresh:
            return []
        # Only tenants a hash is shared with are scanned for it (the registry as read at most
        # a few seconds ago: the handler runs for every batch of the stream).
        found: dict[str, Case] = {}
        for tenant in self.tenants.all(cached=True):
            visible = [u for u in fresh if u.visible_to(tenant)]
            if visible:
                for case in self._stored_matches(
                    tenant.tenant_id, tenant.policy.pdq_distance, visible
                ):
                    found.setdefault(case.case_id, case)
        return self._rejudge(found.values())

    def rescan_stored(self, tenant_ids: Iterable[str] | None = None) -> Iterator[Result]:
        """`cordon rescan --signals`: every allowed upload of these tenants (all by default)
        checked against the whole shared table through its stored signals, without reading
        the objects; those that match now are judged again as if just uploaded."""
        wanted = set(tenant_ids) if tenant_ids is not None else None
        for tenant in self.tenants.all():
            if wanted is not None and tenant.tenant_id not in wanted:
                continue
            for case in self.cases.for_tenant(tenant.tenant_id, CaseStatus.ALLOWED):
                stored = [
                    Signal(s["type"], s["value"], s.get("quality"), s.get("variant", "original"))
                    for s in case.signals
                ]
                found = matching.find_matches(
                    stored,
                    self.pipeline.hashes.get_many,
                    self.pipeline.hashes.pdq_index(),
                    tenant.policy.pdq_distance,
                    visible=lambda record, tenant=tenant: record.visible_to(tenant),
                )
                if found:
                    yield from self._rejudge([case])

    def _rejudge(self, cases: Iterable[Case]) -> list[Result]:
        results = []
        for case in cases:
            if case.status is not CaseStatus.ALLOWED:
                continue  # held, gone or decided already: nothing to do again
            ref = ObjectRef.from_dict(case.object)
            result = self.pipeline.process(ref, force=True)
            logger.info(
                "retro-scan", extra={"case_id": case.case_id, "outcome": result.outcome.value}
            )
            results.append(result)
        return results

    def _stored_matches(
        self, tenant_id: str, distance: int, updates: list[HashUpdate]
    ) -> list[Case]:
        """Allowed cases of a tenant with a stored signal equal to a new exact hash, or whose
        upload's PDQ is within `distance` of a new PDQ hash.

        Read per scan from the tenant's allowed cases: simple and always current; a tenant with
        millions of cases wants the index of its stored signals kept warm instead."""
        exact = {(u.signal_type, u.value) for u in updates if u.signal_type != PDQ.name}
        pdq_values = [u.value for u in updates if u.signal_type == PDQ.name]
        matches: list[Case] = []
        by_pdq: dict[str, list[Case]] = {}
        for case in self.cases.for_tenant(tenant_id, CaseStatus.ALLOWED):
            signals = case.signals
            if any((s["type"], s["value"]) in exact for s in signals):
                matches.append(case)
            for signal in signals:
                if signal["type"] == PDQ.name and (signal.get("quality") or 0) >= pdq.MIN_QUALITY:
                    by_pdq.setdefault(signal["value"], []).append(case)
        if pdq_values and by_pdq:
            index = HammingIndex(PDQ.bits)
            index.add(list(by_pdq))
            for hits in index.query_many(pdq_values, distance):
                for stored, _ in hits:
                    matches.extend(by_pdq[stored])
        return matches
