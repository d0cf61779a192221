"""Retro-scan: when a hash is shared, the objects tenants already let through are checked again.

Every processed object keeps its signals on its case. A new shared SHA-256 finds earlier
uploads of the same bytes through the cases table's `by_sha256` index; a new PDQ hash is
queried against an index of each tenant's allowed uploads (built from their cases). Each
object found goes through its tenant's policy again, as if just uploaded, in its one case
(`Pipeline.process(force=True)`), so a confirmed takedown at one platform reaches the copies
the others already hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from chalicelib import logs, matching, pdq
from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.index import HammingIndex
from chalicelib.models import ObjectRef, Result, Signal
from chalicelib.pipeline import STATUS_ALLOWED, Pipeline
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
        # Only tenants a hash is shared with are scanned for it.
        tenants = {t.tenant_id: t for t in self.tenants.all()}
        found: dict[str, dict[str, Any]] = {}
        for update in fresh:
            if update.signal_type == "sha256":
                for case in self.cases.with_sha256(update.value):
                    tenant = tenants.get(case.get("tenant_id", ""))
                    if tenant is not None and update.visible_to(tenant):
                        found.setdefault(case["case_id"], case)
        for tenant in tenants.values():
            pdq_values = [
                u.value for u in fresh if u.signal_type == PDQ.name and u.visible_to(tenant)
            ]
            if pdq_values:
                for case in self._pdq_matches(
                    tenant.tenant_id, tenant.policy.pdq_distance, pdq_values
                ):
                    found.setdefault(case["case_id"], case)
        return self._rejudge(found.values())

    def rescan_stored(self, tenant_ids: Iterable[str] | None = None) -> Iterator[Result]:
        """`cordon rescan --signals`: every allowed upload of these tenants (all by default)
        checked against the whole shared table through its stored signals, without reading
        the objects; those that match now are judged again as if just uploaded."""
        wanted = set(tenant_ids) if tenant_ids is not None else None
        for tenant in self.tenants.all():
            if wanted is not None and tenant.tenant_id not in wanted:
                continue
            for case in self.cases.for_tenant(tenant.tenant_id, STATUS_ALLOWED):
                stored = [
                    Signal(s["type"], s["value"], s.get("quality"), s.get("variant", "original"))
                    for s in case.get("signals", [])
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

    def _rejudge(self, cases: Iterable[dict[str, Any]]) -> list[Result]:
        results = []
        for case in cases:
            if case.get("status") != STATUS_ALLOWED:
                continue  # held, gone or decided already: nothing to do again
            ref = ObjectRef.from_dict(case["object"])
            result = self.pipeline.process(ref, force=True)
            logger.info(
                "retro-scan", extra={"case_id": case["case_id"], "outcome": result.outcome.value}
            )
            results.append(result)
        return results

    def _pdq_matches(
        self, tenant_id: str, distance: int, values: list[str]
    ) -> list[dict[str, Any]]:
        """Allowed cases of a tenant whose upload's PDQ is within `distance` of a new hash.

        The index of stored signals is built per scan from the tenant's allowed cases: simple
        and always current; a tenant with millions of cases wants it kept warm instead."""
        by_value: dict[str, list[dict[str, Any]]] = {}
        for case in self.cases.for_tenant(tenant_id, STATUS_ALLOWED):
            for signal in case.get("signals", []):
                if signal["type"] == PDQ.name and (signal.get("quality") or 0) >= pdq.MIN_QUALITY:
                    by_value.setdefault(signal["value"], []).append(case)
        if not by_value:
            return []
        index = HammingIndex(PDQ.bits)
        index.add(list(by_value))
        matches = []
        for value in values:
            for stored, _ in index.query(value, distance):
                matches.extend(by_value[stored])
        return matches
