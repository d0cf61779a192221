"""Every envelope an upload can reach Cordon in, turned into `ObjectRef`s.

Accepted message bodies (each may arrive as the body of an SQS message):

- an S3 event notification (``{"Records": [{"eventSource": "aws:s3", ...}]}``), S3 -> SQS;
- the same inside an SNS notification (S3 -> SNS -> SQS), or delivered raw by SNS;
- a Lambda SNS event (``{"Records": [{"EventSource": "aws:sns", "Sns": {...}}]}``), what a
  function subscribed to the topic receives (saved events, SAM CLI's samples);
- an EventBridge "Object Created" event (S3 -> EventBridge -> SQS);
- Cordon's replay form, ``{"bucket": ..., "key": ..., "version_id": ...}`` with a raw key.

``s3:TestEvent`` messages, deletions and notifications with no records are recognised and
ignored. Anything else raises `MalformedEventError`, and so does a known shape whose fields have
the wrong types (a numeric key, a null bucket, a size that is no count of bytes): retrying a
body nobody can read cannot help, so it is dead-lettered at once with the reason.

Saved documents (`cordon replay`) may hold several bodies: `message_bodies` reads a Lambda SQS
event and what ``aws sqs receive-message`` prints (``{"Messages": [...]}``).

Keys: S3 notifications form-encode them (a space arrives as ``+``), so they are decoded with
``unquote_plus``. EventBridge events carry the key as it is, so it is left alone (powertools'
``S3EventBridgeNotificationObject.key`` decodes it, which breaks keys holding ``+`` or ``%``:
that is why this module reads the dicts itself).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.errors import MalformedEventError
from chalicelib.models import ObjectRef


@dataclass(frozen=True)
class ParsedBody:
    refs: tuple[ObjectRef, ...] = ()
    ignored: tuple[str, ...] = ()


def parse_body(body: str | dict[str, Any]) -> ParsedBody:
    """Read one message body, whatever its envelope."""
    message = _load(body) if isinstance(body, str) else body
    if not isinstance(message, dict):
        raise MalformedEventError(f"message body is a JSON {type(message).__name__}, not an object")
    return _parse_message(message, envelope="s3")


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError, RecursionError) as error:
        # RecursionError: nesting deeper than the parser's stack, which no event has.
        raise MalformedEventError(f"message body is not JSON: {error}") from error


def _parse_message(message: dict[str, Any], envelope: str) -> ParsedBody:
    if message.get("Event") == "s3:TestEvent":
        return ParsedBody(ignored=(f"s3:TestEvent for bucket {message.get('Bucket', '?')}",))
    if message.get("Type") == "Notification" and "Message" in message:
        return _parse_sns_notification(message)
    if message.get("source") == "aws.s3" and "detail-type" in message:
        return _parse_eventbridge(message)
    if isinstance(message.get("Records"), list):
        return _parse_records(message["Records"], envelope)
    if isinstance(message.get("bucket"), str) and isinstance(message.get("key"), str):
        return ParsedBody(refs=(_replay_ref(message),))
    raise MalformedEventError(f"unknown event shape with keys {sorted(message)[:8]}")


def _parse_sns_notification(notification: dict[str, Any]) -> ParsedBody:
    inner = _load(notification["Message"])
    if not isinstance(inner, dict):
        raise MalformedEventError("SNS notification does not wrap a JSON object")
    return _parse_message(inner, envelope="sns")


def _parse_records(records: list[Any], envelope: str) -> ParsedBody:
    if not records:
        # Nothing to process, but said so: a silent drop looks like a lost upload.
        return ParsedBody(ignored=("notification with no records",))
    if all(isinstance(r, dict) and r.get("EventSource") == "aws:sns" for r in records):
        return _parse_sns_lambda_event(records)
    return _parse_notification(records, envelope)


def _parse_sns_lambda_event(records: list[dict[str, Any]]) -> ParsedBody:
    """Each record's ``Sns`` is the notification an SQS subscription would have received."""
    refs: list[ObjectRef] = []
    ignored: list[str] = []
    for record in records:
        notification = record.get("Sns")
        if not isinstance(notification, dict) or "Message" not in notification:
            raise MalformedEventError("SNS record lacks 'Sns.Message'")
        parsed = _parse_sns_notification(notification)
        refs.extend(parsed.refs)
        ignored.extend(parsed.ignored)
    return ParsedBody(refs=tuple(refs), ignored=tuple(ignored))


