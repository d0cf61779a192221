"""How long `cordon` takes to start: `--help`, `cases --help`, and simple reads.

    .venv/bin/python bench/bench_cli.py [--runs 5]

Each command is run `--runs` times as a user runs it (a new process: the installed
`.venv/bin/cordon` script, else `python -m cordon_cli.main`); the median wall time is printed.
The reads go to a `cordon local` started for the bench (moto's server on 127.0.0.1) holding
one tenant and no cases, so what is timed is start-up and a request or two, not the data.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from moto_env import local_stack

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".venv" / "bin" / "cordon"
CORDON = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "cordon_cli.main"]


def timed(argv: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    """(median seconds, exit code of the last run)."""
    times, code = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run([*CORDON, *argv], cwd=ROOT, env=env, capture_output=True)
        times.append(time.perf_counter() - started)
        code = done.returncode
    return statistics.median(times), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    with local_stack(CORDON, ROOT, "cordon-cli-") as (_, env, local_env):
        subprocess.run(
            [*CORDON, "tenants", "add", "acme", "--bucket", "acme-uploads", "--create-bucket"],
            cwd=ROOT,
            env=local_env,
            check=True,
            capture_output=True,
        )
        print(f"cordon start-up, median of {args.runs} runs ({' '.join(CORDON)}):")
        for argv, environment in (
            (["--help"], env),
            (["cases", "--help"], env),
            (["tenants", "list"], local_env),
            (["cases", "list", "--json"], local_env),
            (["status", "--json"], local_env),
        ):
            seconds, code = timed(argv, environment, args.runs)
            print(f"  cordon {' '.join(argv):<24} {seconds:6.2f} s  (exit {code})")


if __name__ == "__main__":
    main()
