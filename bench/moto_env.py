"""The environment of a bench that runs against moto in its own process: fake credentials, no
endpoint (moto intercepts), metrics off, numpy's BLAS on one thread as deployed. Import it
before boto3 and numpy."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def use_in_process_moto(log_level: str = "WARNING") -> None:
    # As deployed (.chalice/config.json): a Lambda below 1,769 MB has one vCPU, and on a shared
    # 2-core machine BLAS threads spinning on small matrices made hashing up to 30x slower.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": log_level,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)


@contextmanager
def local_stack(cordon: list[str], cwd: Path, prefix: str) -> Iterator[tuple[Path, dict, dict]]:
    """`cordon local` in its own process (moto's server on 127.0.0.1) for a bench that times
    the CLI against it: yields the state file, the environment without AWS or Cordon
    variables, and that environment with the stack's. Stopped on exit."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    state = work / "local.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CORDON_"))}
    local = subprocess.Popen(
        [*cordon, "--state-file", str(state), "local", "--log-file", str(work / "handlers.log")],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not state.exists():
            time.sleep(0.2)
        yield state, env, {**env, **json.loads(state.read_text())["environment"]}
    finally:
        local.terminate()
        local.wait(timeout=30)
