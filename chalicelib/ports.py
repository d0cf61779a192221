"""The stores the pipeline works through, as typing Protocols: the adapters in
`chalicelib/adapters/` are what runs (against AWS, or moto locally); the in-memory fakes in
`tests/unit/fakes.py` let the lifecycle's at-most-once rules be tested in milliseconds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from chalicelib.adapters.storage import EvidenceCopy, Fetched, ObjectHead
    from chalicelib.index import HammingIndex
    from chalicelib.lifecycle import Case, Precedent, Ruling
    from chalicelib.models import HashRecord, ObjectRef, Tenant


class Objects(Protocol):
    """Tenants' objects and the evidence bucket (`adapters.storage.ObjectStore`)."""

    def head(self, ref: ObjectRef) -> ObjectHead: ...

    def fetch(self, ref: ObjectRef, max_bytes: int) -> Fetched: ...

    def read_evidence(self, evidence: dict[str, Any]) -> bytes: ...

    def store_evidence(
        self,
        ref: ObjectRef,
        evidence_key: str,
        data: bytes | None,
        sha256_hex: str,
        metadata: dict[str, str],
        head: ObjectHead | None = None,
    ) -> EvidenceCopy: ...

    def delete_original(self, ref: ObjectRef, head: ObjectHead | None) -> None: ...


class SharedHashes(Protocol):
    """The shared hash table (`adapters.hashes.HashTable`)."""

    def get_many(
        self, keys: Sequence[tuple[str, str]], consistent: bool = False
    ) -> dict[tuple[str, str], HashRecord]: ...

    # One signal type's index of shared values; None for a type looked up exactly.
    def index(self, signal_type: str) -> HammingIndex | None: ...


class Cases(Protocol):
    """Cases, their audit trails and the tenants' rulings (`adapters.cases.CaseStore`)."""

    def get(self, case_id: str) -> Case | None: ...

    def open(self, case_id: str, tenant_id: str, status: str, fields: dict[str, Any]) -> bool: ...

    def set_status(
        self, case_id: str, status: str, fields: dict[str, Any] | None = None
    ) -> None: ...

    def update_fields(self, case_id: str, fields: dict[str, Any]) -> None: ...

    def audit(
        self,
        case_id: str,
        event: str,
        detail: dict[str, Any] | None = None,
        actor: str = ...,
        once: str | None = None,
    ) -> None: ...

    def precedent(self, tenant_id: str, sha256: str) -> Precedent | None: ...

    def set_precedent(self, tenant_id: str, sha256: str, case_id: str, ruling: Ruling) -> None: ...

    def attach(self, case_id: str, attached_id: str) -> None: ...


class Tenants(Protocol):
    """The tenant registry (`adapters.tenants.TenantRegistry`)."""

    def for_bucket(self, bucket: str) -> Tenant | None: ...

    def allowed_hashes(
        self, tenant_id: str, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, Any]]: ...
