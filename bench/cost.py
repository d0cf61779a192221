"""Dollars per million uploads on AWS, from measured per-object durations and stated usage.

    .venv/bin/python bench/cost.py                          # reads bench/pipeline.json if present
    .venv/bin/python bench/cost.py --lambda-ms 45 --memory-mb 2048 --quarantined-share 0.02

Every price and every assumption is printed with the result. Prices: AWS public list prices for
us-east-1 as of 2025-06 (DynamoDB on-demand after its November 2024 cut), no free tier, no
savings plan. Per-object Lambda time comes from `bench/bench_pipeline.py`'s JSON (the handler's
median for allowed and for quarantined objects), or `--lambda-ms`; since that bench runs moto
in-process, `--aws-latency-ms` is added for the round trips real S3 and DynamoDB take.
Target (issue 6): <= $5 per million images, all in.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PIPELINE_JSON = ROOT / "bench" / "pipeline.json"
MILLION = 1_000_000
TARGET_PER_MILLION = 5.0

# us-east-1 list prices, 2025-06.
PRICES = {
    "lambda_gb_second_arm64": 0.0000133334,
    "lambda_gb_second_x86_64": 0.0000166667,
    "lambda_request": 0.20 / MILLION,
    "s3_put_copy_post_list": 0.005 / 1000,
    "s3_get_head_other": 0.0004 / 1000,
    "s3_delete": 0.0,
    "dynamodb_write_request_unit": 0.625 / MILLION,
    "dynamodb_read_request_unit": 0.125 / MILLION,
    "sqs_standard_request": 0.40 / MILLION,
    "sfn_standard_state_transition": 0.025 / 1000,
    "cloudwatch_logs_ingested_gb": 0.50,
    # for the storage note only (per GB-month)
    "s3_standard_gb_month": 0.023,
    "dynamodb_standard_gb_month": 0.25,
}
REFERENCES = {
    "HMA 2.0 aim": 100.0,
    "Rekognition image moderation (list)": 1000.0,
}


@dataclass(frozen=True)
class Line:
    component: str
    detail: str
    arm64: float  # dollars per million uploads
    x86_64: float


def read_pipeline_json(path: Path) -> dict[str, float]:
    """The per-object medians bench_pipeline.py measured (ms), or {} when it has not run."""
    if not path.is_file():
        return {}
    handler = json.loads(path.read_text()).get("handler", {})
    figures = {}
    for name in ("allowed_median_ms", "quarantined_median_ms"):
        if isinstance(handler.get(name), int | float):
            figures[name] = float(handler[name])
    return figures


def wru(kilobytes: float) -> int:
    """Write request units of one standard write of an item this size (1 per KB started)."""
    return max(1, math.ceil(kilobytes))


def estimate(args: argparse.Namespace) -> tuple[list[Line], dict[str, float]]:
    p = PRICES
    gb = args.memory_mb / 1024
    act = args.quarantined_share
    allowed_ms = args.lambda_ms + args.aws_latency_ms
    held_ms = args.quarantined_ms + args.aws_latency_ms + args.quarantine_latency_ms
    mean_ms = (1 - act) * allowed_ms + act * held_ms
    invocations = MILLION / args.batch_size
    gb_seconds = (
        MILLION * mean_ms / 1000 * gb + invocations * args.invocation_overhead_ms / 1000 * gb
    )
    lines = [
        Line(
            "Lambda duration",
            f"{gb_seconds:,.0f} GB-s: {mean_ms:.1f} ms/object mean at {args.memory_mb} MB"
            f" (+{args.invocation_overhead_ms:.0f} ms per batch of {args.batch_size})",
            gb_seconds * p["lambda_gb_second_arm64"],
            gb_seconds * p["lambda_gb_second_x86_64"],
        ),
        Line(
            "Lambda requests",
            f"{invocations:,.0f} invocations (SQS batches of {args.batch_size})",
            invocations * p["lambda_request"],
            invocations * p["lambda_request"],
        ),
    ]

    gets = MILLION * (args.s3_reads_per_object + act * args.s3_reads_quarantined)
    puts = MILLION * act * args.s3_writes_quarantined
    s3 = gets * p["s3_get_head_other"] + puts * p["s3_put_copy_post_list"]
    lines.append(
        Line(
            "S3 requests",
            f"{args.s3_reads_per_object:g} HEAD+GET per object; quarantined ({act:.1%}):"
            f" +{args.s3_writes_quarantined:g} PUT/COPY, +{args.s3_reads_quarantined:g} HEAD,"
            " 1 DELETE (free)",
            s3,
            s3,
        )
    )

    reads = (
        args.tenant_rru
        + args.case_get_rru
        + args.hash_keys * args.hash_key_rru
        + args.freshness_rru
        + act * args.quarantined_extra_rru
    )
    writes = (
        wru(args.case_item_kb)
        + args.idempotency_wru
        + act * (args.quarantined_case_updates * wru(args.case_item_kb) + args.audit_rows)
    )
    dynamo_reads = MILLION * reads * p["dynamodb_read_request_unit"]
    dynamo_writes = MILLION * writes * p["dynamodb_write_request_unit"]
    lines += [
        Line(
            "DynamoDB reads",
            f"{reads:.2f} RRU/object: tenant {args.tenant_rru:g}, case get {args.case_get_rru:g},"
            f" hash table {args.hash_keys} keys x {args.hash_key_rru:g},"
            f" index freshness {args.freshness_rru:g}, quarantined +{args.quarantined_extra_rru:g}",
            dynamo_reads,
            dynamo_reads,
        ),
        Line(
            "DynamoDB writes",
            f"{writes:.2f} WRU/object: case put {wru(args.case_item_kb)}"
            f" ({args.case_item_kb:g} KB),"
            f" idempotency put+update {args.idempotency_wru:g}; quarantined"
            f" +{args.quarantined_case_updates:g} case updates, +{args.audit_rows:g} audit rows",
            dynamo_writes,
            dynamo_writes,
        ),
    ]

    sqs_requests = MILLION * (1 + 2 / args.batch_size)
    sqs = sqs_requests * p["sqs_standard_request"]
    lines.append(
        Line(
            "SQS",
            f"{sqs_requests / MILLION:.2f} requests/object: S3 notification send, receive and"
            f" delete per batch of {args.batch_size}",
            sqs,
            sqs,
        )
    )

    transitions = MILLION * args.reviewed_share * args.sfn_transitions
    sfn = transitions * p["sfn_standard_state_transition"]
    lines.append(
        Line(
            "Step Functions",
            f"{args.reviewed_share:.2%} reviewed x {args.sfn_transitions} standard transitions",
            sfn,
            sfn,
        )
    )

    logs = MILLION * args.log_bytes / 1e9 * p["cloudwatch_logs_ingested_gb"]
    lines.append(
        Line(
            "CloudWatch Logs",
            f"{args.log_bytes} bytes ingested per object",
            logs,
            logs,
        )
    )
    return lines, {"mean_ms": mean_ms, "gb_seconds": gb_seconds}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arg = parser.add_argument
    arg(
        "--pipeline-json",
        type=Path,
        default=DEFAULT_PIPELINE_JSON,
        help="bench_pipeline.py output to take the per-object durations from",
    )
    arg("--lambda-ms", type=float, help="handler time per allowed object (ms), moto or AWS")
    arg("--quarantined-ms", type=float, help="handler time per quarantined object (ms)")
    arg(
        "--aws-latency-ms",
        type=float,
        default=20.0,
        help="added per object: S3 HEAD+GET and DynamoDB round trips that moto in-process hides",
    )
    arg(
        "--quarantine-latency-ms",
        type=float,
        default=30.0,
        help="added per quarantined object: evidence copy, delete, case writes on AWS",
    )
    arg(
        "--invocation-overhead-ms",
        type=float,
        default=5.0,
        help="per invocation: batch parsing, idempotency setup",
    )
    arg("--memory-mb", type=int, default=1024)
    arg("--batch-size", type=int, default=10)
    arg("--quarantined-share", type=float, default=0.01)
    arg("--reviewed-share", type=float, default=0.005)
    arg("--sfn-transitions", type=int, default=8)
    arg("--s3-reads-per-object", type=float, default=2, help="HEAD + GET")
    arg("--s3-writes-quarantined", type=float, default=1, help="evidence copy")
    arg("--s3-reads-quarantined", type=float, default=1, help="HEAD of the evidence copy")
    arg(
        "--tenant-rru",
        type=float,
        default=0.05,
        help="bucket->tenant and tenant items, two eventually consistent reads, cached 30 s "
        "in a warm container: about one miss per 20 objects at modest traffic",
    )
    arg("--case-get-rru", type=float, default=1.0, help="one consistent read")
    arg(
        "--hash-keys",
        type=int,
        default=3,
        help="keys per hash table BatchGetItem: sha256, md5 and pHash (PDQ and its variants "
        "are found through the index; its rare hits add a key each)",
    )
    arg(
        "--hash-key-rru", type=float, default=0.5, help="eventually consistent reads: 0.5 RRU a key"
    )
    arg(
        "--freshness-rru",
        type=float,
        default=0.02,
        help="one consistent read per warm container every 5 s, at >= 10 objects/s each",
    )
    arg("--quarantined-extra-rru", type=float, default=2.0, help="re-reads of the case")
    arg("--case-item-kb", type=float, default=1.0)
    arg("--idempotency-wru", type=float, default=2.0, help="powertools: put, then update")
    arg("--quarantined-case-updates", type=float, default=3.0)
    arg("--audit-rows", type=float, default=3.0)
    arg("--log-bytes", type=int, default=400)
    arg("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    measured = read_pipeline_json(args.pipeline_json)
    args.source = "command line"
    if args.lambda_ms is None:
        if "allowed_median_ms" in measured:
            args.lambda_ms = measured["allowed_median_ms"]
            args.source = str(args.pipeline_json)
        else:
            args.lambda_ms = 35.0
            args.source = "default (no pipeline JSON)"
    if args.quarantined_ms is None:
        args.quarantined_ms = measured.get("quarantined_median_ms", 2 * args.lambda_ms)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lines, totals = estimate(args)
    arm = sum(line.arm64 for line in lines)
    x86 = sum(line.x86_64 for line in lines)

    print("Cordon: dollars per million uploads (AWS us-east-1 list prices, 2025-06, no free tier)")
    print("\nPrices:")
    for name, price in PRICES.items():
        print(f"  {name:<32} ${price:.10g}")
    print("\nAssumptions:")
    print(
        f"  per-object handler time     allowed {args.lambda_ms:.1f} ms,"
        f" quarantined {args.quarantined_ms:.1f} ms (from {args.source})"
    )
    print(
        f"  + AWS latency moto hides    {args.aws_latency_ms:g} ms every object,"
        f" +{args.quarantine_latency_ms:g} ms each quarantined one"
    )
    print(f"  Lambda memory               {args.memory_mb} MB, batches of {args.batch_size}")
    print(f"  quarantined / reviewed      {args.quarantined_share:.2%} / {args.reviewed_share:.2%}")
    print(
        "  storage, data transfer in-region, KMS, and fixed monthly costs: not per upload,"
        " see the notes"
    )
    print(f"\n{'component':<18} {'arm64 $/M':>10} {'x86_64 $/M':>11}  what")
    for line in lines:
        print(f"{line.component:<18} {line.arm64:>10.3f} {line.x86_64:>11.3f}  {line.detail}")
    print(
        f"{'total':<18} {arm:>10.3f} {x86:>11.3f}  target <= ${TARGET_PER_MILLION:.2f}:"
        f" arm64 {'met' if arm <= TARGET_PER_MILLION else 'NOT met'},"
        f" x86_64 {'met' if x86 <= TARGET_PER_MILLION else 'NOT met'}"
    )
    for name, dollars in REFERENCES.items():
        print(f"  vs {name} ${dollars:,.0f}/M: {arm / dollars:.3f} x (arm64)")

    per_ms = MILLION / 1000 * args.memory_mb / 1024 * PRICES["lambda_gb_second_arm64"]
    at_2048 = totals["gb_seconds"] * 2 * PRICES["lambda_gb_second_arm64"]
    print("\nNotes:")
    print(
        f"  each ms of handler time per object costs ${per_ms:.4f}/M on arm64 at"
        f" {args.memory_mb} MB; a 10M-hash PDQ index takes ~0.9 GB in the container, so at that"
        f" size plan 2048 MB: Lambda duration ${at_2048:.3f}/M (arm64) instead"
    )
    hash_reads = MILLION * args.hash_keys * args.hash_key_rru * PRICES["dynamodb_read_request_unit"]
    print(f"  the hash table lookups cost ${hash_reads:.3f}/M ({args.hash_keys} keys a object)")
    idem = MILLION * args.idempotency_wru * PRICES["dynamodb_write_request_unit"]
    print(
        f"  idempotency records cost ${idem:.3f}/M: a conditional put of the case row could"
        f" serve as the idempotency record (${arm - idem:.3f}/M arm64 without them)"
    )
    month_gb = MILLION * args.case_item_kb / 1e6
    print(
        f"  storage per million uploads kept a month: case rows {month_gb:.1f} GB"
        f" ${month_gb * PRICES['dynamodb_standard_gb_month']:.2f}; evidence"
        f" ({args.quarantined_share:.1%} of 500 KB images)"
        f" ${MILLION * args.quarantined_share * 0.5e-3 * PRICES['s3_standard_gb_month']:.2f}"
    )
    print(
        "  cold start with a 10M index snapshot (~0.9 GB GET from S3, a few s at 2048 MB):"
        " about $0.0002 each, negligible at one per 100k uploads"
    )

    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "region": "us-east-1",
                    "prices_as_of": "2025-06",
                    "memory_mb": args.memory_mb,
                    "lambda_ms": args.lambda_ms,
                    "components": [line.__dict__ for line in lines],
                    "total_arm64": arm,
                    "total_x86_64": x86,
                },
                indent=2,
            )
            + "\n"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
