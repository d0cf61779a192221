"""`cordon local --log-file`: the handlers' JSON lines go to the file, as `make demo` promises
for `.cordon/demo.log`."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.app.local_process import cordon_local


def wait_for_line(path: Path, message: str, timeout: float = 60) -> list[dict[str, Any]]:
    """The file's JSON records once one of them says `message`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        records = [json.loads(line) for line in lines if line.strip()]
        if any(r["message"] == message for r in records):
            return records
        time.sleep(0.5)
    raise AssertionError(f"no {message!r} in {path} after {timeout} s")


@pytest.mark.slow
def test_local_stack_writes_the_handlers_info_lines_to_its_log_file(tmp_path: Path):
    with cordon_local(tmp_path) as local:
        added = local.cordon(
            "tenants", "add", "acme", "--bucket", "acme-uploads", "--create-bucket"
        )
        assert added.returncode == 0, added.stdout + added.stderr
        env = local.environment
        s3 = boto3.client(
            "s3",
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_DEFAULT_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        s3.put_object(Bucket="acme-uploads", Key="hello.txt", Body=b"hello\n")
        records = wait_for_line(tmp_path / "handlers.log", "object processed")
    processed = [r for r in records if r["message"] == "object processed"]
    assert [r["level"] for r in processed] == ["INFO"]
    assert processed[0]["correlation_id"].startswith("s3://acme-uploads/hello.txt@")
    assert processed[0]["tenant_id"] == "acme"
