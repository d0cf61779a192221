"""The delta feed of shared hashes: every change, in order, read from a cursor.

An append-only log in the hash table itself (`signal_type` = "_feed", `value` = the zero-padded
sequence number), written by `HashTable.put` alongside each change, numbered from one counter.
A reader passes the last sequence number it saw and gets what came after, in order, removals
(retired) and disputes included, so a tenant that was away for a week catches up exactly.

No gap, no duplicate: numbers are handed out before the entries are written, so a reader may
see number 12 before 11 exists. It then stops before the hole and its cursor stays at 10; the
next read picks up 11 and 12 together. A hole older than `ABANDONED_GAP_SECONDS` (a writer that
died between counter and item) is stepped over.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition

from chalicelib.models import Tenant, audience_admits, now_iso

FEED_TYPE = "_feed"
COUNTER_TYPE = "_seq"
ABANDONED_GAP_SECONDS = 60.0
WIDTH = 20


def _key(seq: int) -> str:
    return f"{seq:0{WIDTH}d}"


def reserve(table: Any, counter: str, count: int) -> int:
    """Reserve `count` numbers of one of the hash table's counters (`_seq`, counter); returns
    the first. The per-type sequences and the feed's share this one mechanism."""
    response = table.update_item(
        Key={"signal_type": COUNTER_TYPE, "value": counter},
        UpdateExpression="ADD seq :n",
        ExpressionAttributeValues={":n": count},
        ReturnValues="UPDATED_NEW",
    )
    return int(response["Attributes"]["seq"]) - count + 1


def change_between(before: str | None, after: str) -> str:
    if before is None:
        return "added"
    if before == after:
        return "changed"
    return {"disputed": "disputed", "retired": "retired", "held": "held"}.get(after, "reactivated")


class UpdateFeed:
    def __init__(self, table: Any) -> None:
        self.table = table

    def allocate(self, count: int) -> int:
        """Reserve `count` feed numbers; returns the first."""
        return reserve(self.table, FEED_TYPE, count)

    @staticmethod
    def entry(seq: int, change: str, item: dict[str, Any]) -> dict[str, Any]:
        """The feed item recording one change of one hash item."""
        return {
            "signal_type": FEED_TYPE,
            "value": _key(seq),
            "seq": seq,
            "change": change,
            "hash_type": item["signal_type"],
            "hash_value": item["value"],
            "labels": list(item.get("labels", [])),
            "status": item.get("status", "active"),
            "source": item.get("source", ""),
            "case_id": item.get("case_id"),
            "visibility": item.get("visibility", "all"),
            "groups": sorted(item.get("groups") or ()),
            "variant": item.get("variant", "original"),
            "variant_of": item.get("variant_of"),
            "at": now_iso(),
        }

    def read(
        self,
        cursor: int = 0,
        limit: int = 100,
        now: datetime | None = None,
        reader: Tenant | None = None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Entries after `cursor`, in order, without a hole; and the cursor to read from next.

        A `reader` gets only the entries it may see; the cursor moves past the others too, so
        one page may hold fewer than `limit` entries and still not be the last."""
        now = now or datetime.now(UTC)
        response = self.table.query(
            KeyConditionExpression=KeyCondition("signal_type").eq(FEED_TYPE)
            & KeyCondition("value").gt(_key(cursor)),
            Limit=limit,
            ConsistentRead=True,
        )
        entries: list[dict[str, Any]] = []
        expected = cursor + 1
        for item in response["Items"]:
            seq = int(item["seq"])
            if seq != expected:
                age = (now - datetime.fromisoformat(item["at"])).total_seconds()
                if age < ABANDONED_GAP_SECONDS:
                    break  # a writer may still fill the hole: come back for it
            entries.append(_plain(item))
            expected = seq + 1
        next_cursor = entries[-1]["seq"] if entries else cursor
        if reader is not None:
            entries = [
                e
                for e in entries
                if audience_admits(e["visibility"], e["groups"], e["source"], reader)
            ]
        return entries, next_cursor


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": int(item["seq"]),
        "change": item["change"],
        "signal_type": item["hash_type"],
        "value": item["hash_value"],
        "labels": list(item.get("labels", [])),
        "status": item["status"],
        "source": item.get("source", ""),
        "case_id": item.get("case_id"),
        "visibility": item.get("visibility", "all"),
        "groups": list(item.get("groups", [])),
        "variant": item.get("variant", "original"),
        "variant_of": item.get("variant_of"),
        "at": item["at"],
    }
