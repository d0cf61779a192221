"""A known-bad file uploaded again stays down: re-uploads through the real handler (moto).

An uploader who controls a key (an avatar, a banner, a "replace file" feature) sends the same
bytes again; the same notification may also be delivered twice. Each upload is judged, each
delivery acted on once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models import ObjectRef
from cordon_cli import samples
from cordon_cli.oncall import read_event_files, replay, rescan, trace
from tests.conftest import World
from tests.functional.test_ingest import BAD_JPEG, TRICKY_KEY, pdq_of, sha256_of
from tests.functional.test_review import COPY, call, held_for_review, status_of
from tests.functional.test_review import client as client  # a fixture

CLEAN_JPEG = samples.jpeg(samples.clean(1)[0])


def events_of(world: World, ref: ObjectRef, tenant: str = "alpha") -> list[str]:
    return [row["event"] for row in world.cordon.cases.audit_trail(ref.case_id(tenant))]


def evidence_versions(world: World) -> list[dict[str, Any]]:
    listing = world.s3.list_object_versions(Bucket=world.cordon.settings.evidence_bucket)
    return listing.get("Versions", [])


@pytest.mark.parametrize("via", ["sqs", "sns", "eventbridge"])
def test_the_same_bytes_uploaded_again_to_the_same_key_are_removed_every_time(
    world: World, via: str
):
    # GIVEN an unversioned bucket (what `tenants add --create-bucket` makes) and a known hash
    world.tenant("alpha", "alpha-uploads", via=via)
    world.share("pdq", pdq_of(BAD_JPEG))
    # WHEN the same known-bad bytes are uploaded to the same key three times
    for attempt in range(3):
        ref = world.upload("alpha-uploads", TRICKY_KEY, BAD_JPEG)
        world.drain()
        # THEN each time they are taken down
        assert not world.exists("alpha-uploads", TRICKY_KEY), attempt
    # ... under the one case, whose audit says so; the evidence holds the bytes once
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    assert events_of(world, ref).count("reupload_removed") == 2
    assert events_of(world, ref).count("evidence_stored") == 1
    assert len(evidence_versions(world)) == 1


def test_a_versioned_bucket_whose_events_name_no_version(world: World):
    # GIVEN a versioned bucket: moto's notifications carry no version id
    world.tenant("alpha", "alpha-uploads")
    world.s3.put_bucket_versioning(
        Bucket="alpha-uploads", VersioningConfiguration={"Status": "Enabled"}
    )
    world.share("sha256", sha256_of(BAD_JPEG))
    # WHEN the same bytes are uploaded twice to one key
    for _ in range(2):
        world.upload("alpha-uploads", "banner.jpg", BAD_JPEG)
        world.drain()
        # THEN no version of them is left in the bucket, each time
        listing = world.s3.list_object_versions(Bucket="alpha-uploads", Prefix="banner.jpg")
        assert listing.get("Versions", []) == []
        assert not world.exists("alpha-uploads", "banner.jpg")


def test_events_with_a_sequencer_tell_two_puts_apart_and_a_redelivery_acts_once(world: World):
    # GIVEN notifications shaped as AWS sends them for an unversioned bucket: a sequencer
    # that grows with each PUT of the key (moto's own notifications stay in the queue)
    world.tenant("alpha", "alpha-uploads")
    world.share("sha256", sha256_of(BAD_JPEG))
    first = world.upload("alpha-uploads", "a.jpg", BAD_JPEG)
    put_1 = ObjectRef("alpha-uploads", "a.jpg", etag=first.etag, sequencer="0066433A2F9D2B1C7E")
    assert world.cordon.ingest.process(put_1).outcome.value == "quarantined"
    # WHEN the first notification is delivered again, and the bytes are PUT again
    assert world.cordon.ingest.process(put_1).outcome.value == "quarantined"  # cached result
    assert events_of(world, first) == ["verdict", "evidence_stored", "original_removed"]
    world.upload("alpha-uploads", "a.jpg", BAD_JPEG)
    put_2 = ObjectRef("alpha-uploads", "a.jpg", etag=first.etag, sequencer="0066433A2F9D2B1C90")
    result = world.cordon.ingest.process(put_2)
    # THEN the second PUT is taken down too, and the redelivery did nothing
    assert result.outcome.value == "quarantined" and "uploaded again" in result.detail
    assert not world.exists("alpha-uploads", "a.jpg")
    assert events_of(world, first).count("reupload_removed") == 1
    assert len(evidence_versions(world)) == 1


def test_a_notification_delivered_twice_acts_once(world: World):
    # GIVEN one upload's notification, as moto sent it, delivered twice
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "twice.jpg", BAD_JPEG)
    queue = world.stack.refs["IngestQueue"]
    message = world.cordon.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    for _ in range(2):
        world.cordon.sqs.send_message(QueueUrl=queue, MessageBody=message[0]["Body"])
    world.cordon.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message[0]["ReceiptHandle"])
    world.drain()
    # THEN it was acted on once
    assert events_of(world, ref) == ["verdict", "evidence_stored", "original_removed"]
    assert len(evidence_versions(world)) == 1


def test_a_clean_file_replaced_by_a_known_bad_one_is_caught_and_back_again_allowed(
    world: World,
):
    world.tenant("alpha", "alpha-uploads")
    world.share("sha256", sha256_of(BAD_JPEG))
    clean = world.upload("alpha-uploads", "k.jpg", CLEAN_JPEG)
    world.drain()
    bad = world.upload("alpha-uploads", "k.jpg", BAD_JPEG)
    world.drain()
    assert not world.exists("alpha-uploads", "k.jpg")
    assert world.case("alpha", bad)["status"] == "quarantined"
    world.upload("alpha-uploads", "k.jpg", CLEAN_JPEG)
    world.drain()
    assert world.exists("alpha-uploads", "k.jpg")
    assert world.case("alpha", clean)["status"] == "allowed"


def test_a_gone_object_uploaded_again_is_judged(world: World):
    # GIVEN an upload deleted by its owner before Cordon read it (its case says gone)
    world.tenant("alpha", "alpha-uploads")
    ref = world.upload("alpha-uploads", "g.jpg", BAD_JPEG)
    world.s3.delete_object(Bucket="alpha-uploads", Key="g.jpg")
    world.drain()
    assert world.case("alpha", ref)["status"] == "gone"
    # WHEN a hash of it is shared and the same bytes come back to the key
    world.share("sha256", sha256_of(BAD_JPEG))
    world.upload("alpha-uploads", "g.jpg", BAD_JPEG)
    world.drain()
    # THEN they are taken down, in the one case
    assert not world.exists("alpha-uploads", "g.jpg")
    assert world.case("alpha", ref)["status"] == "quarantined"


def test_trace_replay_and_rescan_judge_what_is_in_the_bucket(world: World, tmp_path: Path):
    # GIVEN a taken-down file uploaded again, its notification lost
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    world.upload("alpha-uploads", "r.jpg", BAD_JPEG)
    world.drain()
    world.upload("alpha-uploads", "r.jpg", BAD_JPEG)
    world.cordon.sqs.purge_queue(QueueUrl=world.stack.refs["IngestQueue"])
    # THEN trace says the object is public again though its case says quarantined
    report = trace(world.cordon, "s3://alpha-uploads/r.jpg")
    assert report["now"]["in_bucket"] is True
    (story,) = report["cases"]
    assert story["status"] == "quarantined" and story["in_bucket_now"] is True
    assert "in the bucket again" in story["attention"]
    # WHEN an on-call engineer replays it with --force: it is removed again
    event = tmp_path / "r.json"
    event.write_text(json.dumps({"bucket": "alpha-uploads", "key": "r.jpg"}))
    (row,) = replay(world.cordon, read_event_files([event]), force=True)
    assert row["outcome"] == "quarantined" and "uploaded again" in row["detail"]
    assert not world.exists("alpha-uploads", "r.jpg")
    # ... and a rescan of the bucket finds the next re-upload (a case is no reason to skip)
    world.upload("alpha-uploads", "r.jpg", BAD_JPEG)
    rows = list(rescan(world.cordon.settings, "s3://alpha-uploads/", tmp_path / "ckpt"))
    assert [(r["status"], r.get("outcome")) for r in rows] == [("processed", "quarantined")]
    assert not world.exists("alpha-uploads", "r.jpg")
    # ... while a rescan with nothing back skips it without acting
    rows = list(
        rescan(world.cordon.settings, "s3://alpha-uploads/", tmp_path / "ckpt", restart=True)
    )
    assert rows == []


def test_a_copy_of_bytes_under_review_is_held_with_that_review_and_follows_its_decision(
    world: World, client: Any
):
    # GIVEN an upload held for review, and the same bytes uploaded again under another key
    ref, case_id = held_for_review(world)
    again = world.upload("alpha-uploads", "again.jpg", COPY)
    copy_id = again.case_id("alpha")
    world.settle(until=lambda: status_of(world, copy_id) == "attached")
    # THEN the copy is down too, held with the first review: no second review is started
    copy_case = world.case("alpha", again)
    assert copy_case["attached_to"] == case_id and "review" not in copy_case
    assert case_id in copy_case["verdict"]["reasons"][0]
    assert not world.exists("alpha-uploads", "again.jpg")
    key = world.reviewer("alpha", "rev-ana")
    queue = call(client, key, "GET", "/reviews").json_body["cases"]
    assert [c["case_id"] for c in queue] == [case_id]
    refused = call(client, key, "POST", f"/cases/{copy_id}/decision", {"action": "confirm"})
    assert refused.status_code == 409 and case_id in refused.json_body["error"]
    # WHEN the reviewer rejects the takedown
    body = {"action": "reject", "reason": "a film still"}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    world.settle(until=lambda: status_of(world, copy_id) == "reinstated")
    # THEN both come back, and the copy's statement of reasons carries the decision
    for where in (ref.key, "again.jpg"):
        assert world.s3.get_object(Bucket="alpha-uploads", Key=where)["Body"].read() == COPY
    notice = world.case("alpha", again)["notice"]
    assert notice["restriction"]["type"] == "none"
    assert "decision_followed" in events_of(world, again)


def test_bytes_a_reviewer_confirmed_stay_down_though_their_hashes_are_disputed_since(
    world: World, client: Any
):
    # GIVEN a takedown a reviewer confirmed
    _, case_id = held_for_review(world)
    key = world.reviewer("alpha", "rev-ana")
    body = {"action": "confirm", "reason": "propaganda poster"}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "confirmed")
    # WHEN every hash that matched it is disputed (REVIEW at most now), and the bytes come
    # back under another key
    for signal_type, value in (("pdq", pdq_of(BAD_JPEG)), ("sha256", sha256_of(COPY))):
        assert world.cordon.hashes.set_status(signal_type, value, "disputed", ["active"])
    again = world.upload("alpha-uploads", "later.jpg", COPY)
    world.settle(until=lambda: world.case("alpha", again) is not None)
    # THEN they are taken down under the reviewer's decision, which the reason names
    case = world.case("alpha", again)
    assert case["verdict"]["action"] == "TAKEDOWN" and case["status"] == "quarantined"
    assert case_id in case["verdict"]["reasons"][0]
    assert not world.exists("alpha-uploads", "later.jpg")


def test_a_newer_file_landing_between_the_read_and_the_delete_stays(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a known-bad upload in an unversioned bucket, and the platform's newer file landing
    # at the key while Cordon stores the evidence (after its GET, before its DELETE)
    world.tenant("alpha", "alpha-uploads")
    world.share("sha256", sha256_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "race.jpg", BAD_JPEG)
    store = world.cordon.pipeline.store
    real = store.store_evidence

    def racing(*args: Any, **kwargs: Any) -> Any:
        copy = real(*args, **kwargs)
        world.s3.put_object(Bucket="alpha-uploads", Key="race.jpg", Body=CLEAN_JPEG)
        return copy

    monkeypatch.setattr(store, "store_evidence", racing)
    result = world.cordon.pipeline.process(ref)
    # THEN the newer file is not deleted; the judged bytes are in evidence, the case says why
    body = world.s3.get_object(Bucket="alpha-uploads", Key="race.jpg")["Body"].read()
    assert body == CLEAN_JPEG
    assert result.outcome.value == "quarantined"
    assert "original_replaced" in events_of(world, ref)
    evidence = world.case("alpha", ref)["evidence"]
    stored = world.s3.get_object(Bucket=evidence["bucket"], Key=evidence["key"])
    assert stored["Body"].read() == BAD_JPEG


def test_a_rejected_takedown_is_not_restored_over_a_newer_file(world: World, client: Any):
    # GIVEN an upload held for review, and the uploader's newer file at the same key since
    ref, case_id = held_for_review(world)
    world.upload("alpha-uploads", ref.key, CLEAN_JPEG)
    world.settle()
    # WHEN the reviewer rejects the takedown
    key = world.reviewer("alpha", "rev-ana")
    body = {"action": "reject", "reason": "a film still"}
    assert call(client, key, "POST", f"/cases/{case_id}/decision", body).status_code == 202
    world.settle(until=lambda: status_of(world, case_id) == "reinstated")
    # THEN the newer file stays; the decision stands and the audit says why nothing was written
    now = world.s3.get_object(Bucket="alpha-uploads", Key=ref.key)["Body"].read()
    assert now == CLEAN_JPEG
    assert "restore_skipped" in [r["event"] for r in world.cordon.cases.audit_trail(case_id)]
