"""Per-object time through the ingest handler against moto, split into fetch, hash, match and
act; hashing throughput at 1024x768 JPEG; and how long a new shared hash takes to become
matchable in a warm container.

    .venv/bin/python bench/bench_pipeline.py [--objects 200] [--json bench/pipeline.json]

Figures only, no pass/fail. moto runs in-process, so fetch and act are the cost of boto3 plus
moto, not of S3's network: on AWS, expect fetch to be dominated by S3 latency (~10-30 ms).
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from moto_env import use_in_process_moto  # noqa: E402

use_in_process_moto()

import boto3  # noqa: E402
import numpy as np  # noqa: E402
from moto import mock_aws  # noqa: E402
from PIL import Image  # noqa: E402

from chalicelib import signals  # noqa: E402
from chalicelib.models import HashRecord, Policy  # noqa: E402
from cordon_cli import samples  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def photo_like(seed: int, size: tuple[int, int] = (1024, 768)) -> bytes:
    return samples.jpeg(samples.poster(seed, size), quality=88)


def bench_hashing(count: int) -> dict[str, float]:
    images = [photo_like(9000 + i) for i in range(count)]
    timings = []
    for data in images:
        start = time.perf_counter()
        signals.examine_bytes(data, 64_000_000)
        timings.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(timings)
    return {
        "examine_median_ms": median,
        "examine_p99_ms": percentile(timings, 99),
        "images_per_second": 1000.0 / median,
    }


def bench_handler(objects: int) -> dict[str, object]:
    import app as chalice_app
    from cordon_cli.bootstrap import bootstrap_into_environment
    from cordon_cli.operations import add_tenant
    from cordon_cli.runner import QueueRunner

    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        stack = bootstrap_into_environment(session)
        chalice_app.reset()
        cordon = chalice_app.cordon()
        bad = [samples.jpeg(img) for img in samples.known_bad(3)]
        cordon.hashes.put(
            HashRecord("pdq", signals.examine_bytes(b, 10**8).signal("pdq").value)  # type: ignore[union-attr]
            for b in bad
        )
        add_tenant(cordon, "bench", ["bench-uploads"], policy=Policy(), create_buckets=True)
        runner = QueueRunner(cordon.sqs, stack.refs["IngestQueue"], chalice_app.ingest, "ingest")
        runner.drain(idle_polls=1)  # the s3:TestEvent
        results = []
        start = time.perf_counter()
        for i in range(objects):
            data = (
                photo_like(i)
                if i % 10
                else samples.jpeg(samples.resized(samples.known_bad(1)[0], 1.6))
            )
            cordon.s3.put_object(Bucket="bench-uploads", Key=f"o/{i}.jpg", Body=data)
        uploaded = time.perf_counter()
        batch_ms = []
        while True:
            t0 = time.perf_counter()
            if not runner.poll_once():
                break
            batch_ms.append((time.perf_counter() - t0) * 1e3)
        elapsed = time.perf_counter() - uploaded
        for case in cordon.cases.for_tenant("bench"):
            results.append(case.to_dict())
        # Per-stage timings come from the handler's own results (the idempotency cache).
        table = session.resource("dynamodb").Table(cordon.settings.idempotency_table)
        stages: dict[str, list[float]] = {s: [] for s in ("fetch", "hash", "match", "act")}
        totals: dict[str, list[float]] = {"allowed": [], "quarantined": []}
        hash_match: list[float] = []  # per allowed object: issue 6's "hash+match" target
        for item in table.scan()["Items"]:
            data = json.loads(item["data"])
            timings = data.get("timings_ms", {})
            for stage, value in timings.items():
                stages[stage].append(float(value))
            if data["outcome"] == "allowed" and {"hash", "match"} <= set(timings):
                hash_match.append(float(timings["hash"]) + float(timings["match"]))
            totals.setdefault(data["outcome"], []).append(sum(float(v) for v in timings.values()))
        requests = bench_requests(cordon, runner, session)
        freshness = bench_freshness(cordon)
        chalice_app.reset()
    summary: dict[str, object] = {
        "objects": objects,
        "cases": len(results),
        "upload_seconds": uploaded - start,
        "drain_seconds": elapsed,
        "objects_per_second": objects / elapsed,
        "batch_median_ms": statistics.median(batch_ms),
        "stage_median_ms": {k: statistics.median(v) for k, v in stages.items() if v},
        "stage_p99_ms": {k: percentile(v, 99) for k, v in stages.items() if v},
        "allowed_median_ms": statistics.median(totals["allowed"]) if totals["allowed"] else None,
        "allowed_p99_ms": percentile(totals["allowed"], 99),
        "allowed_hash_match_median_ms": statistics.median(hash_match) if hash_match else None,
        "allowed_hash_match_p99_ms": percentile(hash_match, 99),
        "quarantined_median_ms": statistics.median(totals["quarantined"])
        if totals["quarantined"]
        else None,
        "freshness": freshness,
        "requests": requests,
    }
    return summary


class _ByteCount(io.TextIOBase):
    """A stream that only counts what is written to it (log bytes are billed)."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lines = 0

    def write(self, text: str) -> int:
        self.bytes += len(text.encode())
        self.lines += text.count("\n")
        return len(text)


