"""Uploads through the real handler against moto: what a platform engineer sees happen."""

from __future__ import annotations

import collections
import io
import json
from typing import Any

import pytest
from PIL import Image

import app as chalice_app
from chalicelib import signals
from chalicelib.adapters.storage import ObjectStore
from chalicelib.events import replay_body
from chalicelib.ingest import REASON_ATTRIBUTE
from cordon_cli import samples
from tests.conftest import World

BAD = samples.known_bad(1)[0]
BAD_JPEG = samples.jpeg(BAD)
TRICKY_KEY = "uploads/a b+c%d é.jpg"


def pdq_of(data: bytes) -> str:
    signal = signals.examine_bytes(data, 10**8).signal("pdq")
    assert signal is not None
    return signal.value


def sha256_of(data: bytes) -> str:
    signal = signals.examine_bytes(data, 10**8).signal("sha256")
    assert signal is not None
    return signal.value


@pytest.mark.parametrize("via", ["sqs", "sns", "eventbridge"])
def test_upload_in_every_envelope_ends_quarantined_with_case_and_audit(world: World, via: str):
    # GIVEN a tenant whose bucket notifies Cordon through `via`, and a known-bad image
    world.tenant("alpha", "alpha-uploads", via=via)
    world.share("pdq", pdq_of(BAD_JPEG), ("terrorist-propaganda",))
    # WHEN a copy is uploaded under a key with a space, a plus, a percent and an accent
    ref = world.upload("alpha-uploads", TRICKY_KEY, samples.jpeg(BAD, quality=60))
    world.drain()
    # THEN the original is gone, the evidence copy holds the same bytes, case and audit exist
    assert not world.exists("alpha-uploads", TRICKY_KEY)
    case = world.case("alpha", ref)
    assert case is not None
    assert case["status"] == "quarantined"
    assert case["verdict"]["action"] == "TAKEDOWN"
    assert case["verdict"]["matches"][0]["labels"] == ["terrorist-propaganda"]
    assert case["object"]["key"] == TRICKY_KEY
    evidence = case["evidence"]
    stored = world.s3.get_object(
        Bucket=evidence["bucket"], Key=evidence["key"], VersionId=evidence["version_id"]
    )
    assert stored["Body"].read() == samples.jpeg(BAD, quality=60)
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    assert evidence["retain_until"]
    events = [row["event"] for row in world.cordon.cases.audit_trail(case["case_id"])]
    assert events == ["verdict", "evidence_stored", "original_removed"]


def test_altered_copies_are_caught_and_clean_images_are_not(world: World):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    altered = {name: apply(BAD) for name, apply in samples.EDITS.items()}
    refs = {
        name: world.upload("alpha-uploads", f"altered/{name}.jpg", data)
        for name, data in altered.items()
    }
    clean = [
        world.upload("alpha-uploads", f"clean/{i}.jpg", samples.jpeg(image))
        for i, image in enumerate(samples.clean(4))
    ]
    world.drain()
    for name, ref in refs.items():
        case = world.case("alpha", ref)
        assert case is not None and case["status"] == "quarantined", name
        assert 0 < case["verdict"]["matches"][0]["distance"] <= 31 or name == "JPEG quality 35"
    for ref in clean:
        case = world.case("alpha", ref)
        assert case is not None and case["verdict"]["action"] == "ALLOW"
        assert world.exists("alpha-uploads", ref.key)


def test_exact_match_needs_no_image(world: World):
    world.tenant("alpha", "alpha-uploads")
    payload = b"%PDF-1.4 a known-bad leaflet"
    world.share("sha256", sha256_of(payload))
    ref = world.upload("alpha-uploads", "leaflet.pdf", payload)
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    assert case["object"]["media_type"] == "application/pdf"


def test_pdq_action_review_by_policy_marks_case_pending_review(world: World):
    world.tenant("alpha", "alpha-uploads", pdq_action="REVIEW")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "x.jpg", samples.jpeg(samples.resized(BAD)))
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None
    assert case["verdict"]["action"] == "REVIEW"
    assert case["status"] == "pending_review"
    assert not world.exists("alpha-uploads", "x.jpg")


