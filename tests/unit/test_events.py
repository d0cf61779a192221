"""Every envelope an upload can arrive in, read from the JSON samples in `events/`."""

from __future__ import annotations

import ast
import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from chalicelib.errors import MalformedEventError
from chalicelib.events import message_bodies, parse_body, replay_body
from chalicelib.models import ObjectRef
from tests.events import EVENTS_DIR, load_body, load_event

BUCKET = "tenant-a-uploads"
# The key as the uploader chose it; S3 notifications carry it as "uploads/a+b%2Bc%25d+%C3%A9.jpg".
RAW_KEY = "uploads/a b+c%d é.jpg"
VERSION = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
ETAG = "68860cea74fc6581ec3a29d576afc360"
SIZE = 21


def only_ref(body: str | dict[str, Any]) -> ObjectRef:
    parsed = parse_body(body)
    assert parsed.ignored == ()
    assert len(parsed.refs) == 1
    return parsed.refs[0]


# ---------------------------------------------------------------- uploads, every envelope


@pytest.mark.parametrize(
    ("name", "envelope", "event_time"),
    [
        ("s3-put.json", "s3", "2024-05-14T09:21:07.412Z"),
        ("s3-put-via-sns.json", "sns", "2024-05-14T09:21:07.412Z"),
        ("sns-lambda-event.json", "sns", "2024-05-14T09:21:07.412Z"),
        ("eventbridge-object-created.json", "eventbridge", "2024-05-14T09:21:07Z"),
    ],
)
def test_upload_envelopes_name_the_same_object(name: str, envelope: str, event_time: str):
    # WHEN the body of one SQS message is parsed
    ref = only_ref(load_body(name))

    # THEN the key is exactly the uploader's: form-decoded for S3 and SNS, as-is for EventBridge
    assert ref == ObjectRef(
        bucket=BUCKET,
        key=RAW_KEY,
        version_id=VERSION,
        etag=ETAG,
        size=SIZE,
        event_time=event_time,
        envelope=envelope,
        sequencer="0066433A2F9D2B1C7E",
    )
    assert ref.uri == f"s3://{BUCKET}/{RAW_KEY}"


def test_s3_sample_key_is_form_encoded_and_eventbridge_key_is_raw():
    # GIVEN the samples: a wrong sample would make the envelope tests above meaningless
    s3_key = load_event("s3-put.json")["Records"][0]["s3"]["object"]["key"]
    sns_inner = json.loads(load_event("s3-put-via-sns.json")["Message"])
    eb_key = load_event("eventbridge-object-created.json")["detail"]["object"]["key"]

    assert s3_key == "uploads/a+b%2Bc%25d+%C3%A9.jpg"
    assert sns_inner == load_event("s3-put.json")
    assert eb_key == RAW_KEY


def test_sns_envelope_has_every_field_sns_sends():
    envelope = load_event("s3-put-via-sns.json")

    assert envelope["Type"] == "Notification"
    assert envelope["Subject"] == "Amazon S3 Notification"
    assert isinstance(envelope["Message"], str)
    for field in (
        "MessageId",
        "TopicArn",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
    ):
        assert envelope[field], field


def test_parse_body_accepts_an_already_decoded_dict():
    assert only_ref(load_event("s3-put.json")) == only_ref(load_body("s3-put.json"))


def test_moto_s3_notification_without_version_or_sequencer():
    # moto's S3 -> SQS records carry no versionId (nor sequencer, userIdentity...)
    ref = only_ref(load_body("s3-put-moto.json"))

    assert (ref.bucket, ref.key, ref.version_id, ref.etag, ref.size, ref.envelope) == (
        BUCKET,
        RAW_KEY,
        None,
        ETAG,
        SIZE,
        "s3",
    )
    assert ref.identity == ETAG


def test_moto_eventbridge_event_spells_etag_etag():
    # moto writes "eTag" (AWS: "etag"), a unix time number, and version-id "null"
    ref = only_ref(load_body("eventbridge-object-created-moto.json"))

    assert (ref.bucket, ref.key, ref.version_id, ref.etag, ref.size, ref.envelope) == (
        BUCKET,
        RAW_KEY,
        None,
        ETAG,
        SIZE,
        "eventbridge",
    )


def test_eventbridge_key_is_never_decoded():
    # GIVEN an EventBridge event whose raw key looks form-encoded
    event = load_event("eventbridge-object-created.json")
    event["detail"]["object"]["key"] = "uploads/100%25+real.jpg"

    # THEN it is taken literally
    assert only_ref(event).key == "uploads/100%25+real.jpg"


