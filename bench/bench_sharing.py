"""Sharing at speed: how soon a shared hash is matched by every warm ingest container, and how
fast the delta feed is written and read.

    .venv/bin/python bench/bench_sharing.py              # 8 containers, 10 trials, 5k updates
    .venv/bin/python bench/bench_sharing.py --containers 16 --trials 20 --updates 20000

Runs against moto in this process, with every resource of infra/ created as the local stack
does. Freshness: `--containers` warm ingest containers (each its own `Cordon`, as each Lambda
container is) look up an upload's PDQ every `--poll-ms` (a busy container); a hash is shared the
way a reviewer's confirmation shares it (`HashTable.put`), and the bench times how long each
container takes to match it, at the deployed `CORDON_INDEX_MAX_AGE_SECONDS` (5 s unless set).
Trials start at random moments against the containers' refresh cycles. The feed: `--updates`
changes written in batches of 100 (as imports write them), then read from cursor 0 in pages of
`--page` by one tenant that sees all of them and by one that sees half. Targets (issue 8):
freshness under 60 s; the feed figure is reported, no target. Figures only, no pass/fail.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

from moto_env import use_in_process_moto  # noqa: E402

use_in_process_moto("ERROR")  # cold containers warn that no snapshot exists

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402

from chalicelib.models import HashRecord, Tenant  # noqa: E402
from chalicelib.settings import Settings  # noqa: E402
from chalicelib.wiring import Cordon  # noqa: E402
from cordon_cli.bootstrap import bootstrap_into_environment  # noqa: E402


def random_pdq(rng: random.Random) -> str:
    return f"{rng.getrandbits(256):064x}"


def bench_freshness(containers: int, trials: int, poll_ms: float, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    settings = Settings.from_env()
    writer = Cordon(settings)
    fleet = [Cordon(settings) for _ in range(containers)]
    writer.hashes.put([HashRecord("pdq", random_pdq(rng), source="seed")])
    for container in fleet:
        container.hashes.index("pdq")  # warm: index built, watermark set
    lags: list[float] = []
    for trial in range(trials):
        # Start somewhere in the containers' refresh cycle, not just after it.
        deadline = time.monotonic() + rng.uniform(0, settings.index_max_age_seconds)
        while time.monotonic() < deadline:
            for container in fleet:
                container.hashes.index("pdq")
            time.sleep(poll_ms / 1000)
        value = random_pdq(rng)
        shared_at = time.monotonic()
        writer.hashes.put([HashRecord("pdq", value, source=f"trial-{trial}")])
        waiting = {id(c): c for c in fleet}
        while waiting:
            for key, container in list(waiting.items()):
                if container.hashes.index("pdq").query(value, 0):
                    lags.append(time.monotonic() - shared_at)
                    del waiting[key]
            time.sleep(poll_ms / 1000)
    lags.sort()
    return {
        "bound_s": settings.index_max_age_seconds,
        "median_s": statistics.median(lags),
        "p95_s": lags[int(0.95 * (len(lags) - 1))],
        "max_s": lags[-1],
        "observations": len(lags),
    }


def bench_feed(updates: int, page: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    cordon = Cordon(Settings.from_env())
    feed = cordon.hashes.feed
    _, start = feed.read(0, 1_000_000)
    records = [
        HashRecord(
            "pdq",
            random_pdq(rng),
            source="alpha",
            visibility="all" if n % 2 else "private",
        )
        for n in range(updates)
    ]
    began = time.perf_counter()
    for offset in range(0, updates, 100):
        cordon.hashes.put(records[offset : offset + 100])
    written = time.perf_counter() - began
    figures: dict[str, float] = {"write_per_s": updates / written}
    for name, reader in (("alpha", Tenant("alpha")), ("beta", Tenant("beta"))):
        cursor, seen, pages = start, 0, 0
        began = time.perf_counter()
        while True:
            entries, following = feed.read(cursor, page, reader=reader)
            pages += 1
            seen += len(entries)
            if following == cursor:
                break
            cursor = following
        elapsed = time.perf_counter() - began
        figures[f"read_{name}_per_s"] = updates / elapsed
        figures[f"read_{name}_seen"] = seen
        figures[f"read_{name}_pages"] = pages
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=8)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--poll-ms", type=float, default=100.0)
    parser.add_argument("--updates", type=int, default=5_000)
    parser.add_argument("--page", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        bootstrap_into_environment(session)
        fresh = bench_freshness(args.containers, args.trials, args.poll_ms, args.seed)
        print(
            f"freshness, shared -> matched by each of {args.containers} warm containers "
            f"({fresh['observations']:.0f} observations, {args.trials} trials):"
        )
        print(
            f"  median {fresh['median_s']:.2f} s  p95 {fresh['p95_s']:.2f} s  "
            f"max {fresh['max_s']:.2f} s   bound {fresh['bound_s']:g} s "
            f"(CORDON_INDEX_MAX_AGE_SECONDS) + one catch-up; target < 60 s, "
            f"HMA 2.0 promises 600 s: max/600 = {fresh['max_s'] / 600:.4f}"
        )
        feed = bench_feed(args.updates, args.page, args.seed)
        print(f"delta feed, {args.updates:,} updates (moto in-process, not DynamoDB):")
        print(f"  written   {feed['write_per_s']:,.0f} updates/s (batches of 100, with the table)")
        for name in ("alpha", "beta"):
            print(
                f"  read by {name:5} {feed[f'read_{name}_per_s']:,.0f} updates/s scanned, "
                f"{feed[f'read_{name}_seen']:,.0f} visible, {feed[f'read_{name}_pages']:.0f} "
                f"pages of {args.page}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
