"""Webhook delivery over real HTTP to an independent receiver on 127.0.0.1, and the
dead-letter queue under moto. All traffic stays on the loopback interface, each test sends at
most a handful of requests and waits well under a second."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from chalicelib.adapters.queues import Queue
from chalicelib.webhooks import (
    REASON_ATTRIBUTE,
    URL_ATTRIBUTE,
    WebhookDeadLetters,
    deliver,
)
from tests.functional.receiver import SECRET, Receiver

PAYLOAD = {"change": "added", "signal_type": "pdq", "value": "f8f8f0ce", "labels": ["x"]}
FAST = {"base_delay": 0.01, "max_delay": 0.05, "timeout": 2.0}


def test_a_delivery_arrives_once_and_verifies(receiver: Receiver):
    result = deliver(receiver.url, SECRET, "evt-1", PAYLOAD, **FAST)

    assert result.delivered and result.attempts == 1 and result.status == 200
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.verified
    assert got.event_id == "evt-1"
    assert got.content_type == "application/json"
    assert json.loads(got.body) == PAYLOAD


def test_a_receiver_with_another_secret_rejects_it(receiver: Receiver):
    deliver(receiver.url, b"not-the-tenants-secret", "evt-x", PAYLOAD, **FAST)
    assert [r.verified for r in receiver.received] == [False]


def test_two_failures_then_success_arrives_on_the_third_attempt(receiver: Receiver):
    # GIVEN a receiver that answers 500 twice before it recovers
    receiver.statuses = [500, 500]
    sleeps: list[float] = []

    # WHEN Cordon delivers with tiny real sleeps
    result = deliver(
        receiver.url, SECRET, "evt-2", PAYLOAD, sleep=lambda s: sleeps.append(s), **FAST
    )

    # THEN the third attempt lands, every attempt was signed, and all carry one event id
    assert result.delivered and result.attempts == 3 and result.status == 200
    assert len(sleeps) == 2 and all(0 <= s <= FAST["max_delay"] for s in sleeps)
    assert len(receiver.received) == 3
    assert all(r.verified for r in receiver.received)
    assert {r.event_id for r in receiver.received} == {"evt-2"}
    assert len({r.body for r in receiver.received}) == 1


def test_a_400_is_not_retried(receiver: Receiver):
    receiver.statuses = [400, 400, 400]
    result = deliver(receiver.url, SECRET, "evt-3", PAYLOAD, **FAST)

    assert not result.delivered and result.attempts == 1 and result.status == 400
    assert "not retried" in result.error
    assert len(receiver.received) == 1


def test_a_429_is_retried(receiver: Receiver):
    receiver.statuses = [429]
    result = deliver(receiver.url, SECRET, "evt-4", PAYLOAD, **FAST)
    assert result.delivered and result.attempts == 2


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_a_dead_receiver_exhausts_attempts_and_lands_in_the_dlq(aws: None, closed_port_url: str):
    # GIVEN a webhook DLQ and a receiver that is down
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="cordon-webhook-dlq")["QueueUrl"]
    dead_letters = WebhookDeadLetters(Queue(sqs, queue_url))

    # WHEN every attempt is refused
    result = deliver(closed_port_url, SECRET, "evt-5", PAYLOAD, attempts=3, **FAST)
    assert not result.delivered and result.attempts == 3 and result.status is None
    assert "gave up after 3 attempts" in result.error
    dead_letters.send(closed_port_url, "evt-5", PAYLOAD, result)

    # THEN the DLQ holds the delivery with its reason, enough to send it again
    messages = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )["Messages"]
    assert len(messages) == 1
    attributes = messages[0]["MessageAttributes"]
    assert attributes[REASON_ATTRIBUTE]["StringValue"] == result.error
    assert attributes[URL_ATTRIBUTE]["StringValue"] == closed_port_url
    assert attributes["cordon-event-id"]["StringValue"] == "evt-5"
    assert attributes["cordon-attempts"]["StringValue"] == "3"
    assert attributes["cordon-last-status"]["StringValue"] == "-"
    body = json.loads(messages[0]["Body"])
    assert body == {
        "kind": "cordon.webhook",
        "url": closed_port_url,
        "event_id": "evt-5",
        "payload": PAYLOAD,
    }


def test_a_permanent_failure_lands_in_the_dlq_with_its_status(aws: None, receiver: Receiver):
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="cordon-webhook-dlq")["QueueUrl"]
    receiver.statuses = [410]

    result = deliver(receiver.url, SECRET, "evt-6", PAYLOAD, **FAST)
    WebhookDeadLetters(Queue(sqs, queue_url)).send(receiver.url, "evt-6", PAYLOAD, result)

    (message,) = sqs.receive_message(QueueUrl=queue_url, MessageAttributeNames=["All"])["Messages"]
    attributes = message["MessageAttributes"]
    assert attributes[REASON_ATTRIBUTE]["StringValue"] == "HTTP 410: not retried"
    assert attributes["cordon-last-status"]["StringValue"] == "410"