def test_replay_form_keeps_the_raw_key():
    ref = only_ref(load_body("replay.json"))

    # Replay by key: the version is looked up when the object is read.
    assert ref == ObjectRef(bucket=BUCKET, key=RAW_KEY, envelope="replay")


def test_replay_body_round_trips_through_parse_body():
    original = only_ref(load_body("s3-put.json"))

    again = only_ref(replay_body(original))

    assert (again.bucket, again.key, again.version_id, again.etag, again.envelope) == (
        BUCKET,
        RAW_KEY,
        VERSION,
        ETAG,
        "replay",
    )
    assert again.case_id("tenant-a") == original.case_id("tenant-a")


# ---------------------------------------------------------------- a whole Lambda SQS event


def test_sqs_batch_sample_is_a_lambda_sqs_event():
    event = load_event("sqs-batch-s3.json")

    assert len(event["Records"]) == 3
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:cordon-ingest"
        assert record["awsRegion"] == "us-east-1"
        assert record["attributes"]["ApproximateReceiveCount"] == "1"
        assert record["messageAttributes"] == {}
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
        assert record["messageId"] and record["receiptHandle"]
    assert len({r["messageId"] for r in event["Records"]}) == 3


def test_sqs_batch_bodies_parse_to_three_objects_in_three_envelopes():
    records = load_event("sqs-batch-s3.json")["Records"]

    refs = [only_ref(record["body"]) for record in records]

    assert [(r.bucket, r.key, r.envelope) for r in refs] == [
        (BUCKET, "uploads/batch-1 one.jpg", "s3"),
        (BUCKET, "uploads/batch-2+two.png", "sns"),
        (BUCKET, "uploads/batch-3 three.gif", "eventbridge"),
    ]
    assert all(r.version_id and r.etag and r.size for r in refs)


def test_lambda_sns_event_wraps_the_same_notification_as_the_sqs_subscription():
    # GIVEN what a Lambda subscribed to the uploads topic receives (SAM CLI's "sns" shape)
    record = load_event("sns-lambda-event.json")["Records"][0]
    delivered = load_event("s3-put-via-sns.json")

    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["Message"] == delivered["Message"]
    assert record["Sns"]["SigningCertUrl"] == delivered["SigningCertURL"]  # Lambda's spelling


def test_lambda_sns_event_with_several_records_reads_each():
    event = load_event("sns-lambda-event.json")
    second = copy.deepcopy(event["Records"][0])
    second["Sns"]["Message"] = load_body("s3-delete.json")
    event["Records"].append(second)

    parsed = parse_body(event)

    assert [r.key for r in parsed.refs] == [RAW_KEY]
    assert parsed.ignored == (f"ObjectRemoved:Delete for s3://{BUCKET}/{RAW_KEY}",)


# ---------------------------------------------------------------- saved documents of bodies


def test_receive_message_dump_yields_each_message_body():
    # GIVEN what `aws sqs receive-message --attribute-names All` printed
    dump = load_event("sqs-receive-message.json")

    bodies = message_bodies(dump)

    assert bodies == [m["Body"] for m in dump["Messages"]]
    assert [hashlib.md5(b.encode()).hexdigest() for b in bodies] == [
        m["MD5OfBody"] for m in dump["Messages"]
    ]
    assert only_ref(bodies[0]) == only_ref(load_body("s3-put.json"))
    assert parse_body(bodies[1]).ignored == (f"s3:TestEvent for bucket {BUCKET}",)


def test_lambda_sqs_event_yields_its_records_bodies():
    event = load_event("sqs-batch-s3.json")

    assert message_bodies(event) == [r["body"] for r in event["Records"]]


@pytest.mark.parametrize("name", ["s3-put.json", "sns-lambda-event.json", "s3-no-records.json"])
def test_any_other_document_is_one_body(name: str):
    assert message_bodies(load_event(name)) == [load_event(name)]


# ---------------------------------------------------------------- ignored, with a reason


def test_notification_with_no_records_is_ignored_with_a_reason():
    parsed = parse_body(load_body("s3-no-records.json"))

    assert parsed.refs == ()
    assert parsed.ignored == ("notification with no records",)


def test_s3_test_event_is_ignored_with_its_bucket():
    parsed = parse_body(load_body("s3-test-event.json"))

    assert parsed.refs == ()
    assert parsed.ignored == (f"s3:TestEvent for bucket {BUCKET}",)


def test_s3_test_event_inside_sns_is_ignored():
    envelope = load_event("s3-put-via-sns.json")
    envelope["Message"] = load_body("s3-test-event.json")

    parsed = parse_body(envelope)

    assert parsed.refs == ()
    assert parsed.ignored == (f"s3:TestEvent for bucket {BUCKET}",)


