"""The tenant registry (DynamoDB): which tenant owns a bucket, and its policy.

Items: `TENANT#<id>` (policy, buckets, groups) and `BUCKET#<name>` (tenant id), so the hot
lookup, bucket -> tenant, is one GetItem; `APIKEY#<sha256>` (a reviewer's key), `ALLOWHASH#...`
(shared hashes the tenant ignores; bytes a reviewer cleared are a ruling in the cases table) and
`WEBHOOK#<id>` (its endpoint and signing secrets). Lookups are cached for a short while in a
warm container.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any

from boto3.dynamodb.conditions import Attr

from chalicelib.adapters import batch_get
from chalicelib.adapters.cases import from_dynamo, to_dynamo
from chalicelib.models import Policy, Tenant, now_iso
from chalicelib.updates import WebhookSubscription

CACHE_SECONDS = 30.0


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class TenantRegistry:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._by_bucket: dict[str, tuple[float, Tenant | None]] = {}
        # Every webhook subscription, from one scan, and when it was read (`_registry`).
        self._registry: tuple[float, list[WebhookSubscription]] | None = None

    def add(
        self,
        tenant_id: str,
        buckets: list[str],
        policy: Policy | None = None,
        groups: list[str] | None = None,
    ) -> Tenant:
        """Register a tenant or update it: buckets are added to its own; a policy or groups
        given replace its own."""
        existing = self.get(tenant_id)
        tenant = Tenant(
            tenant_id,
            tuple(sorted({*(existing.buckets if existing else ()), *buckets})),
            policy or (existing.policy if existing else Policy()),
            tuple(sorted(groups)) if groups is not None else (existing.groups if existing else ()),
        )
        self.table.put_item(
            Item=to_dynamo(
                {
                    "pk": f"TENANT#{tenant_id}",
                    "tenant_id": tenant_id,
                    "buckets": list(tenant.buckets),
                    "groups": list(tenant.groups),
                    "policy": tenant.policy.to_dict(),
                    "updated_at": now_iso(),
                }
            )
        )
        for bucket in buckets:
            self.table.put_item(Item={"pk": f"BUCKET#{bucket}", "tenant_id": tenant_id})
            self._by_bucket.pop(bucket, None)
        self._registry = None
        return tenant

    def get(self, tenant_id: str) -> Tenant | None:
        item = self.table.get_item(Key={"pk": f"TENANT#{tenant_id}"}).get("Item")
        return _tenant(from_dynamo(item)) if item else None

    def for_bucket(self, bucket: str) -> Tenant | None:
        cached = self._by_bucket.get(bucket)
        if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        item = self.table.get_item(Key={"pk": f"BUCKET#{bucket}"}).get("Item")
        tenant = self.get(item["tenant_id"]) if item else None
        self._by_bucket[bucket] = (time.monotonic(), tenant)
        return tenant

    # -- reviewers' API keys: only their SHA-256 is stored -----------------------------------
    def add_api_key(self, tenant_id: str, reviewer_id: str) -> str:
        key = "ck_" + secrets.token_urlsafe(32)
        self.table.put_item(
            Item={
                "pk": f"APIKEY#{_digest(key)}",
                "tenant_id": tenant_id,
                "reviewer_id": reviewer_id,
                "created_at": now_iso(),
            }
        )
        return key

    def reviewer_for_key(self, key: str) -> tuple[str, str] | None:
        """(tenant id, reviewer id) of an API key, or None."""
        if not key:
            return None
        item = self.table.get_item(Key={"pk": f"APIKEY#{_digest(key)}"}).get("Item")
        return (item["tenant_id"], item["reviewer_id"]) if item else None

    # -- a tenant's private allow-list of shared hashes: they stop matching for it alone -----
    def allow_hash(
        self, tenant_id: str, signal_type: str, value: str, by: str, reason: str = ""
    ) -> None:
        self.table.put_item(
            Item={
                "pk": f"ALLOWHASH#{tenant_id}#{signal_type}#{value}",
                "tenant_id": tenant_id,
                "by": by,
                "reason": reason,
                "at": now_iso(),
            }
        )

    def unallow_hash(self, tenant_id: str, signal_type: str, value: str) -> None:
        self.table.delete_item(Key={"pk": f"ALLOWHASH#{tenant_id}#{signal_type}#{value}"})

    def allowed_hashes(
        self, tenant_id: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Which of these shared hashes the tenant has allow-listed (one batch read: they are
        asked about only for the few hashes an object matched, and the images of those)."""
        prefix = f"ALLOWHASH#{tenant_id}#"
        wanted = [{"pk": f"{prefix}{t}#{v}"} for t, v in dict.fromkeys(keys)]
        found = {}
        for item in batch_get(self.table, wanted):
            signal_type, value = item["pk"][len(prefix) :].split("#", 1)
            found[(signal_type, value)] = from_dynamo(item)
        return found

    # -- webhooks: where a tenant wants hash updates POSTed ---------------------------------
    def set_webhook(
        self,
        tenant_id: str,
        url: str,
        signal_types: list[str] | None = None,
        changes: list[str] | None = None,
        rotate: bool = False,
    ) -> str:
        """Set the tenant's webhook and return a new signing secret. With `rotate`, the
        previous secret keeps signing too until the next rotation."""
        previous = self.table.get_item(Key={"pk": f"WEBHOOK#{tenant_id}"}).get("Item") or {}
        secret = "whsec_" + secrets.token_urlsafe(32)
        kept = list(previous.get("secrets", []))[:1] if rotate else []
        self.table.put_item(
            Item={
                "pk": f"WEBHOOK#{tenant_id}",
                "tenant_id": tenant_id,
                "url": url,
                "secrets": [secret, *kept],
                "signal_types": list(signal_types or []),
                "changes": list(changes or []),
                "updated_at": now_iso(),
            }
        )
        self._registry = None
        return secret

    def webhooks(self) -> list[WebhookSubscription]:
        """Every tenant's webhook subscription (cached briefly in a warm container)."""
        return self._read_registry()[1]

    def all(self) -> list[Tenant]:
        """Every tenant, by id, read now (never from the cache: see `RetroScanner.scan`)."""
        return sorted((_tenant(item) for item in self._items("TENANT#")), key=lambda t: t.tenant_id)

    def _read_registry(self) -> tuple[float, list[WebhookSubscription]]:
        """Webhooks, with their tenants, from one scan of the table, reused for
        `CACHE_SECONDS`."""
        if self._registry and time.monotonic() - self._registry[0] < CACHE_SECONDS:
            return self._registry
        tenants: dict[str, Tenant] = {}
        hooks: list[dict[str, Any]] = []
        for item in self._items("TENANT#", "WEBHOOK#"):
            if item["pk"].startswith("TENANT#"):
                tenants[item["tenant_id"]] = _tenant(item)
            else:
                hooks.append(item)
        found = [
            WebhookSubscription(
                tenant=tenants[item["tenant_id"]],
                url=item["url"],
                secrets=tuple(item.get("secrets", [])),
                signal_types=tuple(item.get("signal_types", [])),
                changes=tuple(item.get("changes", [])),
            )
            for item in hooks
            if item["tenant_id"] in tenants
        ]
        self._registry = (time.monotonic(), found)
        return self._registry

    def _items(self, *prefixes: str) -> Iterator[dict[str, Any]]:
        """Items whose key starts with one of `prefixes` (a scan: the registry is small)."""
        condition = Attr("pk").begins_with(prefixes[0])
        for prefix in prefixes[1:]:
            condition = condition | Attr("pk").begins_with(prefix)
        kwargs: dict[str, Any] = {"FilterExpression": condition}
        while True:
            response = self.table.scan(**kwargs)
            for item in response["Items"]:
                yield from_dynamo(item)
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _tenant(item: dict[str, Any]) -> Tenant:
    """A tenant from its registry item, already converted from DynamoDB's types."""
    return Tenant(
        item["tenant_id"],
        tuple(item.get("buckets", ())),
        Policy.from_dict(item["policy"]),
        tuple(item.get("groups", ())),
    )
