"""Retro-scan: when a hash is shared, the objects tenants already let through are checked again.

Every processed object keeps its signals on its case. For each tenant a new hash is shared
with, its allowed uploads are read once (the `by_tenant_status` index) and their stored
signals compared with the new hashes: types with an index (PDQ) through an index of the
stored signals, at the tenant's distance (the new hashes' complements too, for inverted
copies: `matching.complements`), the others by value. Each object found goes
through its tenant's policy again, as if just uploaded, in its one case
(`Pipeline.process(force=True)`), so a confirmed takedown at one platform reaches the copies
the others already hold.

A confirmation always shares a PDQ with its exact hashes, so an index by SHA-256 would save
no read there; it was dropped, as it cost a write unit on every upload.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping

from chalicelib import logs, matching, policy
from chalicelib.adapters.cases import CaseStore
from chalicelib.adapters.tenants import TenantRegistry
from chalicelib.lifecycle import Case, CaseStatus
from chalicelib.models import ObjectRef, Result, Signal
from chalicelib.pipeline import Pipeline
from chalicelib.sharing import HashUpdate
from chalicelib.signals import SIGNAL_TYPES, indexed_types, usable

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
        # Only tenants a hash is shared with are scanned for it. The registry is read afresh,
        # not from the warm container's cache: a tenant registered since (by the operator's
        # CLI, another process) would otherwise keep its copies up. Only batches that add
        # hashes pay for the read.
        found: dict[str, Case] = {}
        for tenant in self.tenants.all():
            visible = [u for u in fresh if u.visible_to(tenant)]
            if visible:
                for case in self._stored_matches(
                    tenant.tenant_id, self._distances(tenant.policy), visible
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
                stored = [Signal.from_dict(s) for s in case.signals]
                found = matching.find_matches(
                    stored,
                    self.pipeline.hashes.get_many,
                    self.pipeline.hashes.index,
                    self._distances(tenant.policy),
                    visible=lambda record, tenant=tenant: record.visible_to(tenant),
                )
                if found:
                    yield from self._rejudge([case])

    def _distances(self, rules: policy.Policy) -> dict[str, int]:
        """The tenant's match distances, as the pipeline judges its uploads."""
        return policy.match_distances(rules, self.pipeline.settings.match_distances)

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
        self, tenant_id: str, distances: Mapping[str, int], updates: list[HashUpdate]
    ) -> list[Case]:
        """Allowed cases of a tenant with a stored signal equal to a new hash of a type looked
        up exactly, or, for a type with an index, within its distance in `distances` of one.

        Read per scan from the tenant's allowed cases: simple and always current; a tenant with
        millions of cases wants the index of its stored signals kept warm instead."""
        near_types = {t.name for t in indexed_types()} & {u.signal_type for u in updates}
        exact = {(u.signal_type, u.value) for u in updates if u.signal_type not in near_types}
        matches: list[Case] = []
        # Type -> stored value -> the cases that hold it, for the types matched near.
        stored: dict[str, dict[str, list[Case]]] = {t: {} for t in near_types}
        for case in self.cases.for_tenant(tenant_id, CaseStatus.ALLOWED):
            signals = case.signals
            if any((s["type"], s["value"]) in exact for s in signals):
                matches.append(case)
            for signal in signals:
                if signal["type"] in stored and usable(Signal.from_dict(signal)):
                    stored[signal["type"]].setdefault(signal["value"], []).append(case)
        for signal_type, by_value in stored.items():
            index = SIGNAL_TYPES[signal_type].new_index()
            if not by_value or index is None:
                continue
            index.add(list(by_value))
            wanted = [u.value for u in updates if u.signal_type == signal_type]
            # An inverted copy's stored signals lie near the new hash's complement.
            wanted += matching.complements(signal_type, wanted)
            for hits in index.query_many(wanted, distances[signal_type]):
                for value, _ in hits:
                    matches.extend(by_value[value])
        return matches
