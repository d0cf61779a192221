"""Events of a known shape whose fields have the wrong types, through the real handlers in moto:
the ingest queue dead-letters them at once with the reason, the hash stream parks them and goes
on; neither blocks the records beside them."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

import app as chalice_app
from chalicelib.ingest import REASON_ATTRIBUTE
from cordon_cli import samples
from cordon_cli.runner import LocalContext
from tests.conftest import World
from tests.events import load_event

BUCKET = "alpha-uploads"
KEY = "poster.jpg"
BAD_JPEG = samples.jpeg(samples.known_bad(1)[0])


def _s3(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = load_event("s3-put-moto.json")
    event["Records"][0]["s3"]["bucket"]["name"] = BUCKET
    event["Records"][0]["s3"]["object"]["key"] = KEY
    change(event)
    return event


def _eventbridge(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    event = load_event("eventbridge-object-created-moto.json")
    event["detail"]["bucket"]["name"] = BUCKET
    event["detail"]["object"]["key"] = KEY
    change(event)
    return event


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Sets `value` at a dotted path ("Records.0.s3.object.size")."""

    def change(event: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = event
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value

    return change


OBJ = "Records.0.s3.object"
# Each is the body an uploader's platform (or a broken relay) could put on the queue, naming an
# object that exists: read as it claims to be, it would fail in the pipeline, again and again.
FOREIGN: dict[str, Any] = {
    "size-text": _s3(_set(f"{OBJ}.size", "abc")),
    "size-negative": _s3(_set(f"{OBJ}.size", -1)),
    "size-bool": _s3(_set(f"{OBJ}.size", True)),
    "size-float": _s3(_set(f"{OBJ}.size", 2.5)),
    "key-number": _s3(_set(f"{OBJ}.key", 5)),
    "bucket-null": _s3(_set("Records.0.s3.bucket.name", None)),
    "s3-list": _s3(_set("Records.0.s3", [])),
    "object-text": _s3(_set(f"{OBJ}", "poster.jpg")),
    "records-text": {"Records": "x"},
    "record-number": {"Records": [5]},
    "version-number": _s3(_set(f"{OBJ}.versionId", 5)),
    "etag-list": _s3(_set(f"{OBJ}.eTag", ["x"])),
    "sequencer-object": _s3(_set(f"{OBJ}.sequencer", {})),
    "event-time-number": _s3(_set("Records.0.eventTime", 5)),
    "eventbridge-size-text": _eventbridge(_set("detail.object.size", "abc")),
    "eventbridge-time-huge": _eventbridge(_set("time", 1e300)),
    "eventbridge-detail-type-number": _eventbridge(_set("detail-type", 7)),
    "eventbridge-object-list": _eventbridge(_set("detail.object", [])),
    "replay-etag-number": {"bucket": BUCKET, "key": KEY, "etag": 12},
    "replay-size-text": {"bucket": BUCKET, "key": KEY, "size": "12"},
    "sns-message-number": {"Type": "Notification", "Message": 5},
}
NESTED = "[" * 100_000 + "]" * 100_000  # deeper than json's parser goes


def _dead_letters(world: World) -> list[dict[str, Any]]:
    url = world.stack.refs["IngestDeadLetterQueue"]
    found: list[dict[str, Any]] = []
    while batch := world.cordon.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        found.extend(batch)
    return found


def test_wrong_field_types_are_dead_lettered_at_once_with_the_reason(world: World):
    # GIVEN a tenant, an object in its bucket that matches a shared hash, and on the queue one
    # event of each foreign shape naming it, then the object's true event (from S3 itself)
    world.tenant("alpha", BUCKET)
    world.share("sha256", _sha256(BAD_JPEG))
    queue = world.stack.refs["IngestQueue"]
    bodies = {name: json.dumps(event) for name, event in FOREIGN.items()}
    bodies["nested-json"] = NESTED
    for body in bodies.values():
        world.cordon.sqs.send_message(QueueUrl=queue, MessageBody=body)
    ref = world.upload(BUCKET, KEY, BAD_JPEG)

    # WHEN the handler runs until the queue is empty
    world.drain()

    # THEN each foreign body is in the DLQ once, after one delivery, saying what was wrong
    dead = _dead_letters(world)
    reasons = {m["Body"]: m["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"] for m in dead}
    assert len(dead) == len(bodies)
    for name, body in bodies.items():
        assert reasons[body].startswith("malformed event: "), (name, reasons[body])
    # ... and the true event beside them still took the object down
    assert not world.exists(BUCKET, KEY)
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


# -- the hash table's stream ------------------------------------------------------------------

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


def _record(sequence: str, image: dict[str, Any]) -> dict[str, Any]:
    """A stream record as Lambda delivers it (JSON: binary as base64, numbers as text)."""
    return {
        "eventID": f"event-{sequence}",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764800000,
            "Keys": {k: image[k] for k in ("signal_type", "value") if k in image},
            "NewImage": image,
            "SequenceNumber": sequence,
            "SizeBytes": 200,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/cordon-hashes/stream/x",
    }


def _hash_image(value: str, **extra: Any) -> dict[str, Any]:
    return {
        "signal_type": {"S": "pdq"},
        "value": {"S": value},
        "labels": {"L": [{"S": "propaganda"}]},
        "source": {"S": "alpha"},
        "status": {"S": "active"},
        "seq": {"N": "7"},
        **extra,
    }


def _subscriber(world: World) -> str:
    from cordon_cli.operations import subscribe_queue

    return subscribe_queue(world.cordon, "updates", world.stack.refs["HashUpdatesTopic"], None)


def _published(world: World, url: str) -> list[str]:
    messages = world.cordon.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [json.loads(json.loads(m["Body"])["Message"])["value"] for m in messages]


def _stream_dead_letters(world: World) -> list[dict[str, Any]]:
    url = world.stack.refs["HashUpdatesDeadLetterQueue"]
    return world.cordon.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", [])


def test_binary_attributes_as_lambda_delivers_them_are_read(world: World):
    # GIVEN a hash item holding a binary attribute (B) and a binary set (BS), as Lambda's
    # event carries them: base64 text
    url = _subscriber(world)
    blob = base64.b64encode(b"\x00\xffthumbnail").decode()
    image = _hash_image(
        PDQ, thumb={"B": blob}, parts={"BS": [blob]}, meta={"M": {"b": {"B": blob}}}
    )
    # WHEN the real handler gets it
    response = chalice_app.hash_updates({"Records": [_record("100", image)]}, LocalContext("h"))
    # THEN the update is published and nothing failed
    assert response["batchItemFailures"] == [] and response["published"] == 1
    assert _published(world, url) == [PDQ]


FOREIGN_RECORDS: dict[str, Any] = {
    "no-dynamodb": {"eventID": "x", "eventName": "INSERT"},
    "image-list": {"dynamodb": {"NewImage": [], "SequenceNumber": "201"}},
    "unknown-type": _hash_image("a" * 64, extra={"X": "1"}),
    "two-types": _hash_image("b" * 64, extra={"S": "1", "N": "2"}),
    "number-not-number": _hash_image("c" * 64, seq={"N": "abc"}),
    "binary-not-base64": _hash_image("d" * 64, thumb={"B": "***"}),
    "value-missing": {k: v for k, v in _hash_image("e" * 64).items() if k != "value"},
    "value-number": {**_hash_image("f" * 64), "value": {"N": "5"}},
    "labels-text": _hash_image("0" * 64, labels={"S": "propaganda"}),
    "visibility-unknown": _hash_image("1" * 64, visibility={"S": "everyone"}),
    "groups-numbers": _hash_image("2" * 64, groups={"NS": ["1", "2"]}),
}


def _foreign_records() -> list[dict[str, Any]]:
    records = []
    for number, (name, shape) in enumerate(FOREIGN_RECORDS.items(), start=300):
        if "dynamodb" in shape or "eventID" in shape:
            record = copy.deepcopy(shape)
        else:
            record = _record(str(number), shape)
        record.setdefault("eventID", name)
        records.append(record)
    return records


def test_a_malformed_stream_record_is_parked_and_never_blocks_the_batch(world: World):
    # GIVEN a batch with one good record first and last, foreign records between
    url = _subscriber(world)
    good = [_record("200", _hash_image(PDQ)), _record("999", _hash_image("9" * 64))]
    records = [good[0], *_foreign_records(), good[1]]
    # WHEN the real handler gets the batch
    response = chalice_app.hash_updates({"Records": records}, LocalContext("h"))
    # THEN no record is reported failed (nothing retried), both good updates are published,
    # and each foreign record waits in the stream's DLQ with its reason
    assert response["batchItemFailures"] == []
    assert sorted(_published(world, url)) == sorted([PDQ, "9" * 64])
    parked = []
    while batch := _stream_dead_letters(world):
        parked.extend(batch)
    assert len(parked) == len(FOREIGN_RECORDS)
    for message in parked:
        reason = message["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
        assert reason.startswith("malformed stream record: "), reason


def test_an_update_not_published_is_reported_by_its_sequence_number(world: World, monkeypatch):
    # GIVEN three updates, SNS refusing the second
    publisher = world.cordon.update_publisher
    real, sent = publisher.publish, []

    def refusing_the_second(update: Any) -> None:
        if update.value == "b" * 64:
            raise ConnectionError("injected: SNS unreachable")
        sent.append(update.value)
        real(update)

    monkeypatch.setattr(publisher, "publish", refusing_the_second)
    records = [_record(n, _hash_image(v * 64)) for n, v in (("10", "a"), ("11", "b"), ("12", "c"))]
    # WHEN the handler gets them
    response = chalice_app.hash_updates({"Records": records}, LocalContext("h"))
    # THEN the second is reported, so Lambda retries from it; the third waits for that retry
    assert response["batchItemFailures"] == [{"itemIdentifier": "11"}]
    assert sent == ["a" * 64]


@pytest.mark.parametrize("binary", [b"\x00\x01", b"plain"])
def test_the_local_stream_delivers_what_lambda_delivers(world: World, binary: bytes):
    from cordon_cli.runner import StreamRunner

    # GIVEN the local stream runner on the hash table, a handler that records its events
    seen: list[dict[str, Any]] = []
    runner = StreamRunner(
        world.session.client("dynamodbstreams"),
        world.stack.attrs[("HashesTable", "StreamArn")],
        lambda event, context: seen.append(event) or chalice_app.hash_updates(event, context),
        "hash_updates",
    )
    url = _subscriber(world)
    # WHEN a hash item with a binary attribute is written
    world.cordon.hashes_table.put_item(
        Item={"signal_type": "pdq", "value": PDQ, "seq": 3, "thumb": binary, "tags": {binary}}
    )
    assert runner.poll_once() == 1
    # THEN the handler got JSON as Lambda sends it: base64 text, Unix seconds, the stream ARN
    ((record,),) = [event["Records"] for event in seen]
    image = record["dynamodb"]["NewImage"]
    assert image["thumb"] == {"B": base64.b64encode(binary).decode()}
    assert image["tags"] == {"BS": [base64.b64encode(binary).decode()]}
    assert image["seq"] == {"N": "3"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)
    assert record["eventSourceARN"] == world.stack.attrs[("HashesTable", "StreamArn")]
    json.dumps(record)  # what Lambda hands a function is JSON
    # ... and read it: the update is out
    assert _published(world, url) == [PDQ]


def test_the_local_stream_retries_from_the_reported_record_then_gives_up(world: World):
    from cordon_cli.runner import StreamRunner

    # GIVEN a handler that keeps failing one record of the batch
    batches: list[list[str]] = []

    def one_fails(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        batches.append([r["dynamodb"]["Keys"]["value"]["S"][0] for r in records])
        failed = [r for r in records if r["dynamodb"]["Keys"]["value"]["S"] == "b" * 64]
        return {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed
            ]
        }

    runner = StreamRunner(
        world.session.client("dynamodbstreams"),
        world.stack.attrs[("HashesTable", "StreamArn")],
        one_fails,
        "hash_updates",
        max_retries=2,
    )
    for value in ("a", "b", "c"):
        world.cordon.hashes_table.put_item(Item={"signal_type": "pdq", "value": value * 64})
    # WHEN it polls until nothing is left
    while runner.poll_once():
        pass
    # THEN it read again from the failed record (not from the start), twice, then went on
    assert batches == [["a", "b", "c"], ["b", "c"], ["b", "c"]]
