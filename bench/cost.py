"""Dollars per million uploads on AWS, from measured per-object durations and requests.

    .venv/bin/python bench/cost.py                          # reads bench/pipeline.json if present
    .venv/bin/python bench/cost.py --lambda-ms 45 --memory-mb 2048 --quarantined-share 0.02

Every price and every assumption is printed with the result. Prices: AWS public list prices for
us-east-1 as of 2025-06 (DynamoDB on-demand after its November 2024 cut), no free tier, no
savings plan. From `bench/bench_pipeline.py`'s JSON come the handler's median time for allowed
and for quarantined objects, and what each kind of object costs in requests as AWS bills them
(S3 requests by class; DynamoDB read and write units, global secondary index writes included;
bytes logged), metered on the real code path against moto. Without that JSON the defaults below
are those figures as last measured. Since that bench runs moto in-process, each S3 request and
DynamoDB call is given a network round trip (`--s3-ms`, `--dynamodb-ms`). Step Functions
transitions are counted on the review state machine's definition in `infra/resources.json`.
Target (issue 6): <= $5 per million images, all in.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PIPELINE_JSON = ROOT / "bench" / "pipeline.json"
RESOURCES_JSON = ROOT / "infra" / "resources.json"
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


def read_pipeline_json(path: Path) -> dict[str, Any]:
    """What bench_pipeline.py measured: per-object medians (ms) and `requests` per object, or
    {} when it has not run."""
    if not path.is_file():
        return {}
    handler = json.loads(path.read_text()).get("handler", {})
    figures: dict[str, Any] = {}
    for name in ("allowed_median_ms", "quarantined_median_ms"):
        if isinstance(handler.get(name), int | float):
            figures[name] = float(handler[name])
    if isinstance(handler.get("requests"), dict):
        figures["requests"] = handler["requests"]
    return figures


def review_path(resources: Path = RESOURCES_JSON) -> list[str]:
    """The states a review enters on its usual path (reviewers notified, a decision taken and
    applied): from StartAt along each state's Next until one ends. Standard workflows bill a
    transition for every state entered, Pass, Choice and terminal states included; a Choice
    is followed through its first choice (a decision: confirm)."""
    template = json.loads(resources.read_text())
    machine = template["Resources"]["ReviewStateMachine"]["Properties"]["Definition"]
    states, name, path = machine["States"], machine["StartAt"], []
    while name and name not in path:
        path.append(name)
        state = states[name]
        if state.get("End") or state["Type"] in ("Succeed", "Fail"):
            break
        choices = state.get("Choices") or [{}]
        name = state.get("Next") or choices[0].get("Next") or state.get("Default")
    return path


def estimate(args: argparse.Namespace) -> tuple[list[Line], dict[str, float]]:
    p = PRICES
    gb = args.memory_mb / 1024
    act = args.quarantined_share
    allowed_rtt = args.s3_requests * args.s3_ms + args.dynamodb_calls * args.dynamodb_ms
    held_rtt = (
        args.quarantined_s3_requests * args.s3_ms
        + args.quarantined_dynamodb_calls * args.dynamodb_ms
    )
    allowed_ms = args.lambda_ms + allowed_rtt
    held_ms = args.quarantined_ms + held_rtt
    mean_ms = (1 - act) * allowed_ms + act * held_ms
    invocations = MILLION / args.batch_size
    gb_seconds = (
        MILLION * mean_ms / 1000 * gb + invocations * args.invocation_overhead_ms / 1000 * gb
    )
    lines = [
        Line(
            "Lambda duration",
            f"{gb_seconds:,.0f} GB-s: {mean_ms:.1f} ms/object mean at {args.memory_mb} MB"
            f" (allowed {args.lambda_ms:.1f} + {allowed_rtt:.1f} ms of round trips;"
            f" +{args.invocation_overhead_ms:.0f} ms per batch of {args.batch_size})",
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

    # An upload with tags costs one GetObjectTagging (a GET) more when quarantined: its tags
    # are kept in evidence for a restore (none is made for an untagged one).
    quarantined_gets = args.quarantined_s3_gets + args.tag_reads
    gets = MILLION * ((1 - act) * args.s3_gets + act * quarantined_gets)
    puts = MILLION * act * args.quarantined_s3_puts
    s3 = gets * p["s3_get_head_other"] + puts * p["s3_put_copy_post_list"]
    lines.append(
        Line(
            "S3 requests",
            f"allowed: {args.s3_gets:g} GET/HEAD ({args.s3_detail});"
            f" quarantined ({act:.1%}): {quarantined_gets:g} GET/HEAD (with the evidence"
            f" read-back and {args.tag_reads:g} GetObjectTagging), {args.quarantined_s3_puts:g}"
            " PUT/COPY, 1 DELETE (free)",
            s3,
            s3,
        )
    )

    periodic_rru = args.tenant_rru + args.freshness_rru
    reads = (1 - act) * args.object_rru + act * args.quarantined_rru + periodic_rru
    writes = (1 - act) * args.object_wru + act * args.quarantined_wru
    dynamo_reads = MILLION * reads * p["dynamodb_read_request_unit"]
    dynamo_writes = MILLION * writes * p["dynamodb_write_request_unit"]
    lines += [
        Line(
            "DynamoDB reads",
            f"{reads:.2f} RRU/object: allowed {args.object_rru:g} ({args.read_detail}),"
            f" quarantined {args.quarantined_rru:g}; tenant cache misses {args.tenant_rru:g},"
            f" index freshness {args.freshness_rru:g}",
            dynamo_reads,
            dynamo_reads,
        ),
        Line(
            "DynamoDB writes",
            f"{writes:.2f} WRU/object: allowed {args.object_wru:g} ({args.write_detail}),"
            f" quarantined {args.quarantined_wru:g}",
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
            f"{args.reviewed_share:.2%} reviewed x {args.sfn_transitions} standard transitions"
            f" ({args.sfn_path})",
            sfn,
            sfn,
        )
    )

    log_bytes = (
        (1 - act) * args.log_bytes
        + act * args.quarantined_log_bytes
        + args.log_bytes_per_invocation / args.batch_size
    )
    logs = MILLION * log_bytes / 1e9 * p["cloudwatch_logs_ingested_gb"]
    lines.append(
        Line(
            "CloudWatch Logs",
            f"{log_bytes:.0f} bytes ingested per object: handler lines {args.log_bytes:.0f}"
            f" (quarantined {args.quarantined_log_bytes:.0f}), + {args.log_bytes_per_invocation}"
            f" per invocation (Lambda START/END/REPORT, EMF metrics)",
            logs,
            logs,
        )
    )
    return lines, {"mean_ms": mean_ms, "gb_seconds": gb_seconds}


# What bench_pipeline.py last measured (2026-11-23), used when its JSON is absent.
MEASURED_DEFAULTS: dict[str, dict[str, Any]] = {
    "allowed": {
        "s3": {"get": 1.0},
        "rru": {"hash table BatchGetItem (3 keys, eventually consistent)": 1.5},
        "wru": {
            "cases PutItem (table + 2 GSIs, item < 1 KB)": 3.0,
            "idempotency PutItem": 1.0,
            "idempotency UpdateItem": 1.0,
        },
        "calls": {"dynamodb": 4.35},
        "log_bytes": 583.0,
        "log_lines": 1.0,
    },
    "quarantined": {
        "s3": {"get": 2.0, "put": 1.0, "delete": 1.0},
        "rru": {"all": 4.5},
        "wru": {"all": 28.0},
        "calls": {"dynamodb": 13.25},
        "log_bytes": 1194.0,
        "log_lines": 2.0,
    },
}
ARN_BYTES_PER_LINE = 62  # the function ARN each log line carries on Lambda (empty locally)

# The stuck-decision sweeper (`app.sweep_decisions`, `rate(5 minutes)`): a fixed monthly cost,
# not per upload. Each run scans the tenants table (eventually consistent: 0.5 RRU per 4 KB) and
# queries `by_tenant_status` once per tenant (at least 0.5 RRU each, even when it finds nothing).
SWEEPS_PER_MONTH = 30 * 24 * 60 // 5
SWEEP_RUN_MS = 300.0  # a cold-ish container, one scan and a query per tenant; errs high


def sweep_monthly(tenants: int, tenants_table_mb: float, memory_mb: int) -> tuple[float, str]:
    """Dollars a month for the decision sweeper when nothing is stuck (the usual run)."""
    scan_rru = max(0.5, tenants_table_mb * 1024 * 1024 / 4096 * 0.5)
    rru = scan_rru + 0.5 * tenants
    reads = SWEEPS_PER_MONTH * rru * PRICES["dynamodb_read_request_unit"]
    compute = SWEEPS_PER_MONTH * (
        SWEEP_RUN_MS / 1000 * memory_mb / 1024 * PRICES["lambda_gb_second_arm64"]
        + PRICES["lambda_request"]
    )
    detail = (
        f"{SWEEPS_PER_MONTH:,} runs/month x {rru:g} RRU (tenants scan {scan_rru:g} +"
        f" {tenants} status queries x 0.5) = ${reads:.3f}, Lambda ${compute:.3f}"
    )
    return reads + compute, detail


def _detail(units: dict[str, float]) -> str:
    return ", ".join(f"{name} {value:g}" for name, value in units.items())


def _dynamodb_calls(figures: dict[str, Any]) -> float:
    calls = figures.get("calls", {})
    return sum(v for k, v in calls.items() if k.startswith("dynamodb"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arg = parser.add_argument
    arg(
        "--pipeline-json",
        type=Path,
        default=DEFAULT_PIPELINE_JSON,
        help="bench_pipeline.py output to take per-object durations and requests from",
    )
    arg("--lambda-ms", type=float, help="handler time per allowed object (ms), moto or AWS")
    arg("--quarantined-ms", type=float, help="handler time per quarantined object (ms)")
    arg(
        "--s3-ms",
        type=float,
        default=15.0,
        help="per S3 request: in-region round trip of a GET of a few hundred KB, with boto3's "
        "own work (stands in for the time the call took against moto in-process)",
    )
    arg(
        "--dynamodb-ms",
        type=float,
        default=5.0,
        help="per DynamoDB call: in-region round trip with boto3's own work (stands in for "
        "the time the call took against moto in-process)",
    )
    arg(
        "--invocation-overhead-ms",
        type=float,
        default=5.0,
        help="per invocation: batch parsing, idempotency setup",
    )
    arg("--memory-mb", type=int, default=1024)
    arg("--batch-size", type=int, default=20, help="the ingest's SQS batch size (app.py)")
    arg("--quarantined-share", type=float, default=0.01)
    arg("--reviewed-share", type=float, default=0.005)
    arg("--tenants", type=int, default=100, help="tenants (the decision sweeper's queries)")
    arg(
        "--tenants-table-mb",
        type=float,
        default=1.0,
        help="the tenants table's size: the sweeper scans it once a run for the tenant list",
    )
    arg(
        "--sfn-transitions",
        type=int,
        help="states a review enters (default: counted on infra/resources.json's usual path)",
    )
    arg(
        "--tenant-rru",
        type=float,
        default=0.05,
        help="bucket->tenant and tenant items, two eventually consistent reads, cached 30 s "
        "in a warm container: about one miss per 20 objects at modest traffic",
    )
    arg(
        "--freshness-rru",
        type=float,
        default=0.02,
        help="one consistent read per warm container every 5 s, at >= 10 objects/s each",
    )
    arg(
        "--log-bytes-per-invocation",
        type=int,
        default=1080,
        help="Lambda's START/END/REPORT lines (~390 bytes) and powertools' EMF metrics for a "
        "batch of 10 (~690 bytes, measured)",
    )
    arg(
        "--tagged-share",
        type=float,
        default=1.0,
        help="share of quarantined uploads that carry S3 tags, each read once more "
        "(GetObjectTagging) to keep them in evidence (default: all, which errs high)",
    )
    arg("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    measured = read_pipeline_json(args.pipeline_json)
    requests = measured.get("requests") or {}
    compute = {
        kind: (requests.get(kind) or {}).get("compute_median_ms")
        for kind in ("allowed", "quarantined")
    }
    args.source = "command line"
    args.includes_moto = False
    if args.lambda_ms is None:
        if compute["allowed"] is not None:
            # The handler's own time, S3 and DynamoDB calls taken out: each gets a round trip.
            args.lambda_ms = compute["allowed"]
            args.source = f"{args.pipeline_json}: handler time less its S3/DynamoDB calls"
        elif "allowed_median_ms" in measured:
            args.lambda_ms = measured["allowed_median_ms"]
            args.source = f"{args.pipeline_json}: stage times, moto's share of calls included"
            args.includes_moto = True
        else:
            args.lambda_ms = 15.0
            args.source = "default: bench_pipeline.py's handler time less its calls, 2026-11-23"
    if args.quarantined_ms is None:
        args.quarantined_ms = compute["quarantined"] or measured.get(
            "quarantined_median_ms", 2 * args.lambda_ms
        )

    args.requests_source = (
        str(args.pipeline_json) if requests else "defaults: bench_pipeline.py, 2026-11-23"
    )
    allowed = requests.get("allowed") or MEASURED_DEFAULTS["allowed"]
    held = requests.get("quarantined") or MEASURED_DEFAULTS["quarantined"]
    args.s3_gets = allowed["s3"].get("get", 0.0)
    args.s3_detail = (
        _detail({k[3:]: v for k, v in allowed["calls"].items() if k.startswith("s3 ")})
        or "GetObject 1"
    )
    args.s3_requests = sum(allowed["s3"].values())
    args.quarantined_s3_gets = held["s3"].get("get", 0.0)
    args.quarantined_s3_puts = held["s3"].get("put", 0.0)
    # Metered already if the bench's quarantined uploads carried tags; else priced here.
    metered_tags = held.get("calls", {}).get("s3 GetObjectTagging", 0.0)
    args.tag_reads = 0.0 if metered_tags else args.tagged_share
    args.quarantined_s3_requests = sum(held["s3"].values()) + args.tag_reads
    args.dynamodb_calls = _dynamodb_calls(allowed)
    args.quarantined_dynamodb_calls = _dynamodb_calls(held)
    args.object_rru = sum(allowed["rru"].values())
    args.object_wru = sum(allowed["wru"].values())
    args.quarantined_rru = sum(held["rru"].values())
    args.quarantined_wru = sum(held["wru"].values())
    args.read_detail = _detail(allowed["rru"]) or "none"
    args.write_detail = _detail(allowed["wru"])
    args.log_bytes = allowed["log_bytes"] + ARN_BYTES_PER_LINE * allowed.get("log_lines", 1)
    args.quarantined_log_bytes = held["log_bytes"] + ARN_BYTES_PER_LINE * held.get("log_lines", 2)
    args.case_item_bytes = requests.get("allowed_case_item_bytes")

    path = review_path()
    args.sfn_path = " -> ".join(path)
    if args.sfn_transitions is None:
        args.sfn_transitions = len(path)
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
        f"  + AWS round trips           {args.s3_ms:g} ms per S3 request, {args.dynamodb_ms:g} ms"
        f" per DynamoDB call: allowed {args.s3_requests:g} S3 + {args.dynamodb_calls:.2f}"
        f" DynamoDB, quarantined {args.quarantined_s3_requests:g} S3 +"
        f" {args.quarantined_dynamodb_calls:.2f} DynamoDB"
        + (
            " (moto's share of the measured time is not taken off: errs high)"
            if args.includes_moto
            else ""
        )
    )
    print(f"  requests per object         metered from {args.requests_source}")
    print(
        f"  review workflow             {args.sfn_transitions} states entered on the usual path"
        f" ({args.sfn_path}); a timeout adds 3 (record, tell the tenant, await a second"
        " reviewer), an escalation 2 (record, await a second reviewer)"
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
    idem = MILLION * 2 * PRICES["dynamodb_write_request_unit"]
    print(
        f"  idempotency records (powertools: put, then update; 2 WRU) cost ${idem:.3f}/M;"
        f" each case write is billed in the table and again in its index (by_tenant_status)"
        f" (${MILLION * PRICES['dynamodb_write_request_unit']:.3f}/M per WRU)"
    )
    if args.case_item_bytes:
        print(
            f"  an allowed case item measured {args.case_item_bytes['median']:.0f} bytes"
            f" (1 WRU up to 1,024): keys, bucket and tenant names"
            f" {1024 - args.case_item_bytes['median']:.0f} bytes longer than the bench's push"
            " it to 2 WRU in the table and in by_tenant_status (+$1.25/M)"
        )
    month_gb = MILLION * 1.0 / 1e6
    print(
        f"  storage per million uploads kept a month: case rows ~{month_gb:.1f} GB, twice over"
        f" with by_tenant_status (projects all)"
        f" ${2 * month_gb * PRICES['dynamodb_standard_gb_month']:.2f}; evidence"
        f" ({args.quarantined_share:.1%} of 500 KB images)"
        f" ${MILLION * args.quarantined_share * 0.5e-3 * PRICES['s3_standard_gb_month']:.2f}"
    )
    sweep, sweep_detail = sweep_monthly(args.tenants, args.tenants_table_mb, args.memory_mb)
    print(
        f"  stuck-decision sweeper, a fixed ${sweep:.3f}/month (not per upload): {sweep_detail};"
        " a stuck claim found adds a SendTaskSuccess, a DescribeExecution and 1-3 writes"
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
