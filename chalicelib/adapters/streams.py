"""DynamoDB Streams: a stream record's old and new images, read as plain items."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.types import TypeDeserializer

_deserializer = TypeDeserializer()


def item_images(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item before and after the change of one Lambda stream record (empty when absent:
    no old image for an insert, no new one for a removal)."""
    stream = record.get("dynamodb", {})
    return _plain(stream.get("OldImage")), _plain(stream.get("NewImage"))


def _plain(image: dict[str, Any] | None) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in (image or {}).items()}
