"""What the ingest Lambda writes: the real handler, in a process of its own, read from its
stdout and stderr (both reach CloudWatch, one log event a line)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FAKE_ENV

ROOT = Path(__file__).resolve().parents[2]


def run_ingest(**env: str) -> list[str]:
    """Every line one invocation (`tests/app/lambda_run.py`) wrote, stdout then stderr."""
    inherited = ("AWS_", "CORDON_", "POWERTOOLS_LOG_LEVEL", "LOG_LEVEL")
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(inherited)},
        **FAKE_ENV,
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-m", "tests.app.lambda_run"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return run_ingest()


@pytest.fixture(scope="module")
def records(lines: list[str]) -> list[dict[str, Any]]:
    return json_records(lines)


def json_records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_every_line_is_one_json_record_written_once(lines: list[str]):
    # THEN nothing but JSON reaches the log (no plain-text copy from another handler)
    for line in lines:
        assert line.startswith("{"), f"not a JSON log line: {line!r}"
        json.loads(line)
    assert len(lines) == len(set(lines)), "a line was written twice"


def test_each_object_logs_one_info_line_with_its_own_correlation_id(
    records: list[dict[str, Any]],
):
    processed = [r for r in records if r["message"] == "object processed"]
    assert [r["level"] for r in processed] == ["INFO", "INFO"]
    ids = sorted(r["correlation_id"] for r in processed)
    assert ids[0].startswith("s3://tenant-a-uploads/first.txt@")
    assert ids[1].startswith("s3://tenant-a-uploads/second.txt@")
    assert {r["outcome"] for r in processed} == {"allowed"}


def test_lines_after_an_object_do_not_carry_its_correlation_id(records: list[dict[str, Any]]):
    ignored = [r for r in records if r["message"] == "event ignored"]
    dead = [r for r in records if r["message"] == "dead-lettered"]
    assert [r["level"] for r in ignored] == ["INFO", "INFO"]
    assert sorted(r["reason"] for r in ignored) == [
        "notification with no records",  # {"Records": []}: said, not dropped silently
        "s3:TestEvent for bucket tenant-a-uploads",
    ]
    assert [r["level"] for r in dead] == ["ERROR"]
    for record in ignored + dead:
        assert "correlation_id" not in record, record


def test_the_level_is_set_by_powertools_log_level():
    records = json_records(run_ingest(POWERTOOLS_LOG_LEVEL="WARNING"))
    assert {r["level"] for r in records} == {"WARNING", "ERROR"}  # no INFO line
    assert [r["message"] for r in records if r["level"] == "ERROR"] == ["dead-lettered"]
