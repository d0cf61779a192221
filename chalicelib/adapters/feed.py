"""The delta feed's log in the hash table (DynamoDB): numbered entries, and their counters.

Entries are items `signal_type` = "_feed", `value` = the zero-padded sequence number, so one
query reads them in order from a cursor; numbers come from counter items (`_seq`, name), the
per-type sequences of `HashTable` and the feed's own alike. What a reader may see, and how it
steps over a hole, is `chalicelib.feed`'s business.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key as KeyCondition

from chalicelib.models import now_iso

FEED_TYPE = "_feed"
COUNTER_TYPE = "_seq"
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


class FeedLog:
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

    def after(self, cursor: int, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` entries numbered above `cursor`, in order, as plain dicts (a
        consistent read: an entry just written is there)."""
        response = self.table.query(
            KeyConditionExpression=KeyCondition("signal_type").eq(FEED_TYPE)
            & KeyCondition("value").gt(_key(cursor)),
            Limit=limit,
            ConsistentRead=True,
        )
        return [_plain(item) for item in response["Items"]]


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
