"""The tenant registry (DynamoDB): which tenant owns a bucket, and its policy.

Items: `TENANT#<id>` (policy, buckets) and `BUCKET#<name>` (tenant id), so the hot lookup,
bucket -> tenant, is one GetItem. Lookups are cached for a short while in a warm container.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from chalicelib.adapters.cases import from_dynamo, to_dynamo
from chalicelib.models import Policy, Tenant, now_iso

CACHE_SECONDS = 30.0


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class TenantRegistry:
    def __init__(self, table: Any) -> None:
        self.table = table
        self._by_bucket: dict[str, tuple[float, Tenant | None]] = {}

    def add(self, tenant_id: str, buckets: list[str], policy: Policy | None = None) -> Tenant:
        existing = self.get(tenant_id)
        all_buckets = sorted({*(existing.buckets if existing else ()), *buckets})
        tenant = Tenant(
            tenant_id, tuple(all_buckets), policy or (existing.policy if existing else Policy())
        )
        self.table.put_item(
            Item=to_dynamo(
                {
                    "pk": f"TENANT#{tenant_id}",
                    "tenant_id": tenant_id,
                    "buckets": list(tenant.buckets),
                    "policy": tenant.policy.to_dict(),
                    "updated_at": now_iso(),
                }
            )
        )
        for bucket in buckets:
            self.table.put_item(Item={"pk": f"BUCKET#{bucket}", "tenant_id": tenant_id})
            self._by_bucket.pop(bucket, None)
        return tenant

    def get(self, tenant_id: str) -> Tenant | None:
        item = self.table.get_item(Key={"pk": f"TENANT#{tenant_id}"}).get("Item")
        if not item:
            return None
        item = from_dynamo(item)
        return Tenant(tenant_id, tuple(item.get("buckets", ())), Policy.from_dict(item["policy"]))

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

    # -- a tenant's allow-list: objects a reviewer cleared stop triggering --------------------
    def allow(self, tenant_id: str, sha256: str, case_id: str, reviewer_id: str) -> None:
        self.table.put_item(
            Item={
                "pk": f"ALLOW#{tenant_id}#{sha256}",
                "tenant_id": tenant_id,
                "case_id": case_id,
                "reviewer_id": reviewer_id,
                "at": now_iso(),
            }
        )

    def allowed(self, tenant_id: str, sha256: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"pk": f"ALLOW#{tenant_id}#{sha256}"}).get("Item")
        return from_dynamo(item) if item else None

    def all(self) -> list[Tenant]:
        tenants = []
        kwargs: dict[str, Any] = {}
        while True:
            response = self.table.scan(**kwargs)
            for item in response["Items"]:
                if item["pk"].startswith("TENANT#"):
                    item = from_dynamo(item)
                    tenants.append(
                        Tenant(
                            item["tenant_id"],
                            tuple(item.get("buckets", ())),
                            Policy.from_dict(item["policy"]),
                        )
                    )
            if "LastEvaluatedKey" not in response:
                return sorted(tenants, key=lambda t: t.tenant_id)
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
