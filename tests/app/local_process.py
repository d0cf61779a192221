"""`cordon local` in its own process, as a user starts it, for the tests that need one."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def cordon_command() -> list[str]:
    script = shutil.which("cordon", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "cordon_cli.main"]


def clean_environment() -> dict[str, str]:
    """This process's environment without AWS or Cordon settings (the stack sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CORDON_"))}


@dataclass
class LocalProcess:
    process: subprocess.Popen[str]
    state_file: Path
    environment: dict[str, str]  # what a client of this stack exports
    api: str

    def cordon(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        """Run `cordon --local ARGS` against this stack."""
        return subprocess.run(
            [*cordon_command(), "--state-file", str(self.state_file), "--local", *args],
            cwd=ROOT,
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@contextmanager
def cordon_local(directory: Path, startup_seconds: float = 60) -> Iterator[LocalProcess]:
    state = directory / "local.json"
    # Its output to a file, not a pipe nobody reads: a full pipe (the API logs each request)
    # would block the stack's threads on a write, and its exit with them.
    output = directory / "cordon-local.out"
    written = output.open("w")
    process = subprocess.Popen(
        [
            *cordon_command(),
            "--state-file",
            str(state),
            "local",
            "--log-file",
            str(directory / "handlers.log"),
        ],
        cwd=ROOT,
        env=clean_environment(),
        stdout=written,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + startup_seconds
        while not state.exists():
            if process.poll() is not None:
                raise AssertionError(output.read_text())
            if time.monotonic() > deadline:
                raise AssertionError(f"cordon local did not come up in {startup_seconds} s")
            time.sleep(0.2)
        started: dict[str, Any] = json.loads(state.read_text())
        yield LocalProcess(process, state, started["environment"], started["api"])
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(
                f"cordon local did not stop within 30 s of SIGTERM:\n{output.read_text()[-3000:]}"
            ) from None
        finally:
            written.close()
