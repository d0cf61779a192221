"""What the AWS requests Cordon makes would be billed: S3 requests by class, and DynamoDB
read and write request units (RRU, WRU) by table, global secondary indexes included.

A context manager that watches every boto3 client created while it is open (moto answers
them as AWS would); it adds no request of its own to what it counts. DynamoDB's rules, as
billed on demand (AWS, "Read/write capacity mode", "Item sizes and formats"):

- item size: attribute names and values in UTF-8, numbers about 1 byte per 2 digits + 1,
  lists and maps 3 bytes + 1 per element;
- reads: 1 RRU per 4 KB started for a strongly consistent read, half that eventually
  consistent; a BatchGetItem key counts as one read of its item (at least one unit's share),
  a Query as one read of all the items it returns together;
- writes: 1 WRU per 1 KB started of the larger of the item before and after; a failed
  conditional write is charged too; each GSI the item is (or was) in costs its own writes of
  the projected item: a put when it enters, a delete when it leaves, both when its index key
  changes, one update when projected attributes change.
"""

from __future__ import annotations

import collections
import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import botocore.client

S3_CLASSES = {
    "GetObject": "get",
    "HeadObject": "get",
    "GetObjectTagging": "get",
    "PutObject": "put",
    "CopyObject": "put",
    "ListObjectsV2": "put",
    "ListObjectVersions": "put",
    "DeleteObject": "delete",
}


def _value_size(value: dict[str, Any]) -> int:
    ((kind, data),) = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = len(data.lstrip("-").replace(".", "").strip("0")) or 1
        return (digits + 1) // 2 + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in data.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in data)
    if kind in ("SS", "BS"):
        return sum(len(v.encode()) if isinstance(v, str) else len(v) for v in data)
    if kind == "NS":
        return sum(_value_size({"N": v}) for v in data)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """Bytes DynamoDB bills an item (in its typed JSON form) for."""
    if not item:
        return 0
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


@dataclass
class _Index:
    keys: tuple[str, ...]
    projection: str
    include: tuple[str, ...]

    def project(self, item: dict[str, Any] | None, table_keys: tuple[str, ...]) -> dict | None:
        if not item or any(k not in item for k in self.keys):
            return None  # sparse: the item is not in this index
        if self.projection == "ALL":
            return item
        kept = set(self.keys) | set(table_keys) | set(self.include)
        return {k: v for k, v in item.items() if k in kept}


