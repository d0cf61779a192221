"""Shared hash updates reach subscribers: table stream -> SNS (attributes) -> tenants' SQS."""

from __future__ import annotations

import json
from typing import Any

import app as chalice_app
from chalicelib.models import HashRecord
from cordon_cli.operations import subscribe_queue
from cordon_cli.runner import StreamRunner
from tests.conftest import World

PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
SHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def subscribe(world: World, name: str, filter_policy: dict[str, Any] | None) -> str:
    return subscribe_queue(world.cordon, name, world.stack.refs["HashUpdatesTopic"], filter_policy)


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


def test_a_hash_confirmed_at_one_tenant_quarantines_what_another_already_holds(world: World):
    from chalice.test import Client

    from cordon_cli import samples
    from tests.functional.test_ingest import pdq_of

    bad = samples.known_bad(1)[0]
    # GIVEN beta holds a copy of a poster nobody has flagged yet (allowed on upload)
    world.tenant("beta", "beta-uploads")
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW")
    beta_copy = world.upload("beta-uploads", "old/poster.jpg", samples.jpeg(bad, quality=70))
    world.settle()
    assert world.case("beta", beta_copy)["verdict"]["action"] == "ALLOW"
    updates = subscribe(world, "beta-updates", {"change": ["added"], "signal_type": ["pdq"]})
    runner = stream_runner(world)
    # WHEN alpha's reviewer confirms a resized copy (its first match is a shared PDQ hash
    # an operator imported for a related poster, so alpha's upload is held for review)
    world.share("pdq", pdq_of(samples.jpeg(samples.resized(bad, 0.5))), ("seed",))
    alpha_copy = world.upload(
        "alpha-uploads", "new/poster.jpg", samples.jpeg(samples.resized(bad, 0.8))
    )
    case_id = alpha_copy.case_id("alpha")
    world.settle(until=lambda: bool(getattr(world.cordon.cases.get(case_id), "token", None)))
    key = world.reviewer("alpha", "rev-ana")
    with Client(chalice_app.app) as client:
        client.http.post(
            f"/cases/{case_id}/decision",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            body=json.dumps({"action": "confirm"}),
        )
    world.settle(until=lambda: world.cordon.cases.get(case_id).status == "confirmed")
    runner.poll_once()
    # THEN beta's earlier upload is quarantined in its one case, and beta was told
    held = world.case("beta", beta_copy)
    assert held["status"] == "quarantined" and not world.exists("beta-uploads", "old/poster.jpg")
    events = [row["event"] for row in world.cordon.cases.audit_trail(held["case_id"])]
    assert "re-evaluated" in events and "evidence_stored" in events
    assert any(u["source"] == "alpha" and u["case_id"] == case_id for u in received(world, updates))
