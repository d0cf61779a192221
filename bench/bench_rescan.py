"""How long `cordon rescan` takes over N small objects against the local stack.

    .venv/bin/python bench/bench_rescan.py [--objects 10000] [--concurrency 8]

Starts `cordon local` in its own process (moto's server on 127.0.0.1), fills a bucket with
small text objects *before* its tenant is registered (so no upload events: the objects a
platform already held when it joined), then times `cordon --local rescan` over it, and a
second rescan, which should skip everything.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from moto_env import local_stack

ROOT = Path(__file__).resolve().parent.parent
CORDON = [sys.executable, "-m", "cordon_cli.main"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with local_stack(CORDON, ROOT, "cordon-rescan-") as (state, _, cli_env):
        work = state.parent
        s3 = boto3.session.Session(region_name="us-east-1").client(
            "s3",
            endpoint_url=cli_env["AWS_ENDPOINT_URL"],
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket="legacy-uploads")
        started = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(
                pool.map(
                    lambda n: s3.put_object(
                        Bucket="legacy-uploads", Key=f"old/{n:06d}.txt", Body=f"post {n}".encode()
                    ),
                    range(args.objects),
                )
            )
        print(f"uploaded {args.objects} objects in {time.perf_counter() - started:.1f} s")
        subprocess.run(
            [
                *CORDON,
                "--state-file",
                str(state),
                "--local",
                "tenants",
                "add",
                "legacy",
                "--bucket",
                "legacy-uploads",
            ],
            cwd=ROOT,
            env=cli_env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        for label in ("first rescan", "second rescan (all skipped)"):
            started = time.perf_counter()
            done = subprocess.run(
                [
                    *CORDON,
                    "--state-file",
                    str(state),
                    "--local",
                    "rescan",
                    "s3://legacy-uploads/old/",
                    "--concurrency",
                    str(args.concurrency),
                    "--rate",
                    "0",
                    "--checkpoint-dir",
                    str(work / "checkpoints"),
                    "--json",
                ],
                cwd=ROOT,
                env=cli_env,
                capture_output=True,
                text=True,
                check=False,
            )
            elapsed = time.perf_counter() - started
            summary = json.loads(done.stdout.strip().splitlines()[-1])["summary"]
            print(
                f"{label}: {elapsed:.1f} s for {args.objects} objects "
                f"({args.objects / elapsed:.0f} objects/s, concurrency {args.concurrency}): "
                f"{summary}"
            )


if __name__ == "__main__":
    main()