def test_same_event_delivered_twice_acts_once(world: World):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    ref = world.upload("alpha-uploads", "twice.jpg", BAD_JPEG)
    world.drain()
    # The same object version announced again (a duplicate delivery, or a replay).
    world.cordon.sqs.send_message(
        QueueUrl=world.stack.refs["IngestQueue"], MessageBody=replay_body(ref)
    )
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None
    trail = world.cordon.cases.audit_trail(case["case_id"])
    assert [row["event"] for row in trail].count("evidence_stored") == 1
    versions = world.s3.list_object_versions(Bucket=world.cordon.settings.evidence_bucket)
    assert len(versions.get("Versions", [])) == 1


def test_fault_between_copy_and_delete_leaves_original_and_retry_completes(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    real_delete = ObjectStore.delete_original
    calls = {"n": 0}

    def flaky_delete(self, ref, head):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("injected: S3 unreachable")
        return real_delete(self, ref, head)

    monkeypatch.setattr(ObjectStore, "delete_original", flaky_delete)
    ref = world.upload("alpha-uploads", "flaky.jpg", BAD_JPEG)
    world.runner.poll_once()
    # After the failed attempt: evidence stored, original still in place, case not final.
    assert world.exists("alpha-uploads", "flaky.jpg")
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantining"
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    assert not world.exists("alpha-uploads", "flaky.jpg")
    events = [row["event"] for row in world.cordon.cases.audit_trail(case["case_id"])]
    assert "remove_failed" in events and events[-1] == "original_removed"
    assert not world.dead_letters()


def _truncated_jpeg() -> bytes:
    return BAD_JPEG[: len(BAD_JPEG) // 2]


def _bomb_png() -> bytes:
    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # 81 Mpx in a few KB
    return out.getvalue()


def test_bad_inputs_get_a_verdict_and_never_fail_the_batch(world: World, monkeypatch):
    monkeypatch.setenv("CORDON_MAX_OBJECT_BYTES", "200000")
    chalice_app.reset()  # the handler's next container reads the new cap
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    inputs = {
        "empty.jpg": b"",
        "truncated.jpg": _truncated_jpeg(),
        "bomb.png": _bomb_png(),
        "huge.bin": b"\0" * 300_000,
        "notes.txt": b"just text, named nothing in particular",
    }
    refs = {key: world.upload("alpha-uploads", key, data) for key, data in inputs.items()}
    good = world.upload("alpha-uploads", "good.jpg", BAD_JPEG)
    world.drain()
    verdicts = {key: world.case("alpha", ref) for key, ref in refs.items()}
    assert all(case is not None for case in verdicts.values())
    problems = {key: " ".join(case["verdict"]["problems"]) for key, case in verdicts.items()}
    notes = {key: " ".join(case["verdict"]["notes"]) for key, case in verdicts.items()}
    assert "empty object" in notes["empty.jpg"]
    assert "truncated" in problems["truncated.jpg"]  # half drawn, hashed, matched nothing
    assert "decompression bomb" in problems["bomb.png"]
    assert "exceeds the size cap" in problems["huge.bin"]
    assert "exact hashes only" in notes["notes.txt"]
    # Images that cannot be judged are held for review; other bytes pass (exact hashes only).
    actions = {key: case["verdict"]["action"] for key, case in verdicts.items()}
    assert actions == {
        "empty.jpg": "ALLOW",
        "truncated.jpg": "REVIEW",
        "bomb.png": "REVIEW",
        "huge.bin": "ALLOW",
        "notes.txt": "ALLOW",
    }
    good_case = world.case("alpha", good)
    assert good_case is not None and good_case["status"] == "quarantined"
    assert not world.dead_letters()


def test_object_deleted_before_processing_is_recorded_not_retried(world: World):
    world.tenant("alpha", "alpha-uploads")
    ref = world.upload("alpha-uploads", "gone.jpg", BAD_JPEG)
    world.s3.delete_object(Bucket="alpha-uploads", Key="gone.jpg")
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "gone"
    assert not world.dead_letters()


def test_bucket_of_no_tenant_is_rejected_without_touching_it(world: World):
    world.s3.create_bucket(Bucket="stranger")
    world.share("pdq", pdq_of(BAD_JPEG))
    world.s3.put_object(Bucket="stranger", Key="x.jpg", Body=BAD_JPEG)
    world.cordon.sqs.send_message(
        QueueUrl=world.stack.refs["IngestQueue"],
        MessageBody=json.dumps({"bucket": "stranger", "key": "x.jpg"}),
    )
    world.drain()
    assert world.exists("stranger", "x.jpg")
    assert not world.dead_letters()


def test_malformed_body_goes_to_dlq_with_reason_and_batch_succeeds(world: World):
    world.tenant("alpha", "alpha-uploads")
    queue = world.stack.refs["IngestQueue"]
    world.cordon.sqs.send_message(QueueUrl=queue, MessageBody="{not json")
    ref = world.upload("alpha-uploads", "fine.jpg", samples.jpeg(samples.clean(1)[0]))
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["verdict"]["action"] == "ALLOW"
    dead = world.dead_letters()
    assert len(dead) == 1
    assert dead[0]["Body"] == "{not json"
    reason = dead[0]["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
    assert "not JSON" in reason


def test_record_that_keeps_failing_is_dead_lettered_with_its_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))

    def broken(self, *args, **kwargs):
        raise ConnectionError("injected: evidence bucket unreachable")

    monkeypatch.setattr(ObjectStore, "store_evidence", broken)
    ref = world.upload("alpha-uploads", "stuck.jpg", BAD_JPEG)
    world.drain()
    dead = world.dead_letters()
    assert len(dead) == 1
    reason = dead[0]["MessageAttributes"][REASON_ATTRIBUTE]["StringValue"]
    assert "failed 3 times" in reason and "evidence bucket unreachable" in reason
    assert world.exists("alpha-uploads", "stuck.jpg")  # nothing lost
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantining"


def test_tenant_a_events_never_touch_tenant_b(world: World):
    world.tenant("alpha", "alpha-uploads")
    world.tenant("beta", "beta-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    a_ref = world.upload("alpha-uploads", "same-key.jpg", BAD_JPEG)
    b_ref = world.upload("beta-uploads", "same-key.jpg", samples.jpeg(samples.clean(1)[0]))
    world.drain()
    a_case, b_case = world.case("alpha", a_ref), world.case("beta", b_ref)
    assert a_case is not None and b_case is not None
    assert a_case["tenant_id"] == "alpha" and b_case["tenant_id"] == "beta"
    assert not world.exists("alpha-uploads", "same-key.jpg")
    assert world.exists("beta-uploads", "same-key.jpg")
    assert [c.case_id for c in world.cordon.cases.for_tenant("beta")] == [b_case["case_id"]]
    assert [c.case_id for c in world.cordon.cases.for_tenant("alpha")] == [a_case["case_id"]]
    assert a_case["evidence"]["key"].startswith("alpha/")
    # An event naming beta's bucket resolves to beta only, whatever the key.
    assert world.case("alpha", b_ref) is None


def _count_calls(client: Any, service: str, **only: str) -> collections.Counter[str]:
    """Requests `client` sends from now on whose parameters include `only`, by operation."""
    sent: collections.Counter[str] = collections.Counter()

    def count(model: Any, params: dict[str, Any], **_: Any) -> None:
        if all(params.get(name) == value for name, value in only.items()):
            sent.update([model.name])

    client.meta.events.register(f"provide-client-params.{service}", count)
    return sent


def test_an_allowed_upload_costs_one_get_and_no_case_read(world: World):
    # GIVEN a tenant and a clean upload
    world.tenant("alpha", "alpha-uploads")
    ref = world.upload("alpha-uploads", "clean.jpg", samples.jpeg(samples.clean(1)[0]))
    s3 = _count_calls(world.s3, "s3", Bucket="alpha-uploads")
    dynamodb = _count_calls(
        world.cordon.dynamodb.meta.client, "dynamodb", TableName=world.cordon.settings.cases_table
    )
    # WHEN it is processed
    world.drain()
    # THEN one GET read it (size, ETag and version came with the body: no HEAD), and its case
    # was created without being read first (nor the tenant's ruling on the bytes)
    assert s3["GetObject"] == 1 and s3["HeadObject"] == 0
    assert dynamodb["GetItem"] == 0 and dynamodb["PutItem"] == 1
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "allowed"
    assert case["object"]["content_type"] and case["object"]["size"] > 0


def test_a_key_overwritten_before_processing_reads_as_gone(world: World):
    # GIVEN an upload (an unversioned bucket: the event names it by ETag) overwritten at once
    world.tenant("alpha", "alpha-uploads")
    first = world.upload("alpha-uploads", "k.jpg", BAD_JPEG)
    world.upload("alpha-uploads", "k.jpg", samples.jpeg(samples.clean(1)[0]))
    # WHEN the first event is processed
    result = world.cordon.pipeline.process(first)
    # THEN its bytes are gone (If-Match failed), not judged as the new upload's
    assert result.outcome.value == "gone" and "overwritten" in result.detail
    case = world.case("alpha", first)
    assert case is not None and case["status"] == "gone"


def test_processing_an_object_again_finds_its_case(world: World):
    # GIVEN an allowed upload and a quarantined one, each processed once
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", pdq_of(BAD_JPEG))
    allowed = world.upload("alpha-uploads", "ok.jpg", samples.jpeg(samples.clean(1)[0]))
    held = world.upload("alpha-uploads", "bad.jpg", BAD_JPEG)
    world.drain()
    # WHEN the pipeline meets them again past idempotency (its records have expired)
    again = [world.cordon.pipeline.process(ref) for ref in (allowed, held)]
    # THEN each case is found (the allowed one by its conditional create, the held one whose
    # original is gone by the case read that follows) and nothing is done twice
    assert [r.outcome.value for r in again] == ["already_handled", "already_handled"]
    assert [r.detail for r in again] == ["case already allowed", "case already quarantined"]
    trail = world.cordon.cases.audit_trail(held.case_id("alpha"))
    assert [row["event"] for row in trail].count("evidence_stored") == 1


def test_a_case_reads_whole_though_stored_without_repeats(world: World):
    # GIVEN an allowed upload under a long key
    world.tenant("alpha", "alpha-uploads")
    key = "uploads/2026/11/23/" + "k" * 120 + "/IMG_0001.jpg"
    data = samples.jpeg(samples.clean(1)[0])
    ref = world.upload("alpha-uploads", key, data)
    world.drain()
    # THEN the stored item repeats nothing (it is billed per KB, three times over) ...
    raw = world.cordon.cases.table.get_item(Key={"pk": ref.case_id("alpha"), "sk": "CASE"})
    item = raw["Item"]
    assert "case_id" not in item and "updated_at" not in item
    assert all(s["type"] != "sha256" and "variant" not in s for s in item["signals"])
    # ... and reads back whole: its id, its update time, its SHA-256 first among its signals
    case = world.case("alpha", ref)
    assert case is not None and case["case_id"] == ref.case_id("alpha")
    assert case["updated_at"] == case["created_at"]
    assert case["signals"][0] == {"type": "sha256", "value": sha256_of(data)}
    assert [c.case_id for c in world.cordon.cases.for_tenant("alpha")] == [case["case_id"]]


def test_a_key_as_long_as_s3_allows_is_quarantined_within_s3s_limits(world: World):
    # GIVEN a known-bad upload under a key of 1,012 UTF-8 bytes (S3 takes up to 1,024; moto
    # enforces neither that nor the 2 KB of user metadata, so the limits are asserted here)
    world.tenant("alpha", "alpha-uploads")
    world.share("sha256", sha256_of(BAD_JPEG))
    key = "uploads/" + "é" * 500 + ".jpg"
    assert len(key.encode()) == 1012
    ref = world.upload("alpha-uploads", key, BAD_JPEG)
    world.drain()
    # THEN it is taken down, its evidence under a key S3 accepts, with metadata S3 accepts
    assert not world.exists("alpha-uploads", key)
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    evidence = case["evidence"]
    assert len(evidence["key"].encode()) <= 1024 and evidence["key"].endswith("éé.jpg")
    head = world.s3.head_object(Bucket=evidence["bucket"], Key=evidence["key"])
    assert sum(len(k) + len(v) for k, v in head["Metadata"].items()) <= 2048
    assert case["object"]["key"] == key  # the case keeps it whole
