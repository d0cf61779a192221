"""DynamoDB Streams: a stream record's old and new images, read as plain items.

Lambda delivers stream records as JSON: binary values (`B`, each member of a `BS`) arrive as
base64 text, numbers as decimal text. boto3's `TypeDeserializer` wants the bytes themselves
(what boto3's own `GetRecords` returns), so binary values are decoded here first.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from chalicelib.errors import MalformedEventError

_deserializer = TypeDeserializer()


def item_images(record: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The item before and after the change of one Lambda stream record (empty when absent:
    no old image for an insert, no new one for a removal). A record that is no stream
    record, or whose images do not read as DynamoDB values, raises `MalformedEventError`."""
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    if not isinstance(stream, dict):
        raise MalformedEventError("stream record has no 'dynamodb' object")
    return _plain(stream.get("OldImage")), _plain(stream.get("NewImage"))


def sequence_number(record: Any) -> str | None:
    """The record's place in its shard: what a partial batch failure names."""
    stream = record.get("dynamodb") if isinstance(record, dict) else None
    number = stream.get("SequenceNumber") if isinstance(stream, dict) else None
    return number if isinstance(number, str) and number else None


def _plain(image: Any) -> dict[str, Any]:
    if image is None:
        return {}
    if not isinstance(image, dict):
        raise MalformedEventError(f"stream image is a {type(image).__name__}, not an object")
    try:
        return {k: _deserializer.deserialize(_wire(v)) for k, v in image.items()}
    except (TypeError, ValueError, AttributeError, ArithmeticError) as error:
        # ArithmeticError: decimal's InvalidOperation for a number that is no number.
        raise MalformedEventError(f"stream image does not read: {error}") from error


def _wire(value: Any) -> dict[str, Any]:
    """One attribute value of Lambda's JSON as boto3's deserializer takes it."""
    if not isinstance(value, dict) or len(value) != 1:
        raise MalformedEventError(f"attribute value {value!r:.80} is not one typed value")
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": _decoded(inner)}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": [_decoded(member) for member in inner]}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {k: _wire(v) for k, v in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_wire(v) for v in inner]}
    return value


def _decoded(text: Any) -> bytes:
    if not isinstance(text, str):
        raise MalformedEventError(f"binary value is a {type(text).__name__}, not base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise MalformedEventError(f"binary value is not base64: {error}") from error
