"""In-memory fakes of the pipeline's ports (`chalicelib.ports`): Cordon's own stores, kept as
plain dicts, so the case lifecycle runs in milliseconds. The AWS adapters themselves are
tested against moto (tests/functional)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from chalicelib.adapters.cases import case_from_item
from chalicelib.adapters.storage import EvidenceCopy, Fetched, ObjectHead
from chalicelib.errors import ObjectGoneError
from chalicelib.index import HammingIndex
from chalicelib.lifecycle import Case, Precedent, Ruling
from chalicelib.models import HashRecord, ObjectRef, Tenant, now_iso
from chalicelib.signals import SIGNAL_TYPES


class FakeObjects:
    """One unversioned bucket per name, and an evidence bucket that keeps every write."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.etags: dict[tuple[str, str], str] = {}
        self.evidence: dict[str, list[bytes]] = {}
        self.deletes_to_fail = 0
        self._clock = 0

    def put(self, bucket: str, key: str, data: bytes, etag: str | None = None) -> ObjectRef:
        """An upload, and the notification S3 would send for it (without a sequencer);
        `etag` stands in for an MD5 collision (other bytes, the same ETag)."""
        etag = etag or hashlib.md5(data).hexdigest()
        self.objects[(bucket, key)] = data
        self.etags[(bucket, key)] = etag
        self._clock += 1
        return ObjectRef(bucket, key, etag=etag, event_time=f"2026-12-04T10:00:{self._clock:02d}Z")

    def _head(self, ref: ObjectRef) -> tuple[ObjectHead, bytes]:
        data = self.objects.get((ref.bucket, ref.key))
        etag = self.etags.get((ref.bucket, ref.key))
        if data is None or (ref.etag and etag != ref.etag):
            raise ObjectGoneError(f"{ref.uri} no longer exists")
        return ObjectHead(len(data), etag, None, "image/jpeg"), data

    def head(self, ref: ObjectRef) -> ObjectHead:
        return self._head(ref)[0]

    def fetch(self, ref: ObjectRef, max_bytes: int) -> Fetched:
        head, data = self._head(ref)
        return Fetched(head, data, None)

    def read_evidence(self, evidence: dict[str, Any]) -> bytes:
        return self.evidence[evidence["key"]][-1]

    def store_evidence(
        self,
        ref: ObjectRef,
        evidence_key: str,
        data: bytes | None,
        sha256_hex: str,
        metadata: dict[str, str],
        head: ObjectHead | None = None,
    ) -> EvidenceCopy:
        versions = self.evidence.setdefault(evidence_key, [])
        versions.append(data or b"")
        return EvidenceCopy("evidence", evidence_key, str(len(versions)), sha256_hex, None)

    def delete_original(self, ref: ObjectRef, head: ObjectHead | None) -> None:
        if self.deletes_to_fail:
            self.deletes_to_fail -= 1
            raise ConnectionError("injected: the DELETE's answer was lost")
        self.objects.pop((ref.bucket, ref.key), None)
        self.etags.pop((ref.bucket, ref.key), None)

    def evidence_writes(self) -> int:
        return sum(len(v) for v in self.evidence.values())


class FakeHashes:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], HashRecord] = {}

    def share(self, record: HashRecord) -> None:
        self.records[(record.signal_type, record.value)] = record

    def get_many(
        self, keys: Sequence[tuple[str, str]], consistent: bool = False
    ) -> dict[tuple[str, str], HashRecord]:
        return {key: self.records[key] for key in keys if key in self.records}

    def index(self, signal_type: str) -> HammingIndex | None:
        index = SIGNAL_TYPES[signal_type].new_index()
        if index is not None:
            index.add([value for (kind, value) in self.records if kind == signal_type])
        return index


class FakeCases:
    """Case items stored as the DynamoDB adapter stores them, read back through its own
    conversion; audit rows and rulings beside them."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.audits: dict[str, list[dict[str, Any]]] = {}
        self.rulings: dict[tuple[str, str], Precedent] = {}

    def get(self, case_id: str) -> Case | None:
        item = self.items.get(case_id)
        return case_from_item(item) if item else None

    def open(self, case_id: str, tenant_id: str, status: str, fields: dict[str, Any]) -> bool:
        if case_id in self.items:
            return False
        at = now_iso()
        self.items[case_id] = {
            "pk": case_id,
            "tenant_id": tenant_id,
            "status": str(status),
            "created_at": at,
            "history": [{"status": str(status), "at": at}],
            **fields,
        }
        return True

    def set_status(self, case_id: str, status: str, fields: dict[str, Any] | None = None) -> None:
        item = self.items[case_id]
        item.update({"status": str(status), "updated_at": now_iso(), **(fields or {})})
        item["history"].append({"status": str(status), "at": item["updated_at"]})

    def update_fields(self, case_id: str, fields: dict[str, Any]) -> None:
        self.items[case_id].update(fields)

    def audit(
        self,
        case_id: str,
        event: str,
        detail: dict[str, Any] | None = None,
        actor: str = "cordon",
        once: str | None = None,
    ) -> None:
        rows = self.audits.setdefault(case_id, [])
        if once and any(row.get("once") == once and row["event"] == event for row in rows):
            return  # written once per occurrence, as the DynamoDB store keys it
        rows.append({"event": event, "detail": detail or {}, "once": once})

    def events(self, case_id: str) -> list[str]:
        return [row["event"] for row in self.audits.get(case_id, [])]

    def precedent(self, tenant_id: str, sha256: str) -> Precedent | None:
        return self.rulings.get((tenant_id, sha256))

    def set_precedent(self, tenant_id: str, sha256: str, case_id: str, ruling: Ruling) -> None:
        self.rulings[(tenant_id, sha256)] = Precedent(case_id, ruling)

    def attach(self, case_id: str, attached_id: str) -> None:
        self.items[case_id].setdefault("attached", []).append(attached_id)


class FakeTenants:
    def __init__(self, *tenants: Tenant) -> None:
        self.by_bucket = {bucket: t for t in tenants for bucket in t.buckets}

    def for_bucket(self, bucket: str) -> Tenant | None:
        return self.by_bucket.get(bucket)

    def allowed_hashes(
        self, tenant_id: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]:
        return {}
