"""`cordon local` as a user runs it: a separate process, then the demo attached to it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cordon_command() -> list[str]:
    script = shutil.which("cordon", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cordon_cli.main"]


@pytest.mark.slow
def test_cordon_local_then_demo_end_to_end(tmp_path: Path):
    state = tmp_path / "local.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CORDON_"))}
    local = subprocess.Popen(
        [
            *cordon_command(),
            "--state-file",
            str(state),
            "local",
            "--log-file",
            str(tmp_path / "handlers.log"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not state.exists():
            assert local.poll() is None, local.stdout.read() if local.stdout else ""
            assert time.monotonic() < deadline, "cordon local did not come up in 60 s"
            time.sleep(0.2)
        api = json.loads(state.read_text())["api"]
        with urllib.request.urlopen(f"{api}/health", timeout=10) as response:
            assert json.load(response) == {"status": "ok"}
        demo = subprocess.run(
            [*cordon_command(), "--state-file", str(state), "--local", "demo", "--timeout", "90"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert demo.returncode == 0, demo.stdout + demo.stderr
        assert "17/17 as expected" in demo.stdout
        assert "13 quarantined (7 taken down, 6 held for review), 4 allowed" in demo.stdout
        assert "its hashes are shared" in demo.stdout
        assert "back in the bucket, bit-identical" in demo.stdout
    finally:
        local.terminate()
        local.wait(timeout=20)
    assert not state.exists(), "cordon local should remove its state file on exit"
