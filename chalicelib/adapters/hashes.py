"""The shared hash table (DynamoDB) and the PDQ index a warm Lambda keeps of it.

Items: key (`signal_type`, `value`); labels, provenance (source, case, time), status, and `seq`,
a number per signal type that grows with every write. A sparse GSI `by_seq` (`feed`, `seq`)
reads the writes of one type in order: it is how a warm container catches up, and the base of
the tenants' delta feed. The counter of each type is the item (`_seq`, type).

Freshness: a container's index remembers the highest `seq` below which it has seen every item.
Before a query it reads the counter (one consistent GetItem) if it last did so more than
`max_age` seconds ago, and loads the items after its watermark through the GSI. A new hash is
therefore matchable everywhere within `max_age` seconds plus one batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition

from chalicelib.index import HammingIndex
from chalicelib.models import HashRecord, now_iso
from chalicelib.signals import PDQ, SIGNAL_TYPES

COUNTER_TYPE = "_seq"
SEQ_INDEX = "by_seq"
# A seq that was handed out but whose item never appeared (its writer died) stops holding
# the watermark back after this long.
ABANDONED_GAP_SECONDS = 60.0


def record_from_item(item: Mapping[str, Any]) -> HashRecord:
    return HashRecord(
        signal_type=item["signal_type"],
        value=item["value"],
        labels=tuple(item.get("labels", ())),
        source=item.get("source", "import"),
        case_id=item.get("case_id"),
        added_at=item.get("added_at"),
        status=item.get("status", "active"),
        confirmed_by=item.get("confirmed_by"),
    )


class HashTable:
    def __init__(self, table: Any, index_max_age: float = 5.0) -> None:
        self.table = table
        self.index_max_age = index_max_age
        self._pdq = _IndexCache(self, PDQ.name, PDQ.bits)

    # -- writes ------------------------------------------------------------------------
    def _allocate(self, signal_type: str, count: int) -> int:
        """Reserve `count` sequence numbers; returns the first."""
        response = self.table.update_item(
            Key={"signal_type": COUNTER_TYPE, "value": signal_type},
            UpdateExpression="ADD seq :n",
            ExpressionAttributeValues={":n": count},
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["seq"]) - count + 1

    def put(self, records: Iterable[HashRecord]) -> int:
        """Add or replace entries; values are validated and normalised first."""
        by_type: dict[str, list[HashRecord]] = {}
        for record in records:
            canonical = SIGNAL_TYPES[record.signal_type].validate(record.value)
            by_type.setdefault(record.signal_type, []).append(
                HashRecord(**{**record.__dict__, "value": canonical})
            )
        written = 0
        with self.table.batch_writer(overwrite_by_pkeys=["signal_type", "value"]) as batch:
            for signal_type, group in by_type.items():
                first = self._allocate(signal_type, len(group))
                for offset, record in enumerate(group):
                    item = {
                        "signal_type": signal_type,
                        "value": record.value,
                        "labels": list(record.labels),
                        "source": record.source,
                        "added_at": record.added_at or now_iso(),
                        "status": record.status,
                        "feed": signal_type,
                        "seq": first + offset,
                    }
                    if record.case_id:
                        item["case_id"] = record.case_id
                    if record.confirmed_by:
                        item["confirmed_by"] = record.confirmed_by
                    batch.put_item(Item=item)
                    written += 1
        return written

    # -- reads -------------------------------------------------------------------------
    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], HashRecord]:
        """Exact lookups, at most 100 keys a request. Eventually consistent (half the price):
        a hash written less than a second ago may be missed once, well inside the freshness
        bound of the index (`index_max_age`)."""
        found: dict[tuple[str, str], HashRecord] = {}
        unique = list(dict.fromkeys(keys))
        client = self.table.meta.client
        for start in range(0, len(unique), 100):
            request = {
                self.table.name: {
                    "Keys": [
                        {"signal_type": t, "value": v} for t, v in unique[start : start + 100]
                    ],
                    "ConsistentRead": False,
                }
            }
            while request:
                response = client.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self.table.name, []):
                    record = record_from_item(item)
                    found[(record.signal_type, record.value)] = record
                request = response.get("UnprocessedKeys") or {}
        return found

    def current_seq(self, signal_type: str) -> int:
        item = self.table.get_item(
            Key={"signal_type": COUNTER_TYPE, "value": signal_type}, ConsistentRead=True
        ).get("Item")
        return int(item["seq"]) if item else 0

    def since(self, signal_type: str, after_seq: int) -> Iterable[dict[str, Any]]:
        """Items of one type written after `after_seq`, in order (eventually consistent GSI)."""
        kwargs: dict[str, Any] = {
            "IndexName": SEQ_INDEX,
            "KeyConditionExpression": KeyCondition("feed").eq(signal_type)
            & KeyCondition("seq").gt(after_seq),
        }
        while True:
            response = self.table.query(**kwargs)
            yield from response["Items"]
            if "LastEvaluatedKey" not in response:
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def pdq_index(self) -> HammingIndex:
        """This container's PDQ index, brought up to date if it may be stale."""
        return self._pdq.fresh()


class _IndexCache:
    """One signal type's index in a warm container, and how far it has read the table."""

    def __init__(self, table: HashTable, signal_type: str, bits: int) -> None:
        self.table = table
        self.signal_type = signal_type
        self.index = HammingIndex(bits)
        self.watermark = 0  # every item with seq <= watermark is in the index
        self.seen: set[str] = set()
        self.seen_seqs: set[int] = set()
        self.gap_since: dict[int, float] = {}
        self.checked_at = float("-inf")

    def fresh(self) -> HammingIndex:
        now = time.monotonic()
        if now - self.checked_at >= self.table.index_max_age:
            self.checked_at = now
            top = self.table.current_seq(self.signal_type)
            if top > self.watermark:
                self._catch_up(top, now)
        return self.index

    def _catch_up(self, top: int, now: float) -> None:
        fresh_values = []
        for item in self.table.since(self.signal_type, self.watermark):
            self.seen_seqs.add(int(item["seq"]))
            if item["value"] not in self.seen:
                self.seen.add(item["value"])
                fresh_values.append(item["value"])
        self.index.add(fresh_values)
        # Advance over every seq seen; wait for missing ones (a writer still at work) until
        # they are old enough to be given up.
        while self.watermark < top:
            following = self.watermark + 1
            if following in self.seen_seqs:
                self.seen_seqs.discard(following)
            elif now - self.gap_since.setdefault(following, now) < ABANDONED_GAP_SECONDS:
                break
            self.gap_since.pop(following, None)
            self.watermark = following