@dataclass
class Meter:
    """Counts, since `reset`, of S3 requests by class and DynamoDB units by table."""

    s3: collections.Counter[str] = field(default_factory=collections.Counter)
    rru: collections.Counter[str] = field(default_factory=collections.Counter)
    wru: collections.Counter[str] = field(default_factory=collections.Counter)
    calls: collections.Counter[str] = field(default_factory=collections.Counter)
    call_seconds: float = 0.0  # inside S3 and DynamoDB calls (moto's, boto3's, the meter's)
    _side: Any = None
    _tables: dict[str, tuple[tuple[str, ...], list[_Index]]] = field(default_factory=dict)
    _watched: set[int] = field(default_factory=set)

    def reset(self) -> None:
        for counter in (self.s3, self.rru, self.wru, self.calls):
            counter.clear()
        self.call_seconds = 0.0

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {
            "s3": dict(self.s3),
            "rru": dict(self.rru),
            "wru": dict(self.wru),
            "calls": dict(self.calls),
        }

    # -- DynamoDB ------------------------------------------------------------------------
    def _schema(self, table: str) -> tuple[tuple[str, ...], list[_Index]]:
        if table not in self._tables:
            described = self._side.describe_table(TableName=table)["Table"]
            keys = tuple(k["AttributeName"] for k in described["KeySchema"])
            indexes = [
                _Index(
                    tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                    gsi["Projection"]["ProjectionType"],
                    tuple(gsi["Projection"].get("NonKeyAttributes", [])),
                )
                for gsi in described.get("GlobalSecondaryIndexes", [])
            ]
            self._tables[table] = (keys, indexes)
        return self._tables[table]

    def _current(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._side.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def _write(
        self, table: str, old: dict | None, new: dict | None, succeeded: bool, op: str
    ) -> None:
        keys, indexes = self._schema(table)
        units = _units(max(item_size(old), item_size(new)), 1024)
        if succeeded:
            for index in indexes:
                before, after = index.project(old, keys), index.project(new, keys)
                if before is None and after is None:
                    continue
                if before is None or after is None:
                    units += _units(item_size(before or after), 1024)
                elif any(before[k] != after[k] for k in index.keys):
                    units += _units(item_size(before), 1024) + _units(item_size(after), 1024)
                elif before != after:
                    units += _units(max(item_size(before), item_size(after)), 1024)
        self.wru[f"{table} {op}"] += units

    def _before(self, model: Any, params: dict[str, Any], context: dict, **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        name = model.name
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            table = body["TableName"]
            keys, _ = self._schema(table)
            key = body.get("Key") or {k: body["Item"][k] for k in keys}
            context["cordon_meter"] = (table, key, self._current(table, key), body)

    def _after(self, model: Any, http_response: Any, context: dict, **_: Any) -> None:
        name = model.name
        ok = http_response.status_code < 300
        try:
            response = json.loads(http_response.content or b"{}")
        except ValueError:
            response = {}
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            table, key, old, body = context.pop("cordon_meter")
            new = self._current(table, key) if ok else body.get("Item", old)
            self._write(table, old, new, ok, name)
        elif name == "GetItem" and ok:
            factor = 1.0 if context.get("cordon_consistent") else 0.5
            units = _units(item_size(response.get("Item")), 4096)
            label = f"{context.get('cordon_table')} GetItem {context.get('cordon_kind', '')}"
            self.rru[label.rstrip()] += factor * units
        elif name == "BatchGetItem" and ok:
            for table, items in response.get("Responses", {}).items():
                requested = context.get("cordon_batch", {}).get(table, len(items))
                units = sum(_units(item_size(i), 4096) for i in items)
                units += max(0, requested - len(items))  # keys not found still cost a read
                self.rru[f"{table} BatchGetItem"] += 0.5 * units
        elif name in ("Query", "Scan") and ok:
            size = sum(item_size(i) for i in response.get("Items", []))
            factor = 1.0 if context.get("cordon_consistent") else 0.5
            self.rru[f"{context.get('cordon_table')} {name}"] += factor * _units(size, 4096)

    def _note_reads(self, model: Any, params: dict[str, Any], context: dict, **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        context["cordon_table"] = body.get("TableName")
        context["cordon_consistent"] = bool(body.get("ConsistentRead"))
        # What kind of item a GetItem reads, by its key's prefix ("BUCKET#...", "ALLOW#..."):
        # periodic lookups (cached ones) are told apart from per-object ones this way.
        first = next(iter((body.get("Key") or {}).values()), {})
        value = first.get("S", "") if isinstance(first, dict) else ""
        context["cordon_kind"] = value.split("#")[0] if "#" in value else ""
        if model.name == "BatchGetItem":
            context["cordon_batch"] = {
                t: len(r.get("Keys", [])) for t, r in body.get("RequestItems", {}).items()
            }

    # -- wiring --------------------------------------------------------------------------
    def watch(self, client: Any) -> None:
        if id(client) in self._watched or client is self._side:
            return
        self._watched.add(id(client))
        service = client.meta.service_model.service_name
        events = client.meta.events
        if service == "s3":

            def count_s3(model: Any, **_: Any) -> None:
                self.calls[f"s3 {model.name}"] += 1
                self.s3[S3_CLASSES.get(model.name, "other")] += 1

            events.register("before-call.s3", count_s3)
        elif service == "dynamodb":

            def count(model: Any, **_: Any) -> None:
                self.calls[f"dynamodb {model.name}"] += 1

            events.register("before-call.dynamodb", count)
            events.register("before-call.dynamodb", self._note_reads)
            events.register("before-call.dynamodb", self._before)
            events.register("after-call.dynamodb", self._after)


@contextmanager
def metering(session: Any) -> Iterator[Meter]:
    """Meter every S3 and DynamoDB client that makes a request while this is open."""
    meter = Meter(_side=session.client("dynamodb"))
    real = botocore.client.BaseClient._make_api_call

    def watched(client: Any, operation: str, params: dict[str, Any]) -> Any:
        meter.watch(client)
        if client is meter._side or client.meta.service_model.service_name not in (
            "s3",
            "dynamodb",
        ):
            # The meter's own reads happen inside the call they account for: timed with it.
            return real(client, operation, params)
        start = time.perf_counter()
        try:
            return real(client, operation, params)
        finally:
            meter.call_seconds += time.perf_counter() - start

    botocore.client.BaseClient._make_api_call = watched  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        botocore.client.BaseClient._make_api_call = real  # type: ignore[method-assign]
