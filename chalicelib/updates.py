"""Hash updates as values: what changed in a shared hash, and who asked to hear of it.

Pure (models only), so that the hash table adapter, which names each change it writes to the
delta feed, and the services that fan updates out share one vocabulary without the adapter
importing a service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from chalicelib.models import Tenant, Visibility, audience_admits


def change_between(before: str | None, after: str) -> str:
    """The change from one status of a hash to the next (None: it did not exist)."""
    if before is None:
        return "added"
    if before == after:
        return "changed"
    return {"disputed": "disputed", "retired": "retired", "held": "held"}.get(after, "reactivated")


@dataclass(frozen=True)
class HashUpdate:
    change: str  # added | changed | disputed | retired | reactivated | removed
    signal_type: str
    value: str
    labels: tuple[str, ...]
    source: str
    status: str
    seq: int | None
    case_id: str | None = None
    visibility: str = Visibility.ALL
    groups: tuple[str, ...] = ()
    variant: str = "original"  # a stored crop or masked copy of the shared image
    variant_of: str | None = None  # ... whose own hash (same type) is this value

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["groups"] = list(self.groups)
        return data

    def visible_to(self, tenant: Tenant) -> bool:
        return audience_admits(self.visibility, self.groups, self.source, tenant)


@dataclass(frozen=True)
class WebhookSubscription:
    """A tenant's endpoint for hash updates: its URL, its secrets (newest first: while one is
    rotated both sign), and which signal types and changes it wants (empty: all)."""

    tenant: Tenant
    url: str
    secrets: tuple[str, ...]
    signal_types: tuple[str, ...] = ()
    changes: tuple[str, ...] = ()

    def wants(self, update: HashUpdate) -> bool:
        return (
            update.visible_to(self.tenant)
            and (not self.signal_types or update.signal_type in self.signal_types)
            and (not self.changes or update.change in self.changes)
        )