def test_s3_delete_is_ignored_naming_event_and_decoded_object():
    parsed = parse_body(load_body("s3-delete.json"))

    assert parsed.refs == ()
    assert parsed.ignored == (f"ObjectRemoved:Delete for s3://{BUCKET}/{RAW_KEY}",)


def test_eventbridge_delete_is_ignored_naming_detail_type_and_object():
    parsed = parse_body(load_body("eventbridge-object-deleted.json"))

    assert parsed.refs == ()
    assert parsed.ignored == (f"Object Deleted for s3://{BUCKET}/{RAW_KEY}",)


def test_mixed_records_keep_creates_and_ignore_deletes():
    # GIVEN one notification holding a put and a delete
    event = load_event("s3-put.json")
    event["Records"].append(load_event("s3-delete.json")["Records"][0])

    parsed = parse_body(event)

    assert [r.key for r in parsed.refs] == [RAW_KEY]
    assert len(parsed.ignored) == 1 and parsed.ignored[0].startswith("ObjectRemoved:Delete")


# ---------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "body",
    [
        load_body("malformed.json"),
        "not json at all",
        "",
        '["a", "list"]',
        "42",
        "null",
        '{"Records": [{"eventName": "ObjectCreated:Put"}]}',
        '{"Records": ["not a record"]}',
        '{"Type": "Notification", "Message": "not json"}',
        '{"Type": "Notification", "Message": "[1, 2]"}',
        '{"Records": [{"EventSource": "aws:sns", "Sns": {"Subject": "no message"}}]}',
        '{"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "not json"}}]}',
        '{"source": "aws.s3", "detail-type": "Object Created", "detail": {}}',
        '{"source": "aws.s3", "detail-type": "Object Created", "detail": null}',
        '{"bucket": "tenant-a-uploads"}',
        '{"bucket": "tenant-a-uploads", "key": 7}',
    ],
)
def test_malformed_bodies_raise(body: str):
    with pytest.raises(MalformedEventError):
        parse_body(body)


def test_malformed_sample_error_names_the_keys_it_saw():
    with pytest.raises(MalformedEventError, match="hello"):
        parse_body(load_body("malformed.json"))


@pytest.mark.parametrize(
    ("field", "value"), [("eventName", None), ("key", 5)], ids=["eventName-null", "key-int"]
)
def test_s3_record_with_non_string_fields_raises_malformed(field: str, value: Any):
    event = load_event("s3-put.json")
    record = event["Records"][0]
    if field == "eventName":
        record["eventName"] = value
    else:
        record["s3"]["object"]["key"] = value

    with pytest.raises(MalformedEventError):
        parse_body(event)


def test_eventbridge_event_with_null_key_raises_malformed():
    event = load_event("eventbridge-object-created.json")
    event["detail"]["object"]["key"] = None

    with pytest.raises(MalformedEventError):
        parse_body(event)


# ---------------------------------------------------------------- version ids and identity


def _s3_put_with_version(value: Any, present: bool = True) -> dict[str, Any]:
    event = load_event("s3-put.json")
    obj = event["Records"][0]["s3"]["object"]
    if present:
        obj["versionId"] = value
    else:
        del obj["versionId"]
    return event


@pytest.mark.parametrize(
    "event",
    [
        _s3_put_with_version("null"),
        _s3_put_with_version(None),
        _s3_put_with_version("", present=True),
        _s3_put_with_version(None, present=False),
    ],
    ids=["string-null", "None", "empty", "absent"],
)
def test_unversioned_objects_have_no_version_id(event: dict[str, Any]):
    ref = only_ref(event)

    assert ref.version_id is None
    assert ref.identity == ETAG  # falls back to the ETag


@pytest.mark.parametrize("version", ["null", None])
def test_eventbridge_null_version_id_is_none(version: str | None):
    event = load_event("eventbridge-object-created.json")
    event["detail"]["object"]["version-id"] = version

    assert only_ref(event).version_id is None


def test_replay_null_version_id_is_none():
    event = load_event("replay.json")
    event["version_id"] = "null"

    assert only_ref(event).version_id is None


def test_identity_prefers_version_id_then_etag_then_nothing():
    assert ObjectRef(BUCKET, RAW_KEY, version_id="v1", etag="e1").identity == "v1"
    assert ObjectRef(BUCKET, RAW_KEY, version_id="null", etag="e1").identity == "e1"
    assert ObjectRef(BUCKET, RAW_KEY).identity == ""


def test_etag_quotes_are_stripped():
    # GIVEN an ETag as S3's API returns it (quoted), e.g. in a replay
    event = load_event("replay.json")
    event["etag"] = f'"{ETAG}"'

    assert only_ref(event).etag == ETAG
    assert ObjectRef(BUCKET, RAW_KEY, etag=f'"{ETAG}"').etag == ETAG


