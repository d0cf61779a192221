"""On-call tools against moto: replay, dead-letter redrive, rescan, trace."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.storage import ObjectStore
from chalicelib.ingest import REASON_ATTRIBUTE
from chalicelib.settings import Settings
from cordon_cli import oncall, samples
from cordon_cli.main import main
from tests.conftest import World
from tests.events import EVENTS_DIR

BUCKET = "tenant-a-uploads"
KEY = "uploads/a b+c%d é.jpg"
PAYLOAD = b"cordon sample object\n"


@pytest.fixture
def tenant_a(world: World) -> World:
    world.tenant("tenant-a", BUCKET)
    world.upload(BUCKET, KEY, PAYLOAD)
    return world


def replay_file(world: World, name: str, **options: Any) -> list[dict[str, Any]]:
    messages = oncall.read_event_files([EVENTS_DIR / name])
    return list(oncall.replay(world.cordon, messages, **options))


EXPECTED = {
    "s3-put.json": [("processed", "gone")],
    "s3-put-moto.json": [("processed", "allowed")],
    "s3-put-via-sns.json": [("processed", "gone")],
    "eventbridge-object-created.json": [("processed", "gone")],
    "eventbridge-object-created-moto.json": [("processed", "allowed")],
    "replay.json": [("processed", "allowed")],
    "s3-test-event.json": [("ignored", None)],
    "s3-delete.json": [("ignored", None)],
    "eventbridge-object-deleted.json": [("ignored", None)],
    "malformed.json": [("failed", None)],
    "sqs-batch-s3.json": [("processed", "gone")] * 3,
    "sqs-receive-message.json": [("processed", "gone"), ("ignored", None)],
    "sns-lambda-event.json": [("processed", "gone")],
    "s3-no-records.json": [("ignored", None)],
}


def test_the_expectations_cover_every_sample():
    assert sorted(EXPECTED) == sorted(p.name for p in EVENTS_DIR.glob("*.json"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_sample_event_replays_as_expected(tenant_a: World, name: str):
    rows = replay_file(tenant_a, name)
    assert [(row["status"], row.get("outcome")) for row in rows] == EXPECTED[name]


def test_sample_payload_matches_the_etag_the_samples_carry():
    event = json.loads((EVENTS_DIR / "s3-put-moto.json").read_text())
    assert event["Records"][0]["s3"]["object"]["eTag"] == hashlib.md5(PAYLOAD).hexdigest()


def test_replaying_twice_acts_once(tenant_a: World):
    tenant_a.share("sha256", hashlib.sha256(PAYLOAD).hexdigest())
    first = replay_file(tenant_a, "s3-put-moto.json")
    second = replay_file(tenant_a, "eventbridge-object-created-moto.json")
    assert [(r["status"], r["outcome"]) for r in first] == [("processed", "quarantined")]
    assert second[0]["status"] == "skipped" and "already handled" in second[0]["detail"]
    versions = tenant_a.s3.list_object_versions(Bucket=tenant_a.cordon.settings.evidence_bucket)
    assert len(versions["Versions"]) == 1


def snapshot(world: World) -> dict[str, Any]:
    """Every item of every table and every object version of every bucket."""
    state: dict[str, Any] = {}
    for table in world.session.client("dynamodb").list_tables()["TableNames"]:
        items = world.session.client("dynamodb").scan(TableName=table)["Items"]
        state[table] = sorted(json.dumps(i, sort_keys=True) for i in items)
    for bucket in world.s3.list_buckets()["Buckets"]:
        listing = world.s3.list_object_versions(Bucket=bucket["Name"])
        state[bucket["Name"]] = sorted(
            (v["Key"], v["VersionId"], v["ETag"]) for v in listing.get("Versions", [])
        )
    return state


def test_dry_run_changes_nothing_and_prints_the_verdict(tenant_a: World):
    tenant_a.share("sha256", hashlib.sha256(PAYLOAD).hexdigest())
    before = snapshot(tenant_a)
    rows = replay_file(tenant_a, "s3-put-moto.json", dry_run=True)
    assert snapshot(tenant_a) == before
    assert rows[0]["status"] == "dry-run" and rows[0]["action"] == "TAKEDOWN"


def test_force_reevaluates_after_a_new_hash_without_a_second_case(tenant_a: World):
    first = replay_file(tenant_a, "replay.json")
    assert first[0]["outcome"] == "allowed"
    tenant_a.share("sha256", hashlib.sha256(PAYLOAD).hexdigest())
    assert replay_file(tenant_a, "replay.json")[0]["status"] == "skipped"
    forced = replay_file(tenant_a, "replay.json", force=True)
    assert forced[0]["outcome"] == "quarantined"
    assert forced[0]["case_id"] == first[0]["case_id"]
    again = replay_file(tenant_a, "s3-put-moto.json", force=True)
    assert again[0]["status"] == "processed" and "stays held" in again[0]["detail"]
    cases = tenant_a.cordon.cases.for_tenant("tenant-a")
    assert [c.case_id for c in cases] == [first[0]["case_id"]]
    trail = [row["event"] for row in tenant_a.cordon.cases.audit_trail(first[0]["case_id"])]
    assert trail.count("evidence_stored") == 1 and trail.count("re-evaluated") == 2


def test_failed_message_is_redriven_and_completes(world: World, monkeypatch, capsys):
    world.tenant("alpha", "alpha-uploads")
    bad = samples.jpeg(samples.known_bad(1)[0])
    world.share("sha256", hashlib.sha256(bad).hexdigest())

    def broken(self, *args, **kwargs):
        raise ConnectionError("injected: evidence bucket unreachable")

    working = ObjectStore.store_evidence
    monkeypatch.setattr(ObjectStore, "store_evidence", broken)
    ref = world.upload("alpha-uploads", "stuck.jpg", bad)
    world.drain()
    listed = oncall.dlq_list(world.cordon, None)
    assert len(listed) == 1 and "evidence bucket unreachable" in listed[0]["reason"]
    assert listed[0]["objects"] == ["s3://alpha-uploads/stuck.jpg"]
    # The fault is fixed; the engineer redrives.
    monkeypatch.setattr(ObjectStore, "store_evidence", working)
    assert main(["dlq", "redrive", "--all", "--json"]) == 0
    assert '"status": "moved"' in capsys.readouterr().out
    world.drain()
    case = world.case("alpha", ref)
    assert case is not None and case["status"] == "quarantined"
    assert oncall.dlq_list(world.cordon, None) == []


def test_dlq_show_and_redrive_of_one_chosen_message(world: World):
    dlq = world.stack.refs["IngestDeadLetterQueue"]
    for n in range(3):
        world.cordon.sqs.send_message(
            QueueUrl=dlq,
            MessageBody=json.dumps({"bucket": "b", "key": f"k{n}"}),
            MessageAttributes={
                REASON_ATTRIBUTE: {"DataType": "String", "StringValue": f"reason {n}"}
            },
        )
    listed = oncall.dlq_list(world.cordon, None)
    chosen = next(row for row in listed if row["objects"] == ["s3://b/k1"])
    shown = oncall.dlq_show(world.cordon, None, chosen["message_id"])
    assert shown is not None and shown["reason"] == "reason 1"
    moved = oncall.dlq_redrive(world.cordon, None, ids=[chosen["message_id"]])
    assert [m["message_id"] for m in moved] == [chosen["message_id"]]
    remaining = oncall.dlq_list(world.cordon, None)
    assert sorted(r["objects"][0] for r in remaining) == ["s3://b/k0", "s3://b/k2"]
    ingest = world.cordon.sqs.receive_message(QueueUrl=world.stack.refs["IngestQueue"])
    assert json.loads(ingest["Messages"][0]["Body"])["key"] == "k1"


def test_interrupted_rescan_resumes_without_reprocessing(world: World, tmp_path: Path):
    world.tenant("alpha", "alpha-uploads")
    for n in range(25):
        world.s3.put_object(Bucket="alpha-uploads", Key=f"old/{n:02d}.txt", Body=f"{n}".encode())
    settings = Settings.from_env()
    first = oncall.rescan(
        settings, "s3://alpha-uploads/old/", tmp_path, concurrency=2, rate=0, page_size=10
    )
    rows = [next(first) for _ in range(15)]  # interrupted in the second page
    first.close()
    assert {r["status"] for r in rows} == {"processed"}
    resumed = list(
        oncall.rescan(
            settings, "s3://alpha-uploads/old/", tmp_path, concurrency=2, rate=0, page_size=10
        )
    )
    keys = [r["object"].rsplit("/", 1)[1] for r in resumed]
    assert keys == [f"{n:02d}.txt" for n in range(10, 25)]  # the first page is not revisited
    # The interrupted page is read again: what was done is skipped, not redone (workers may
    # have finished objects the first run never reported), the rest is processed.
    done_first = {r["object"] for r in rows}
    done_again = {r["object"] for r in resumed if r["status"] == "processed"}
    skipped = {r["object"] for r in resumed if r["status"] == "skipped"}
    assert {r["status"] for r in resumed} <= {"processed", "skipped"}
    assert not done_first & done_again
    assert {r["object"] for r in rows[10:]} <= skipped
    everything = {f"s3://alpha-uploads/old/{n:02d}.txt" for n in range(25)}
    assert done_first | done_again | skipped == everything
    assert len(world.cordon.cases.for_tenant("alpha")) == 25
    assert not list(tmp_path.glob("*.json")), "a finished rescan leaves no checkpoint"


def test_trace_tells_the_whole_story_of_a_quarantined_object(world: World, capsys):
    world.tenant("alpha", "alpha-uploads")
    bad = samples.jpeg(samples.known_bad(1)[0])
    world.share("sha256", hashlib.sha256(bad).hexdigest(), ("propaganda",))
    ref = world.upload("alpha-uploads", "traced.jpg", bad)
    world.drain()
    assert main(["trace", "s3://alpha-uploads/traced.jpg", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tenant"] == "alpha" and report["now"] == {"in_bucket": False}
    (case,) = report["cases"]
    assert case["case_id"] == ref.case_id("alpha")
    assert case["verdict"]["matches"][0]["labels"] == ["propaganda"]
    assert [row["event"] for row in case["audit"]] == [
        "verdict",
        "evidence_stored",
        "original_removed",
    ]
    assert [h["status"] for h in case["history"]] == ["quarantining", "quarantined"]
    assert main(["trace", case["case_id"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cases"][0]["case_id"] == case["case_id"]


def test_replay_cli_exit_codes_and_json_summary(tenant_a: World, capsys):
    assert main(["replay", str(EVENTS_DIR / "replay.json"), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1] == {"summary": {"processed": 1}}
    assert main(["replay", str(EVENTS_DIR / "malformed.json"), "--json"]) == 1
    capsys.readouterr()
    assert main(["replay", str(EVENTS_DIR / "replay.json"), "--tenant", "nobody", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"summary": {"filtered": 1}}


def test_replay_time_filter_reads_event_times_without_a_zone_as_utc(world: World):
    from datetime import UTC, datetime

    from chalicelib.models import ObjectRef

    only = oncall.ReplayFilter(
        since=datetime(2024, 5, 14, 9, 0, tzinfo=UTC),
        until=datetime(2024, 5, 14, 10, 0, tzinfo=UTC),
    )
    inside = ObjectRef("b", "k", event_time="2024-05-14T09:30:00")
    before = ObjectRef("b", "k", event_time="2024-05-14T08:30:00")
    assert only.reason_to_skip(world.cordon, inside) is None
    assert only.reason_to_skip(world.cordon, before) == "before --since"


# -- what an on-call engineer saves and replays ---------------------------------------------


def test_each_message_of_a_batch_is_labelled_by_its_place(tenant_a: World):
    rows = replay_file(tenant_a, "sqs-batch-s3.json")
    assert [row["source"] for row in rows] == [
        "sqs-batch-s3.json#1",
        "sqs-batch-s3.json#2",
        "sqs-batch-s3.json#3",
    ]
    dump = replay_file(tenant_a, "sqs-receive-message.json")
    assert [row["source"] for row in dump] == [
        "sqs-receive-message.json#1",
        "sqs-receive-message.json#2",
    ]


def test_a_bad_json_line_is_reported_by_its_number_and_the_others_still_run(
    tenant_a: World, tmp_path: Path, capsys
):
    # GIVEN JSON lines: a replay, a line cut short, an S3 notification as moto sends it
    saved = tmp_path / "saved.jsonl"
    good = [json.loads((EVENTS_DIR / n).read_text()) for n in ("replay.json", "s3-put-moto.json")]
    saved.write_text(
        json.dumps(good[0]) + "\n" + '{"bucket": "tenant-a-uploads", "key"\n' + json.dumps(good[1])
    )
    # WHEN it is replayed
    code = main(["replay", str(saved), "--json"])
    # THEN line 2 fails, named, and lines 1 and 3 are processed; some failed: exit 1
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 1
    assert [(r["source"], r["status"]) for r in rows[:-1]] == [
        ("saved.jsonl:1#1", "processed"),
        ("saved.jsonl:2#1", "failed"),
        ("saved.jsonl:3#1", "skipped"),  # the same object as line 1, already handled
    ]
    assert "not JSON" in rows[1]["detail"]
    assert rows[-1] == {"summary": {"failed": 1, "processed": 1, "skipped": 1}}


def test_a_broken_single_document_is_one_failure_naming_where(world: World, tmp_path: Path):
    broken = tmp_path / "broken.json"
    broken.write_text((EVENTS_DIR / "s3-put.json").read_text()[:-20])
    rows = list(oncall.replay(world.cordon, oncall.read_event_files([broken])))
    assert [(r["source"], r["status"]) for r in rows] == [("broken.json#1", "failed")]
    assert "line" in rows[0]["detail"] and "column" in rows[0]["detail"]


def test_dry_run_of_a_gone_object_says_gone_like_the_real_run(tenant_a: World, capsys):
    before = snapshot(tenant_a)
    (row,) = replay_file(tenant_a, "s3-put.json", dry_run=True)
    assert snapshot(tenant_a) == before
    assert (row["status"], row["outcome"]) == ("dry-run", "gone")
    assert row["detail"].startswith("gone: ")
    assert main(["replay", str(EVENTS_DIR / "s3-put.json"), "--dry-run", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == {"summary": {"dry-run": 1}}


def test_empty_notification_replays_as_ignored(tenant_a: World, capsys):
    assert main(["replay", str(EVENTS_DIR / "s3-no-records.json"), "--json"]) == 0
    row, summary = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["status"] == "ignored" and row["detail"] == "notification with no records"
    assert summary == {"summary": {"ignored": 1}}


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_replay_example_works_as_written(world: World, capsys):
    # GIVEN no tenant owns the samples' bucket yet: the failure says what to do
    example = ["replay", "events/s3-put.json", "--dry-run"]
    assert main([*example[:1], str(EVENTS_DIR / "s3-put.json"), *example[2:]]) == 1
    out = capsys.readouterr().out
    assert "no tenant owns bucket tenant-a-uploads" in out and "tenants add" in out
    # WHEN the README's own lines are run (without --local: this test's moto is the stack)
    text = README.read_text()
    register = "cordon --local tenants add tenant-a --bucket tenant-a-uploads --create-bucket"
    dry_run = "cordon --local replay events/s3-put.json --dry-run"
    assert register in text and dry_run in text
    assert main(register.split()[2:]) == 0
    capsys.readouterr()
    # THEN the dry run answers: the version it names was never uploaded here
    args = dry_run.split()[2:]
    args[1] = str(EVENTS_DIR.parent / args[1])
    assert main([*args, "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (rows[0]["status"], rows[0]["outcome"]) == ("dry-run", "gone")


def test_dlq_list_counts_the_receives_before_it(world: World, capsys):
    # SQS has no peek: a listing receives each message, which adds one to its count.
    dlq = world.stack.refs["IngestDeadLetterQueue"]
    world.cordon.sqs.send_message(QueueUrl=dlq, MessageBody=json.dumps({"bucket": "b", "key": "k"}))
    assert [row["receive_count"] for row in oncall.dlq_list(world.cordon, None)] == [0]
    assert [row["receive_count"] for row in oncall.dlq_list(world.cordon, None)] == [1]
    assert main(["dlq", "list"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "receive counts before this listing, which adds one: SQS has no peek" in out
