"""The Chalice app as Lambda calls it, through Chalice's own test client."""

from __future__ import annotations

import json

from chalice.test import Client

import app as chalice_app
from chalicelib.events import replay_body
from cordon_cli import samples
from tests.conftest import World
from tests.functional.test_ingest import BAD_JPEG, pdq_of


def sqs_event(client: Client, *bodies: str) -> dict:
    event = client.events.generate_sqs_event(
        message_bodies=list(bodies), queue_name="cordon-ingest"
    )
    # Chalice gives every record the same messageId; Lambda's are unique, and partial batch
    # failures name records by it.
    for number, record in enumerate(event["Records"]):
        record["messageId"] = f"message-{number}"
        record["attributes"]["ApproximateReceiveCount"] = "1"
    return event


def test_ingest_handler_quarantines_and_reports_no_failures(world: World):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "via-client.jpg", BAD_JPEG)
    with Client(chalice_app.app) as client:
        response = client.lambda_.invoke("ingest", sqs_event(client, replay_body(ref)))
    assert response.payload == {"batchItemFailures": []}
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"


def test_ingest_handler_reports_only_the_failed_record(world: World, monkeypatch):
    world.tenant("alpha", "alpha-uploads")
    good = world.upload("alpha-uploads", "good.jpg", samples.jpeg(samples.clean(1)[0]))
    failing = world.upload("alpha-uploads", "bad.jpg", samples.jpeg(samples.clean(2)[1]))
    pipeline = chalice_app.cordon().pipeline
    real = pipeline.process

    def process(ref):
        if ref.key == "bad.jpg":
            raise TimeoutError("injected: DynamoDB throttled")
        return real(ref)

    monkeypatch.setattr(pipeline, "process", process)
    with Client(chalice_app.app) as client:
        event = sqs_event(client, replay_body(good), replay_body(failing))
        response = client.lambda_.invoke("ingest", event)
    assert response.payload == {"batchItemFailures": [{"itemIdentifier": "message-1"}]}
    case = world.case("alpha", good)
    assert case is not None and case["verdict"]["action"] == "ALLOW"


def test_test_events_and_deletes_are_acknowledged_and_ignored(world: World):
    test_event = json.dumps(
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "alpha-uploads"}
    )
    with Client(chalice_app.app) as client:
        response = client.lambda_.invoke("ingest", sqs_event(client, test_event))
    assert response.payload == {"batchItemFailures": []}


def test_health_route():
    with Client(chalice_app.app) as client:
        response = client.http.get("/health")
    assert response.status_code == 200
    assert response.json_body == {"status": "ok"}
