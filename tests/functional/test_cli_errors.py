"""Mistakes an operator makes with `cordon`, each answered in one line on stderr (what is wrong,
what to do) with exit 1 (it failed) or 2 (used wrongly), never a traceback (issue 16 item 5),
and the local stack's gaps said plainly (item 8). Against moto, or no AWS at all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from cordon_cli.main import main
from cordon_cli.state import STATE_VARIABLE, find_state_file
from tests.app.local_process import ROOT, clean_environment
from tests.conftest import World


def one_line(capsys: pytest.CaptureFixture) -> str:
    """The command's error, checked to be one line and no traceback (besides the line naming
    the AWS account, under moto)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("cordon: AWS account")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A shell with no AWS settings at all (and no instance metadata to fall back on)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "CORDON_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stale_state(directory: Path) -> tuple[Path, str]:
    """The state file a `cordon local` killed with -9 leaves: its stack is gone."""
    endpoint = f"http://127.0.0.1:{closed_port()}"
    path = directory / ".cordon" / "local.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"environment": {"AWS_ENDPOINT_URL": endpoint}, "api": ""}))
    return path, endpoint


# -- forgetting --local, and --local gone wrong ------------------------------------------------


def test_forgetting_local_without_credentials_says_add_local(no_aws, capsys):
    assert main(["tenants", "list"]) == 2
    line = one_line(capsys)
    assert "no AWS credentials" in line and "--local" in line


def test_a_command_for_aws_first_says_which_account_and_region(world: World, capsys):
    assert main(["tenants", "list"]) == 0
    err = capsys.readouterr().err
    assert "AWS account 123456789012, region us-east-1" in err


def test_local_from_a_subdirectory_finds_the_state_file_and_sees_the_stack_is_gone(
    no_aws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
):
    path, endpoint = stale_state(tmp_path)
    below = tmp_path / "docs" / "deeper"
    below.mkdir(parents=True)
    monkeypatch.chdir(below)
    assert find_state_file(None) == path
    assert main(["--local", "tenants", "list"]) == 1
    line = one_line(capsys)
    assert f"the local stack at {endpoint} is not running" in line
    assert "start it with `cordon local`" in line


def test_state_file_named_by_cordon_state(no_aws, tmp_path: Path, monkeypatch, capsys):
    path, endpoint = stale_state(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(STATE_VARIABLE, str(path))
    assert find_state_file(None) == path
    assert main(["--local", "dlq", "list"]) == 1
    assert endpoint in one_line(capsys)


def test_no_state_file_anywhere(no_aws, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--local", "tenants", "list"]) == 2
    line = one_line(capsys)
    assert "no local stack" in line and "cordon local" in line and STATE_VARIABLE in line


def test_debug_shows_the_traceback(no_aws, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    stale_state(tmp_path)
    assert main(["--debug", "--local", "tenants", "list"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().splitlines()[-1].startswith("cordon: the local")


# -- AWS answers -------------------------------------------------------------------------------


def test_a_missing_bucket_is_named(world: World, capsys):
    assert main(["tenants", "add", "nobody", "--bucket", "no-such-bucket"]) == 1
    line = one_line(capsys)
    assert "bucket no-such-bucket does not exist" in line and "--create-bucket" in line
    assert world.cordon.tenants.get("nobody") is None


def test_a_wrong_reviewer_key_is_refused_and_says_how_to_get_one(world: World, capsys):
    world.tenant("alpha", "alpha-uploads")
    assert main(["reviews", "list", "--key", "not-a-key"]) == 2
    line = one_line(capsys)
    assert "refused" in line and "cordon tenants key" in line
    assert main(["reviews", "list"]) == 2
    assert "no API key" in one_line(capsys)


def test_registering_a_tenant_again_says_so(world: World, capsys):
    assert main(["tenants", "add", "acme", "--bucket", "acme-a", "--create-bucket"]) == 0
    assert "registered already" not in capsys.readouterr().err
    assert main(["tenants", "add", "acme", "--bucket", "acme-b", "--create-bucket"]) == 0
    assert "tenant acme is registered already" in capsys.readouterr().err
    tenant = world.cordon.tenants.get("acme")
    assert tenant is not None and tenant.buckets == ("acme-a", "acme-b")


# -- the local stack's gaps ----------------------------------------------------------------


def test_classifier_is_refused_on_the_local_stack(world: World, monkeypatch, capsys):
    # GIVEN the environment of the local stack (moto: no Rekognition moderation labels)
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    args = ["tenants", "add", "c", "--bucket", "c-uploads", "--create-bucket", "--classifier"]
    assert main(args) == 2
    line = one_line(capsys)
    assert "Rekognition" in line and "without --classifier" in line
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert world.cordon.tenants.get("c") is None


# -- the output's reader going away ------------------------------------------------------------

EXPORT_MANY = """
import os, sys
import boto3
from moto import mock_aws
with mock_aws():
    from cordon_cli.bootstrap import bootstrap, load_template
    template = load_template()
    stack = bootstrap(boto3.session.Session(region_name="us-east-1"), template)
    os.environ.update(stack.environment(template))
    from chalicelib.models import HashRecord
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon
    Cordon(Settings.from_env()).hashes.put(HashRecord("md5", f"{i:032x}") for i in range(2000))
    from cordon_cli.main import main
    sys.exit(main(["hashes", "export"]))
"""


def test_piping_into_head_ends_quietly():
    # Buffered output, as in a user's shell (with PYTHONUNBUFFERED a write to the closed pipe
    # is dropped without an error, so the bug does not show).
    environment = {
        **{k: v for k, v in clean_environment().items() if k != "PYTHONUNBUFFERED"},
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    process = subprocess.Popen(
        [sys.executable, "-c", EXPORT_MANY],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()  # `| head -1`: one line, then the pipe is closed
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait(timeout=120) == 0, err
    assert json.loads(first)["signal_type"] == "md5"
    assert "Traceback" not in err and "BrokenPipe" not in err, err