def test_object_ref_dict_round_trip_drops_nones_and_ignores_unknown_fields():
    ref = only_ref(load_body("s3-put.json"))
    data = ref.to_dict()

    assert ObjectRef.from_dict({**data, "unknown": 1}) == ref
    assert "version_id" not in ObjectRef(BUCKET, RAW_KEY).to_dict()


# ---------------------------------------------------------------- case ids


def test_case_id_is_deterministic_across_envelopes():
    refs = [
        only_ref(load_body(name))
        for name in ("s3-put.json", "s3-put-via-sns.json", "eventbridge-object-created.json")
    ]

    ids = {ref.case_id("tenant-a") for ref in refs}

    assert len(ids) == 1
    (case_id,) = ids
    assert case_id.startswith("case-") and len(case_id) == len("case-") + 24
    assert case_id == copy.deepcopy(refs[0]).case_id("tenant-a")


def test_case_id_differs_per_tenant_key_and_version():
    ref = only_ref(load_body("s3-put.json"))

    assert ref.case_id("tenant-a") != ref.case_id("tenant-b")
    assert ref.case_id("tenant-a") != ObjectRef(BUCKET, RAW_KEY + "x", VERSION).case_id("tenant-a")
    assert ref.case_id("tenant-a") != ObjectRef(BUCKET, RAW_KEY, "other").case_id("tenant-a")


def test_case_id_of_unversioned_object_follows_its_etag():
    a = ObjectRef(BUCKET, RAW_KEY, etag="e1")

    assert a.case_id("t") == ObjectRef(BUCKET, RAW_KEY, version_id="null", etag='"e1"').case_id("t")
    assert a.case_id("t") != ObjectRef(BUCKET, RAW_KEY, etag="e2").case_id("t")


# ---------------------------------------------------------------- every sample is used


def test_every_sample_event_is_used_by_this_module():
    # GIVEN the .json names this module's source mentions
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    mentioned = {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[a-z0-9-]+\.json", node.value)
    }

    # THEN every sample is among them, and no test names a sample that does not exist
    on_disk = {path.name for path in EVENTS_DIR.glob("*.json")}
    assert on_disk, "no samples found"
    assert on_disk - mentioned == set(), "samples no test loads"
    assert mentioned - on_disk == set(), "tests load samples that do not exist"
    others = {p.name for p in EVENTS_DIR.iterdir()} - on_disk
    assert others == {"README.md"}, "events/ holds samples and their README only"


# ---------------------------------------------------------------- delivery identity


def test_a_versioned_upload_is_delivered_as_its_version():
    ref = only_ref(load_body("s3-put.json"))
    assert ref.delivery_id == VERSION == ref.identity


@pytest.mark.parametrize("name", ["s3-put.json", "eventbridge-object-created.json"])
def test_an_unversioned_upload_is_told_apart_by_sequencer_etag_and_time(name: str):
    # GIVEN the same PUT's notification without a version id (an unversioned bucket)
    body = json.loads(load_body(name))
    obj = body["detail"]["object"] if "detail" in body else body["Records"][0]["s3"]["object"]
    obj.pop("versionId", None)
    obj.pop("version-id", None)
    first = only_ref(json.dumps(body))
    # THEN every delivery of it has one delivery id, and its case is the ETag's
    assert only_ref(json.dumps(body)).delivery_id == first.delivery_id
    assert first.identity == ETAG and "0066433A2F9D2B1C7E" in first.delivery_id
    # WHEN the same bytes are PUT again (a later sequencer), the upload is a new one
    obj["sequencer"] = "0066433A2F9D2B1C7F"
    again = only_ref(json.dumps(body))
    assert again.delivery_id != first.delivery_id and again.identity == first.identity


def test_moto_uploads_without_sequencer_differ_by_event_time():
    # moto's S3 notifications carry no sequencer, its EventBridge events a constant one
    a = ObjectRef(BUCKET, RAW_KEY, etag=ETAG, event_time="2026-12-04T10:00:00.001Z")
    b = ObjectRef(BUCKET, RAW_KEY, etag=ETAG, event_time="2026-12-04T10:00:00.002Z")
    assert a.delivery_id != b.delivery_id and a.identity == b.identity == ETAG
    constant = "617f08299329d189"
    c = ObjectRef(BUCKET, RAW_KEY, etag=ETAG, event_time="1.5", sequencer=constant)
    d = ObjectRef(BUCKET, RAW_KEY, etag=ETAG, event_time="2.5", sequencer=constant)
    assert c.delivery_id != d.delivery_id
    # a replay by key has only the ETag
    assert ObjectRef(BUCKET, RAW_KEY, etag=ETAG).delivery_id == ETAG