def _parse_notification(records: list[Any], envelope: str) -> ParsedBody:
    refs: list[ObjectRef] = []
    ignored: list[str] = []
    for record in records:
        try:
            name = record["eventName"]
            bucket = record["s3"]["bucket"]["name"]
            obj = record["s3"]["object"]
            raw_key = obj["key"]
        except (KeyError, TypeError) as error:
            raise MalformedEventError(f"S3 record lacks {error}") from error
        _require_text(name=name, bucket=bucket, key=raw_key)
        _require_object(obj)
        key = unquote_plus(raw_key)
        if not name.startswith("ObjectCreated:"):
            ignored.append(f"{name} for s3://{bucket}/{key}")
            continue
        refs.append(
            _checked_ref(
                bucket=bucket,
                key=key,
                version_id=obj.get("versionId"),
                etag=obj.get("eTag"),
                size=obj.get("size"),
                event_time=record.get("eventTime"),
                envelope=envelope,
                sequencer=obj.get("sequencer"),
            )
        )
    return ParsedBody(refs=tuple(refs), ignored=tuple(ignored))


def _parse_eventbridge(message: dict[str, Any]) -> ParsedBody:
    detail = message.get("detail") or {}
    try:
        bucket = detail["bucket"]["name"]
        obj = detail["object"]
        key = obj["key"]
    except (KeyError, TypeError) as error:
        raise MalformedEventError(f"EventBridge S3 event lacks {error}") from error
    _require_text(bucket=bucket, key=key, detail_type=message["detail-type"])
    _require_object(obj)
    if message["detail-type"] != "Object Created":
        return ParsedBody(ignored=(f"{message['detail-type']} for s3://{bucket}/{key}",))
    ref = _checked_ref(
        bucket=bucket,
        key=key,
        version_id=obj.get("version-id"),
        etag=obj.get("etag") or obj.get("eTag"),  # AWS writes "etag", moto "eTag"
        size=obj.get("size"),
        event_time=_event_time(message.get("time")),
        envelope="eventbridge",
        sequencer=obj.get("sequencer"),
    )
    return ParsedBody(refs=(ref,))


def _require_text(**fields: Any) -> None:
    for name, value in fields.items():
        if not isinstance(value, str) or not value:
            raise MalformedEventError(f"event's {name} is {value!r:.80}, not a non-empty string")


def _require_object(obj: Any) -> None:
    if not isinstance(obj, dict):
        raise MalformedEventError(f"event's object is a {type(obj).__name__}, not an object")


def _checked_ref(**fields: Any) -> ObjectRef:
    """An `ObjectRef` whose every field has the type the pipeline reads it as: a wrong one
    fails here, as the malformed event it is, not later in a retry that cannot help."""
    _require_text(bucket=fields["bucket"], key=fields["key"])
    for name in ("version_id", "etag", "event_time", "sequencer"):
        value = fields[name]
        if value is not None and not isinstance(value, str):
            raise MalformedEventError(f"event's {name} is {value!r:.80}, not a string")
    size = fields["size"]
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise MalformedEventError(f"event's size is {size!r:.80}, not a count of bytes")
    return ObjectRef(**fields)


def _event_time(value: Any) -> str | None:
    """ISO 8601 text; moto's EventBridge events carry a Unix time number instead."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat()
        except (OverflowError, OSError, ValueError) as error:
            raise MalformedEventError(f"event's time {value!r:.80} is no time: {error}") from error
    return value


def _replay_ref(message: dict[str, Any]) -> ObjectRef:
    return _checked_ref(
        bucket=message["bucket"],
        key=message["key"],
        version_id=message.get("version_id"),
        etag=message.get("etag"),
        size=message.get("size"),
        event_time=message.get("event_time"),
        envelope="replay",
        sequencer=message.get("sequencer"),
    )


def message_bodies(document: Any) -> list[Any]:
    """The SQS message bodies one saved JSON document holds: a Lambda SQS event's records, the
    messages ``aws sqs receive-message`` printed, or else the document itself (one body)."""
    if isinstance(document, dict):
        if _is_lambda_sqs_event(document):
            return _lambda_sqs_bodies(document["Records"])
        if isinstance(document.get("Messages"), list):
            return _receive_message_bodies(document["Messages"])
    return [document]


def _is_lambda_sqs_event(document: dict[str, Any]) -> bool:
    records = document.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and all(isinstance(r, dict) and r.get("eventSource") == "aws:sqs" for r in records)
    )


def _lambda_sqs_bodies(records: list[dict[str, Any]]) -> list[Any]:
    # A record without its body is passed on whole: parsing it then names the keys it has.
    return [record.get("body", record) for record in records]


def _receive_message_bodies(messages: list[Any]) -> list[Any]:
    """ReceiveMessage's output spells the body ``Body`` (Lambda's records: ``body``)."""
    return [m.get("Body", m) if isinstance(m, dict) else m for m in messages]


def replay_body(ref: ObjectRef) -> str:
    """The message body that makes Cordon process `ref` again (the replay form)."""
    return json.dumps(
        {"bucket": ref.bucket, "key": ref.key, "version_id": ref.version_id, "etag": ref.etag}
    )