class _Timed:
    """The handler, timed: what Lambda would bill for, without the poller's SQS calls."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.seconds = 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.handler(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def bench_requests(cordon, runner, session, allowed: int = 20, held: int = 4) -> dict[str, object]:
    """The AWS requests one object costs, as billed: S3 requests by class, DynamoDB read and
    write units by table (its indexes' writes included), and the bytes it logs. Objects go
    through the handler one at a time, under realistic keys, in a warm container.

    Lookups a warm container caches or makes on a timer (bucket -> tenant, the PDQ index's
    freshness check) are left out here: `bench/cost.py` spreads them over the traffic."""
    from metering import item_size, metering

    from chalicelib import logs

    hashes_table = cordon.settings.hashes_table
    periodic = (
        f"{cordon.settings.tenants_table} GetItem BUCKET",
        f"{cordon.settings.tenants_table} GetItem TENANT",
        f"{hashes_table} GetItem",
        f"{hashes_table} Query",
    )
    bad = samples.jpeg(samples.resized(samples.known_bad(1)[0], 1.6))
    handler = logs.logger.registered_handler
    counted = _ByteCount()
    timed = _Timed(runner.handler)
    runner.handler = timed
    previous = (handler.stream, logs.logger.log_level)
    handler.setStream(counted)
    logs.logger.setLevel("INFO")
    report: dict[str, object] = {}
    try:
        with metering(session) as meter:
            for kind, count in (("allowed", allowed), ("quarantined", held)):
                totals: dict[str, collections.Counter[str]] = collections.defaultdict(
                    collections.Counter
                )
                logged, lines, compute_ms, handler_ms = 0, 0, [], []
                for i in range(count + 1):  # the first one warms the clients: not counted
                    key = f"uploads/2026/11/23/{uuid.uuid4().hex}/IMG_{i:04d}.jpg"
                    data = photo_like(7000 + i) if kind == "allowed" else bad
                    cordon.s3.put_object(Bucket="bench-uploads", Key=key, Body=data)
                    meter.reset()
                    before, lines_before = counted.bytes, counted.lines
                    timed.seconds = 0.0
                    runner.poll_once()
                    if i == 0:
                        continue
                    logged += counted.bytes - before
                    lines += counted.lines - lines_before
                    handler_ms.append(timed.seconds * 1e3)
                    # What the handler does besides waiting on S3 and DynamoDB (moto here):
                    # on AWS those calls take a network round trip instead (cost.py adds it).
                    compute_ms.append((timed.seconds - meter.call_seconds) * 1e3)
                    for name, counter in meter.snapshot().items():
                        totals[name].update(counter)
                per_object = {
                    name: {k: v / count for k, v in sorted(c.items()) if k not in periodic}
                    for name, c in totals.items()
                }
                report[kind] = {
                    **per_object,
                    "rru_total": sum(per_object["rru"].values()),
                    "wru_total": sum(per_object["wru"].values()),
                    "log_bytes": logged / count,
                    "log_lines": lines / count,
                    "handler_median_ms": statistics.median(handler_ms),
                    "compute_median_ms": statistics.median(compute_ms),
                }
    finally:
        handler.setStream(previous[0])
        logs.logger.setLevel(previous[1])
        runner.handler = timed.handler
    sizes = [
        item_size(item)
        for item in session.client("dynamodb").scan(TableName=cordon.settings.cases_table)["Items"]
        if item.get("status", {}).get("S") == "allowed"
    ]
    report["allowed_case_item_bytes"] = {"median": statistics.median(sizes), "max": max(sizes)}
    report["periodic_left_out"] = list(periodic)
    return report


def bench_freshness(cordon) -> dict[str, float]:
    """Seconds from a new hash written to a warm index that finds it, at the configured age."""
    from chalicelib.adapters.hashes import HashTable

    max_age = cordon.settings.index_max_age_seconds
    warm = HashTable(cordon.hashes.table, index_max_age=max_age)
    warm.index("pdq")  # warm: loaded and checked just now
    rng = np.random.default_rng(7)
    value = bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()
    written = time.monotonic()
    cordon.hashes.put([HashRecord("pdq", value)])
    while not warm.index("pdq").query(value, 0):
        time.sleep(0.05)
    return {"index_max_age_seconds": max_age, "seconds_to_matchable": time.monotonic() - written}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--hash-images", type=int, default=30)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    Image.MAX_IMAGE_PIXELS = None
    hashing = bench_hashing(args.hash_images)
    print(
        f"hashing 1024x768 JPEG (decode + sha256 + md5 + PDQ + pHash): median "
        f"{hashing['examine_median_ms']:.1f} ms, p99 {hashing['examine_p99_ms']:.1f} ms, "
        f"{hashing['images_per_second']:.0f} images/s on one core"
    )
    handler = bench_handler(args.objects)
    print(
        f"handler against moto, {handler['objects']} objects of 1024x768 (1 in 10 a known-bad "
        f"copy): {handler['objects_per_second']:.1f} objects/s, batch of 10 median "
        f"{handler['batch_median_ms']:.0f} ms"
    )
    print(
        f"  allowed object: median {handler['allowed_median_ms']:.1f} ms, "
        f"p99 {handler['allowed_p99_ms']:.1f} ms; quarantined: median "
        f"{handler['quarantined_median_ms']:.1f} ms"
    )
    print(
        f"  allowed object, hash+match: median {handler['allowed_hash_match_median_ms']:.1f} ms, "
        f"p99 {handler['allowed_hash_match_p99_ms']:.1f} ms (target: median <= 15 ms)"
    )
    medians = handler["stage_median_ms"]
    total = sum(medians.values())  # type: ignore[union-attr]
    for stage, value in medians.items():  # type: ignore[union-attr]
        p99 = handler["stage_p99_ms"][stage]  # type: ignore[index]
        print(f"  {stage:6s} median {value:6.1f} ms  p99 {p99:6.1f} ms  share {value / total:5.1%}")
    fresh = handler["freshness"]
    print(
        f"freshness: a new hash was matchable by a warm index after "
        f"{fresh['seconds_to_matchable']:.2f} s (index max age "  # type: ignore[index]
        f"{fresh['index_max_age_seconds']:.0f} s: the bound)"
    )  # type: ignore[index]
    if args.json:
        args.json.write_text(json.dumps({"hashing": hashing, "handler": handler}, indent=2))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
