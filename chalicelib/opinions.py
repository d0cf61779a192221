"""Tenants' opinions of shared hashes: confirm or dispute, and what enough disputes do.

A tenant may give its opinion of any shared hash it can see (one opinion a tenant: a new one
replaces its last). When `threshold` tenants other than the hash's source dispute it, the hash
becomes DISPUTED: it keeps matching everywhere, for REVIEW only, never an automatic takedown,
and its source tenant is told. If disputes are withdrawn (confirmations) below the threshold,
it is active again and the source is told that too. Every status change reaches subscribers
(feed, SNS, webhooks) like any other change of the hash.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib import logs
from chalicelib.adapters.hashes import HashTable
from chalicelib.errors import NotFoundError, RequestError
from chalicelib.models import ACTIVE, DISPUTED, HashRecord, Tenant, now_iso
from chalicelib.signals import SIGNAL_TYPES

OPINIONS = ("confirm", "dispute")

Notify = Callable[[str, dict[str, Any]], None]


def canonical_hash(signal_type: str, value: str) -> str:
    """A hash as a request names it, in the table's form; RequestError when it is none."""
    if signal_type not in SIGNAL_TYPES:
        raise NotFoundError(f"no signal type {signal_type!r}")
    try:
        return SIGNAL_TYPES[signal_type].validate(value)
    except ValueError as error:
        raise RequestError(str(error)) from error


class Opinions:
    def __init__(self, hashes: HashTable, threshold: int, notify: Notify | None = None) -> None:
        self.hashes = hashes
        self.threshold = max(1, threshold)
        self.notify = notify

    def give(
        self, tenant: Tenant, signal_type: str, value: str, opinion: str, reason: str = ""
    ) -> dict[str, Any]:
        """Record `tenant`'s opinion of one shared hash; returns where the hash now stands."""
        if opinion not in OPINIONS:
            raise RequestError(f"opinion must be one of {', '.join(OPINIONS)}, not {opinion!r}")
        record = self._visible(tenant, signal_type, value)
        updated = self.hashes.add_opinion(
            record.signal_type, record.value, tenant.tenant_id, opinion == "dispute", reason
        )
        disputers = sorted(set(updated.disputes) - {updated.source})
        if len(disputers) >= self.threshold and updated.status == ACTIVE:
            changed = self.hashes.set_status(
                updated.signal_type, updated.value, DISPUTED, [ACTIVE], disputed_at=now_iso()
            )
            if changed is not None:
                updated = changed
                logs.count("HashesDisputed", "sharing")
                self._tell_source(updated, "hash_disputed", disputers)
        elif len(disputers) < self.threshold and updated.status == DISPUTED:
            changed = self.hashes.set_status(updated.signal_type, updated.value, ACTIVE, [DISPUTED])
            if changed is not None:
                updated = changed
                self._tell_source(updated, "hash_dispute_withdrawn", disputers)
        logs.logger.info(
            "opinion recorded",
            extra={"tenant_id": tenant.tenant_id, "opinion": opinion, "status": updated.status},
        )
        return {
            "signal_type": updated.signal_type,
            "value": updated.value,
            "opinion": opinion,
            "status": updated.status,
            "disputes": len(disputers),
            "endorsements": len(updated.endorsements),
            "threshold": self.threshold,
        }

    def _visible(self, tenant: Tenant, signal_type: str, value: str) -> HashRecord:
        canonical = canonical_hash(signal_type, value)
        record = self.hashes.get_many([(signal_type, canonical)], consistent=True).get(
            (signal_type, canonical)
        )
        # A hash this tenant may not see answers exactly like one that does not exist.
        if record is None or not record.visible_to(tenant):
            raise NotFoundError(f"no shared {signal_type} hash {canonical}")
        if record.variant_of:
            # A crop stored beside an image is disputed as the image: its status follows the
            # image's (`matching.follow_image`), and the image is what the source shared.
            image = self.hashes.get_many([record.image_key], consistent=True).get(record.image_key)
            if image is not None and image.visible_to(tenant):
                return image
        return record

    def _tell_source(self, record: HashRecord, event: str, disputers: list[str]) -> None:
        logs.logger.warning(
            event.replace("_", " "),
            extra={
                "signal_type": record.signal_type,
                "value": record.value,
                "source": record.source,
            },
        )
        if self.notify is None:
            return
        self.notify(
            record.source,
            {
                "event": event,
                "signal_type": record.signal_type,
                "value": record.value,
                "case_id": record.case_id,
                "disputes": len(disputers),
                "threshold": self.threshold,
                "status": record.status,
            },
        )
