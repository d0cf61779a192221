"""Hash updates, fanned out to subscribers from the hash table's DynamoDB Stream.

Every change to a shared hash (added, changed, disputed, retired, removed) becomes one
`HashUpdate`, published on the hash-updates SNS topic with message attributes (`signal_type`,
`change`, `labels`, `source`), so each tenant subscribes an SQS queue with a filter policy
(for example `{"signal_type": ["pdq"], "change": ["added"]}`) and gets only what it wants.
The table's own bookkeeping items (sequence counters) are not updates and are dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.feed import change_between

_deserializer = TypeDeserializer()


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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        return data


def _plain(image: dict[str, Any] | None) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in (image or {}).items()}


def change_of(old: dict[str, Any], new: dict[str, Any]) -> str:
    """The change between two images of a hash item, as the delta feed names it."""
    if not new:
        return "removed"
    return change_between(old.get("status", "active") if old else None, new.get("status", "active"))


def updates_from_stream(records: Iterable[dict[str, Any]]) -> Iterator[HashUpdate]:
    """Hash updates in a DynamoDB Stream batch (Lambda's event records), in stream order."""
    for record in records:
        stream = record.get("dynamodb", {})
        old, new = _plain(stream.get("OldImage")), _plain(stream.get("NewImage"))
        item = new or old
        if not item or str(item.get("signal_type", "")).startswith("_"):
            continue  # counters and other bookkeeping
        yield HashUpdate(
            change=change_of(old, new),
            signal_type=item["signal_type"],
            value=item["value"],
            labels=tuple(item.get("labels") or ()),
            source=item.get("source", ""),
            status=item.get("status", "active"),
            seq=int(item["seq"]) if item.get("seq") is not None else None,
            case_id=item.get("case_id"),
        )


class UpdatePublisher:
    """Publishes hash updates on the SNS topic tenants subscribe to."""

    def __init__(self, sns: Any, topic_arn: str) -> None:
        self.sns = sns
        self.topic_arn = topic_arn

    def publish(self, update: HashUpdate) -> None:
        attributes: dict[str, Any] = {
            "signal_type": {"DataType": "String", "StringValue": update.signal_type},
            "change": {"DataType": "String", "StringValue": update.change},
            "source": {"DataType": "String", "StringValue": update.source or "-"},
        }
        if update.labels:
            attributes["labels"] = {
                "DataType": "String.Array",
                "StringValue": json.dumps(list(update.labels)),
            }
        self.sns.publish(
            TopicArn=self.topic_arn,
            Message=json.dumps(update.to_dict()),
            MessageAttributes=attributes,
        )


def fan_out(records: list[dict[str, Any]], publisher: UpdatePublisher) -> int:
    """Publish every update of a stream batch; returns how many."""
    published = 0
    for update in updates_from_stream(records):
        publisher.publish(update)
        published += 1
    return published
