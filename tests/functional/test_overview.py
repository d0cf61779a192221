"""The on-call overview against moto: `cases list|show`, `status`, a readable `trace`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib import signals
from chalicelib.settings import Settings
from cordon_cli import overview, samples
from cordon_cli.main import main
from tests.conftest import World

LABEL = "propaganda"


def share_pdq(world: World, data: bytes) -> str:
    examination = signals.examine_bytes(data, 10**8)
    value = examination.signal("pdq").value
    world.share("pdq", value, (LABEL,))
    return value


@pytest.fixture
def stocked(world: World) -> dict[str, Any]:
    """alpha: one copy of a known-bad image taken down by PDQ, one clean upload allowed;
    beta: one clean upload allowed."""
    world.tenant("alpha", "alpha-uploads")
    world.tenant("beta", "beta-uploads")
    original = samples.known_bad(1)[0]
    share_pdq(world, samples.jpeg(original))
    bad = samples.jpeg(samples.resized(original), quality=60)
    refs = {
        "bad": world.upload("alpha-uploads", "uploads/bad [1].jpg", bad),
        "clean": world.upload(
            "alpha-uploads", "uploads/clean.jpg", samples.jpeg(samples.clean(1)[0])
        ),
        "beta": world.upload("beta-uploads", "b.jpg", samples.jpeg(samples.clean(2)[1])),
    }
    world.drain()
    ids = {
        "bad": refs["bad"].case_id("alpha"),
        "clean": refs["clean"].case_id("alpha"),
        "beta": refs["beta"].case_id("beta"),
    }
    return {"world": world, "refs": refs, "ids": ids, "bad": bad}


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_cases_list_filters_by_tenant_status_label_and_time(stocked, capsys):
    ids = stocked["ids"]
    assert main(["cases", "list", "--json"]) == 0
    *rows, summary = json_lines(capsys.readouterr().out)
    assert {r["case_id"] for r in rows} == set(ids.values())
    assert summary == {"summary": {"allowed": 2, "quarantined": 1}, "matched": 3, "shown": 3}
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)

    assert main(["cases", "list", "--tenant", "alpha", "--status", "quarantined", "--json"]) == 0
    (row, _) = json_lines(capsys.readouterr().out)
    assert row["case_id"] == ids["bad"] and row["labels"] == [LABEL]
    assert row["object"] == "s3://alpha-uploads/uploads/bad [1].jpg"
    assert row["action"] == "TAKEDOWN"

    assert main(["cases", "list", "--label", LABEL, "--json"]) == 0
    assert [r["case_id"] for r in json_lines(capsys.readouterr().out)[:-1]] == [ids["bad"]]
    assert main(["cases", "list", "--tenant", "beta", "--since", "1h", "--json"]) == 0
    assert [r["case_id"] for r in json_lines(capsys.readouterr().out)[:-1]] == [ids["beta"]]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert main(["cases", "list", "--since", future, "--json"]) == 0
    assert json_lines(capsys.readouterr().out) == [{"summary": {}, "matched": 0, "shown": 0}]
    assert main(["cases", "list", "--until", "2020-01-01T00:00:00Z", "--json"]) == 0
    assert json_lines(capsys.readouterr().out)[-1]["matched"] == 0
    assert main(["cases", "list", "--limit", "1", "--json"]) == 0
    assert json_lines(capsys.readouterr().out)[-1] == {
        "summary": {"allowed": 1},
        "matched": 3,
        "shown": 1,
    }


def test_cases_list_reads_the_index_never_a_scan_of_the_cases_table(stocked, monkeypatch, capsys):
    world = stocked["world"]
    scanned = []

    def refuse_scan(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == world.cordon.settings.cases_table:
            scanned.append(params)

    world.session.events.register("before-call.dynamodb.Scan", refuse_scan)
    monkeypatch.setattr(
        overview.Reads, "from_env", classmethod(lambda cls: cls(Settings.from_env(), world.session))
    )
    for argv in (["cases", "list"], ["cases", "list", "--status", "allowed", "--since", "2h"]):
        assert main([*argv, "--json"]) == 0
    assert scanned == []
    assert len(json_lines(capsys.readouterr().out)) == 3 + 1 + 2 + 1


def test_cases_list_table_and_unknown_tenant(stocked, capsys):
    assert main(["cases", "list", "--tenant", "alpha"]) == 0
    out = capsys.readouterr().out
    for text in (stocked["ids"]["bad"][:12], "quarantined", LABEL, "1 allowed, 1 quarantined"):
        assert text in out
    assert main(["cases", "list", "--tenant", "nobody"]) == 2
    assert "no tenant nobody" in capsys.readouterr().err


def test_cases_show_explains_distance_threshold_and_retention(stocked, capsys):
    case_id = stocked["ids"]["bad"]
    assert main(["cases", "show", case_id]) == 0
    out = capsys.readouterr().out
    assert f"case {case_id}" in out
    assert "status    quarantined: removed by an automated takedown" in out
    assert "in the bucket now: no" in out
    assert "uploads/bad [1].jpg" in out  # brackets shown as written, not read as markup
    assert "(distance in bits of 256; match ≤ 31)" in out
    assert "verdict   TAKEDOWN" in out
    assert "S3 Object Lock, COMPLIANCE mode: nobody" in out and "locked until 20" in out
    trail = [
        line.split()[1] for line in out.split("audit trail (oldest first):")[1].splitlines()[1:]
    ]
    assert trail == ["verdict", "evidence_stored", "original_removed"]


def test_cases_show_json_is_the_case_and_its_trail(stocked, capsys):
    world, case_id = stocked["world"], stocked["ids"]["bad"]
    assert main(["cases", "show", case_id, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    case = world.cordon.cases.get(case_id).to_dict()
    assert {k: report[k] for k in case if k != "review"} == {
        k: v for k, v in case.items() if k != "review"
    }
    assert [row["event"] for row in report["audit"]] == [
        "verdict",
        "evidence_stored",
        "original_removed",
    ]
    assert report["in_bucket_now"] is False and report["now"] == {"in_bucket": False}
    assert report["evidence_now"]["lock_mode"] == "COMPLIANCE"
    assert report["thresholds"] == {"pdq": {"exact": False, "bits": 256, "max_distance": 31}}
    assert main(["cases", "show", "no-such-case"]) == 1


def test_cases_show_flags_known_bad_bytes_public_again(stocked, capsys):
    # GIVEN the uploader put the taken-down file back and the notification was lost
    world = stocked["world"]
    world.s3.put_object(Bucket="alpha-uploads", Key="uploads/bad [1].jpg", Body=stocked["bad"])
    # WHEN the on-call engineer looks at the case THEN it says the object is up again
    assert main(["cases", "show", stocked["ids"]["bad"]]) == 0
    out = capsys.readouterr().out
    assert "in the bucket now: yes" in out
    assert "ATTENTION the object is in the bucket again" in out and "replay --force" in out


def test_trace_is_readable_by_default_and_raw_with_json(stocked, capsys):
    case_id = stocked["ids"]["bad"]
    assert main(["trace", "s3://alpha-uploads/uploads/bad [1].jpg"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("object s3://alpha-uploads/uploads/bad [1].jpg")
    assert "now       not in the bucket" in out and f"case {case_id}" in out
    assert "match ≤ 31" in out and "locked until" in out
    with pytest.raises(ValueError):
        json.loads(out)
    assert main(["trace", case_id, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cases"][0]["case_id"] == case_id
    assert main(["trace", "s3://alpha-uploads/never.jpg"]) == 1
    assert "no case" in capsys.readouterr().out


# -- status -----------------------------------------------------------------------------------


def status(capsys, *extra: str) -> tuple[int, dict[str, Any]]:
    code = main(["status", "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_status_of_a_healthy_stack(world: World, capsys):
    code, report = status(capsys)
    assert code == 0 and report["attention"] == []
    assert report["stack"]["reachable"] is True and report["stack"]["region"] == "us-east-1"
    assert report["stack"]["account"] == world.stack.account
    names = {q["name"]: q for q in report["queues"]}
    assert {"cordon-ingest", "cordon-ingest-dlq", "cordon-webhook-dlq"} <= set(names)
    assert names["cordon-ingest-dlq"]["dead_letter"] and not names["cordon-ingest"]["dead_letter"]
    assert names["cordon-ingest"]["depth"] == 0
    assert [row["signal_type"] for row in report["index"]] == ["pdq"]
    assert main(["status"]) == 0
    assert "all well" in capsys.readouterr().out


def test_status_needs_attention_for_dead_letters_with_the_oldest_age(world: World, capsys):
    url = world.stack.refs["IngestDeadLetterQueue"]
    world.cordon.sqs.send_message(QueueUrl=url, MessageBody="{}")
    world.cordon.sqs.send_message(QueueUrl=url, MessageBody="{}")
    code, report = status(capsys)
    assert code == 1
    (dlq,) = [q for q in report["queues"] if q["name"] == "cordon-ingest-dlq"]
    assert dlq["depth"] == 2 and dlq["oldest_from"] == "peek of 2 of 2 messages"
    assert 0 <= dlq["oldest_seconds"] < 60
    assert report["attention"] == ["2 dead letters: `cordon dlq list cordon-ingest-dlq`"]
    # the peek released them: both are still there to redrive
    again = world.cordon.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert again["Attributes"]["ApproximateNumberOfMessages"] == "2"
    assert main(["status"]) == 1
    assert "NEEDS ATTENTION" in capsys.readouterr().out


def test_status_lists_alarms_in_alarm(world: World, capsys):
    cloudwatch = world.session.client("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="cordon-objects-failed",
        MetricName="ObjectsFailed",
        Namespace="Cordon",
        Statistic="Sum",
        Period=300,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    cloudwatch.set_alarm_state(
        AlarmName="cordon-objects-failed", StateValue="ALARM", StateReason="3 objects failed"
    )
    code, report = status(capsys)
    assert code == 1
    assert [a["name"] for a in report["alarms"]] == ["cordon-objects-failed"]
    assert report["attention"] == ["alarm cordon-objects-failed: 3 objects failed"]


def test_status_says_how_far_the_index_snapshot_trails_the_table(world: World, capsys):
    share_pdq(world, samples.jpeg(samples.known_bad(1)[0]))
    code, report = status(capsys, "--snapshot-lag", "0")
    (pdq,) = report["index"]
    assert code == 1 and pdq["snapshot"] is None and pdq["behind"] == pdq["table_seq"] >= 1
    assert pdq["table_newest_at"]
    assert main(["index", "snapshot", "--json"]) == 0
    capsys.readouterr()
    code, report = status(capsys, "--snapshot-lag", "0")
    (pdq,) = report["index"]
    assert code == 0 and pdq["behind"] == 0
    assert pdq["snapshot"]["watermark"] == pdq["table_seq"]


def test_status_of_an_unreachable_stack_says_so(monkeypatch, capsys):
    # GIVEN an endpoint nothing listens on (no moto here: the real client, one attempt)
    for name, value in {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    code, report = status(capsys)
    assert code == 1 and report["stack"]["reachable"] is False
    assert report["stack"]["endpoint"] == "http://127.0.0.1:9"
    assert report["attention"][0].startswith("the stack cannot be reached")


# -- rescan's output ------------------------------------------------------------------------


def test_rescan_prints_a_summary_and_rows_only_with_verbose(world: World, tmp_path, capsys):
    world.tenant("alpha", "alpha-uploads")
    for n in range(12):
        world.upload("alpha-uploads", f"old/{n:02d}.txt", f"file {n}".encode())
    argv = ["rescan", "s3://alpha-uploads/old/", "--checkpoint-dir", str(tmp_path), "--rate", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Summary: 12 in" in out and "12 processed" in out
    assert "old/03.txt" not in out, "a row per object only with --verbose"
    assert main([*argv, "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "old/03.txt" in out and "12 skipped" in out


def test_rescan_counts_what_is_left_for_its_progress(world: World, tmp_path):
    from cordon_cli import oncall

    world.tenant("alpha", "alpha-uploads")
    for n in range(7):
        world.upload("alpha-uploads", f"old/{n:02d}.txt", b"x")
    world.upload("alpha-uploads", "other/a.txt", b"x")
    settings = Settings.from_env()
    assert oncall.rescan_total(settings, "s3://alpha-uploads/old/", tmp_path, False) == 7
    checkpoint = oncall.Checkpoint.for_uri(tmp_path, "s3://alpha-uploads/old/", False)
    checkpoint.start_after = "old/04.txt"
    checkpoint.save()
    assert oncall.rescan_total(settings, "s3://alpha-uploads/old/", tmp_path, False) == 2
    assert oncall.rescan_total(settings, "s3://alpha-uploads/old/", tmp_path, True) == 7
