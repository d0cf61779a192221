"""Shared hash updates reach subscribers: table stream -> SNS (attributes) -> tenants' SQS."""

from __future__ import annotations

import json
from typing import Any

import app as chalice_app
from chalicelib.models import HashRecord
from cordon_cli.runner import StreamRunner
from tests.conftest import World

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def subscribe(world: World, name: str, filter_policy: dict[str, Any] | None) -> str:
    sqs = world.cordon.sqs
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = {"FilterPolicy": json.dumps(filter_policy)} if filter_policy else {}
    world.session.client("sns").subscribe(
        TopicArn=world.stack.refs["HashUpdatesTopic"],
        Protocol="sqs",
        Endpoint=arn,
        Attributes=attributes,
    )
    return url


def received(world: World, url: str) -> list[dict[str, Any]]:
    messages = world.cordon.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get(
        "Messages", []
    )
    return [json.loads(json.loads(m["Body"])["Message"]) for m in messages]


def stream_runner(world: World) -> StreamRunner:
    return StreamRunner(
        world.session.client("dynamodbstreams"),
        world.stack.attrs[("HashesTable", "StreamArn")],
        chalice_app.hash_updates,
        "hash_updates",
    )


def test_updates_reach_each_tenant_through_its_filter_policy(world: World):
    everything = subscribe(world, "tenant-a-updates", None)
    pdq_only = subscribe(
        world, "tenant-b-updates", {"signal_type": ["pdq"], "change": ["added", "retired"]}
    )
    runner = stream_runner(world)
    world.cordon.hashes.put(
        [
            HashRecord("pdq", PDQ, ("propaganda",), source="alpha"),
            HashRecord("sha256", SHA, ("leaflet",), source="alpha"),
        ]
    )
    world.cordon.hashes.put(
        [HashRecord("pdq", PDQ, ("propaganda",), source="alpha", status="retired")]
    )
    assert runner.poll_once() >= 3
    a = received(world, everything)
    b = received(world, pdq_only)
    assert sorted((u["signal_type"], u["change"]) for u in a) == [
        ("pdq", "added"),
        ("pdq", "retired"),
        ("sha256", "added"),
    ]
    assert sorted((u["signal_type"], u["change"]) for u in b) == [
        ("pdq", "added"),
        ("pdq", "retired"),
    ]
    added = next(u for u in b if u["change"] == "added")
    assert added["value"] == PDQ and added["labels"] == ["propaganda"]
    assert added["source"] == "alpha" and added["seq"] >= 1
