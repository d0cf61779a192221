"""`cordon`: the local stack, the demo, and the operator's commands.

Commands talk to whatever boto3's environment points at: AWS, or the local stack when run with
`--local` (which reads the endpoint and resource names `cordon local` wrote) or with the
variables `cordon local` prints exported.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from chalicelib import logs, sharing
from chalicelib.errors import RequestError, UnknownTenantError
from chalicelib.models import Action, Policy, Tenant, Visibility
from chalicelib.review import Reviewer
from chalicelib.settings import Settings
from chalicelib.signals import PDQ, indexed_types
from chalicelib.wiring import Cordon
from cordon_cli import compare, hashlists, oncall, operations, sweep_cmd

STATE_FILE = Path(".cordon/local.json")
# Piped output (CI, `| less`) still gets a table wide enough to read.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True)


def _cordon() -> Cordon:
    return Cordon(Settings.from_env())


def cmd_local(args: argparse.Namespace) -> int:
    from cordon_cli.local import LocalStack

    stack = LocalStack(port=args.port, api_port=args.api_port, log_file=args.log_file).start()
    environment = stack.environment()
    args.state_file.parent.mkdir(parents=True, exist_ok=True)
    args.state_file.write_text(json.dumps({"environment": environment, "api": stack.api_url}))
    console.print(
        f"[bold green]Cordon local stack up[/]: AWS endpoint {stack.endpoint}, API {stack.api_url}"
    )
    console.print(f"Other shells: `cordon --local ...` (reads {args.state_file}), or export:")
    for name, value in environment.items():
        print(f"export {name}={value}")
    sys.stdout.flush()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        args.state_file.unlink(missing_ok=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cordon_cli import demo

    if args.attach:
        return 0 if demo.run(_cordon(), console, timeout=args.timeout) else 1
    from cordon_cli.local import LocalStack

    with console.status("starting the local stack (moto on 127.0.0.1)"):
        stack = LocalStack(serve_api=False, log_file=args.log_file).start()
    try:
        console.print(
            f"local stack up: AWS endpoint {stack.endpoint}; the handlers' logs go "
            f"to {args.log_file}"
        )
        return 0 if demo.run(_cordon(), console, timeout=args.timeout) else 1
    finally:
        stack.stop()


def cmd_hashes_import(args: argparse.Namespace) -> int:
    if args.visibility != Visibility.ALL and args.source == "import":
        err_console.print("--visibility groups|private needs --source TENANT (who owns them)")
        return EXIT_USAGE
    parsed = operations.import_hashes(
        _cordon(),
        args.file,
        source=args.source,
        visibility=Visibility(args.visibility),
        groups=args.group or [],
    )
    console.print(f"imported {len(parsed.records)} hashes from {args.file}")
    for why, count in parsed.skipped.items():
        console.print(f"skipped {count}: {why}")
    return EXIT_OK


def _registered_tenant(cordon: Cordon, name: str) -> Tenant:
    """The tenant a command names; UnknownTenantError (a usage error) when there is none."""
    tenant = cordon.tenants.get(name)
    if tenant is None:
        raise UnknownTenantError(f"no tenant {name}")
    return tenant


def cmd_hashes_export(args: argparse.Namespace) -> int:
    cordon = _cordon()
    viewer = _registered_tenant(cordon, args.tenant) if args.tenant else None
    records = operations.shared_hashes(
        cordon,
        include_retired=args.include_retired,
        viewer=viewer,
        include_restricted=args.include_restricted,
    )
    text, skipped = hashlists.render(records, args.format, exact_as_video=args.exact_as_video)
    if args.output:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    for why, count in skipped.items():
        err_console.print(f"not exported, {count}: {why}")
    return EXIT_OK


def cmd_hashes_status(args: argparse.Namespace) -> int:
    """`hashes release` and `hashes retire`."""
    change = operations.release_hash if args.hashes_command == "release" else operations.retire_hash
    try:
        record = change(_cordon(), args.signal_type, args.value)
    except (KeyError, ValueError) as error:
        err_console.print(f"[red]{error}[/]")
        return EXIT_USAGE
    console.print(f"{record.signal_type} {record.value}: now {record.status}")
    return EXIT_OK


def cmd_tenants_subscribe(args: argparse.Namespace) -> int:
    cordon = _cordon()
    tenant = _registered_tenant(cordon, args.name)
    wanted = {"signal_type": args.signal_type, "change": args.change}
    url = operations.subscribe_queue(
        cordon,
        args.queue,
        cordon.settings.hash_updates_topic_arn,
        sharing.subscription_filter(tenant, {k: v for k, v in wanted.items() if v}),
    )
    console.print(f"{args.name}: hash updates it may see go to {url}")
    return EXIT_OK


def cmd_tenants_webhook(args: argparse.Namespace) -> int:
    cordon = _cordon()
    _registered_tenant(cordon, args.name)
    secret = cordon.tenants.set_webhook(
        args.name, args.url, args.signal_type, args.change, rotate=args.rotate
    )
    print(json.dumps({"tenant": args.name, "url": args.url, "secret": secret}))
    return EXIT_OK


def cmd_tenants_add(args: argparse.Namespace) -> int:
    policy = Policy(
        pdq_distance=args.pdq_distance,
        pdq_action=Action(args.pdq_action) if args.pdq_action else None,
        classifier_enabled=args.classifier,
        share_visibility=args.share_with,
    )
    tenant = operations.add_tenant(
        _cordon(),
        args.name,
        args.bucket,
        via=args.via,
        policy=policy,
        create_buckets=args.create_bucket,
        groups=args.group,
    )
    console.print(
        f"tenant {tenant.tenant_id}: buckets {', '.join(tenant.buckets)} wired via "
        f"{args.via}; policy {tenant.policy.to_dict()}"
    )
    return 0


def cmd_tenants_list(args: argparse.Namespace) -> int:
    for tenant in _cordon().tenants.all():
        print(
            json.dumps(
                {
                    "tenant_id": tenant.tenant_id,
                    "buckets": list(tenant.buckets),
                    "policy": tenant.policy.to_dict(),
                }
            )
        )
    return 0


# -- output -----------------------------------------------------------------------------------

EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE = 0, 1, 2
ROW_COLOURS = {"failed": "red", "processed": "green", "skipped": "cyan", "dry-run": "yellow"}


def emit_rows(
    rows: Iterable[dict[str, Any]],
    as_json: bool,
    title: str,
    columns: tuple[str, ...],
    total: int | None = None,
) -> dict[str, int]:
    """Print rows as they come (JSON lines) or as a table at the end; returns counts by status."""
    counts: dict[str, int] = {}
    collected = []
    with Progress(console=err_console, transient=True, disable=as_json) as progress:
        task = progress.add_task(title, total=total)
        for row in rows:
            status = str(row.get("status", "done"))
            counts[status] = counts.get(status, 0) + 1
            progress.advance(task)
            if as_json:
                print(json.dumps(row, default=str), flush=True)
            else:
                collected.append(row)
    if not as_json:
        table = Table(title=title)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in collected:
            colour = ROW_COLOURS.get(str(row.get("status")), "white")
            table.add_row(
                *[
                    f"[{colour}]{escape(str(row.get(c) or ''))}[/]"
                    if c == "status"
                    else escape(str(row.get(c) or ""))
                    for c in columns
                ]
            )
        console.print(table)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing"
    if as_json:
        print(json.dumps({"summary": counts}), flush=True)
    else:
        console.print(f"[bold]Summary:[/] {summary}")
    return counts


def exit_code(counts: dict[str, int]) -> int:
    return EXIT_SOME_FAILED if counts.get("failed") else EXIT_OK


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def cmd_replay(args: argparse.Namespace) -> int:
    messages = list(oncall.read_event_files(args.paths))
    rows = oncall.replay(
        _cordon(),
        messages,
        dry_run=args.dry_run,
        force=args.force,
        only=oncall.ReplayFilter(args.tenant, _when(args.since), _when(args.until)),
    )
    counts = emit_rows(
        rows,
        args.json,
        "replay" + (" (dry run: nothing changed)" if args.dry_run else ""),
        ("source", "object", "status", "action", "detail"),
        len(messages),
    )
    return exit_code(counts)


def cmd_dlq(args: argparse.Namespace) -> int:
    cordon = _cordon()
    if args.dlq_command == "list":
        rows = oncall.dlq_list(cordon, args.queue, args.limit)
        emit_rows(
            rows,
            args.json,
            f"dead letters in {args.queue or 'the ingest DLQ'}",
            ("message_id", "receive_count", "sent_at", "reason", "objects"),
        )
        return EXIT_OK
    if args.dlq_command == "show":
        found = oncall.dlq_show(cordon, args.queue, args.message_id)
        if found is None:
            console.print(f"[red]no message {args.message_id} in the queue[/]")
            return EXIT_SOME_FAILED
        print(json.dumps(found, indent=None if args.json else 2, default=str))
        return EXIT_OK
    if args.native:
        print(json.dumps(oncall.dlq_redrive_native(cordon, args.queue, args.to)))
        return EXIT_OK
    if not args.all and not args.id:
        console.print("[red]name messages with --id, or move them all with --all[/]")
        return EXIT_USAGE
    moved = oncall.dlq_redrive(cordon, args.queue, ids=args.id, to=args.to)
    emit_rows(
        ({**row, "status": "moved"} for row in moved),
        args.json,
        "redriven",
        ("message_id", "objects", "reason", "moved_to"),
    )
    missing = set(args.id or []) - {row["message_id"] for row in moved}
    if missing:
        console.print(f"[red]not found: {', '.join(sorted(missing))}[/]")
        return EXIT_SOME_FAILED
    return EXIT_OK


def cmd_rescan(args: argparse.Namespace) -> int:
    if args.signals:
        return _rescan_signals(args)
    if not args.uri:
        err_console.print("rescan needs s3://bucket/prefix, or --signals")
        return EXIT_USAGE
    rows = oncall.rescan(
        Settings.from_env(),
        args.uri,
        args.checkpoint_dir,
        concurrency=args.concurrency,
        rate=args.rate,
        page_size=args.page_size,
        restart=args.restart,
        dry_run=args.dry_run,
    )
    counts = emit_rows(
        rows, args.json, f"rescan of {args.uri}", ("object", "status", "action", "detail")
    )
    return exit_code(counts)


def _rescan_signals(args: argparse.Namespace) -> int:
    """Uploads already let through, checked against today's shared table by their stored
    signals; those that match now are judged again in their one case."""
    scanner = _cordon().retro_scanner
    rows = (
        {
            "object": result.ref.uri,
            "status": result.outcome.value,
            "action": result.verdict.action.value if result.verdict else "",
            "detail": result.detail,
        }
        for result in scanner.rescan_stored(args.tenant)
    )
    counts = emit_rows(
        rows, args.json, "rescan of stored signals", ("object", "status", "action", "detail")
    )
    return exit_code(counts)


def cmd_trace(args: argparse.Namespace) -> int:
    report = oncall.trace(_cordon(), args.target)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        console.print_json(json.dumps(report, default=str))
    return EXIT_OK if report["cases"] else EXIT_SOME_FAILED


def cmd_index_snapshot(args: argparse.Namespace) -> int:
    hashes = _cordon().hashes
    if hashes.snapshots is None:
        console.print("[red]no index bucket: set CORDON_INDEX_BUCKET[/]")
        return EXIT_USAGE
    # One snapshot per signal type with an index (PDQ's today), a line (JSON line) each.
    for signal_type in indexed_types():
        started = time.monotonic()
        report = hashes.save_snapshot(signal_type.name)
        report = {
            "snapshot": f"s3://{hashes.snapshots.bucket}/{hashes.snapshots.key(signal_type.name)}",
            **report,
            "seconds": round(time.monotonic() - started, 3),
        }
        if args.json:
            print(json.dumps(report))
        else:
            console.print(
                f"{report['snapshot']}: {report['count']} {signal_type.name} hashes up to seq "
                f"{report['watermark']}, {report['bytes']} bytes, in {report['seconds']} s"
            )
    return EXIT_OK


def _reviewer(args: argparse.Namespace) -> Reviewer:
    key = args.key or os.environ.get("CORDON_API_KEY", "")
    found = _cordon().tenants.reviewer_for_key(key)
    if found is None:
        raise SystemExit("an API key is needed: --key KEY or CORDON_API_KEY (cordon tenants key)")
    return Reviewer(*found)


def cmd_tenants_key(args: argparse.Namespace) -> int:
    key = _cordon().tenants.add_api_key(args.name, args.reviewer)
    print(
        key
        if args.json is False
        else json.dumps({"tenant_id": args.name, "reviewer_id": args.reviewer, "key": key})
    )
    err_console.print("Shown once: Cordon keeps only its SHA-256.")
    return EXIT_OK


def cmd_reviews(args: argparse.Namespace) -> int:
    services = _cordon()
    reviewer = _reviewer(args)
    try:
        if args.reviews_command == "list":
            rows = services.reviews.queue(reviewer, status=args.status, label=args.label)
            emit_rows(
                ({**row, "left": row["seconds_left"]} for row in rows),
                args.json,
                f"waiting for a decision ({reviewer.tenant_id})",
                ("case_id", "kind", "status", "verdict", "labels", "waiting_seconds", "left"),
            )
            return EXIT_OK
        if args.reviews_command == "show":
            result = services.reviews.view(reviewer, args.case_id)
        else:
            labels = [label for label in (args.labels or "").split(",") if label]
            result = services.reviews.decide(
                reviewer, args.case_id, args.action, args.reason, labels
            )
    except RequestError as error:
        console.print(f"[red]{error}[/]")
        return EXIT_SOME_FAILED
    print(json.dumps(result, indent=None if args.json else 2, default=str))
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cordon", description=__doc__.splitlines()[0])
    root.add_argument(
        "--local", action="store_true", help="talk to the stack `cordon local` is running"
    )
    root.add_argument("--state-file", type=Path, default=STATE_FILE, help=argparse.SUPPRESS)
    root.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs")
    commands = root.add_subparsers(dest="command", required=True)

    local = commands.add_parser("local", help="run the local stack until interrupted")
    local.add_argument("--port", type=int, default=None, help="moto's port (default: free)")
    local.add_argument("--api-port", type=int, default=None, help="REST API port")
    local.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write the handlers' logs here instead of to the terminal",
    )
    local.set_defaults(func=cmd_local)

    demo = commands.add_parser("demo", help="run the demo scenario on a local stack")
    demo.add_argument(
        "--attach",
        action="store_true",
        help="use the running `cordon local` instead of starting one",
    )
    demo.add_argument("--timeout", type=float, default=120.0)
    demo.add_argument("--log-file", type=Path, default=Path(".cordon/demo.log"))
    demo.set_defaults(func=cmd_demo)

    hashes = commands.add_parser("hashes", help="the shared hash table").add_subparsers(
        dest="hashes_command", required=True
    )
    importer = hashes.add_parser(
        "import",
        help="import JSON lines, CSV (signal_type, value, labels) or ThreatExchange's "
        "TYPE HASH lines (detected)",
    )
    importer.add_argument("file", type=Path)
    importer.add_argument(
        "--source", default="import", help="provenance to record (the owning tenant's id)"
    )
    importer.add_argument(
        "--visibility",
        choices=[v.value for v in Visibility],
        default=Visibility.ALL.value,
        help="who may see and match them: every tenant, --group members, or --source alone",
    )
    importer.add_argument("--group", action="append", help="a tenant group (repeatable)")
    importer.set_defaults(func=cmd_hashes_import)
    for name, text in (
        ("release", "clear a hash the flood guard held: active again, never held again"),
        ("retire", "stop a shared hash matching anywhere (subscribers are told)"),
    ):
        sub = hashes.add_parser(name, help=text)
        sub.add_argument("signal_type")
        sub.add_argument("value")
        sub.set_defaults(func=cmd_hashes_status)
    exporter = hashes.add_parser("export", help="write the shared table as a list")
    exporter.add_argument(
        "--format",
        choices=hashlists.FORMATS,
        default="jsonl",
        help="te: ThreatExchange's local_file list (pdq only, unless --exact-as-video)",
    )
    exporter.add_argument(
        "--exact-as-video",
        action="store_true",
        help="in te format, write sha256/md5 as video_sha256/video_md5",
    )
    exporter.add_argument("--include-retired", action="store_true")
    exporter.add_argument("--tenant", help="only what this tenant may see")
    exporter.add_argument(
        "--include-restricted",
        action="store_true",
        help="also hashes shared with groups or kept private (default: only those shared "
        "with all tenants, so a list sent elsewhere leaks nothing)",
    )
    exporter.add_argument("--output", type=Path)
    exporter.set_defaults(func=cmd_hashes_export)

    index = commands.add_parser("index", help="the PDQ match index").add_subparsers(
        dest="index_command", required=True
    )
    snapshot = index.add_parser(
        "snapshot", help="build the index from the hash table and store the snapshot in S3"
    )
    snapshot.add_argument("--json", action="store_true")
    snapshot.set_defaults(func=cmd_index_snapshot)

    tenants = commands.add_parser("tenants", help="the tenant registry").add_subparsers(
        dest="tenants_command", required=True
    )
    add = tenants.add_parser("add", help="register a tenant and wire its bucket(s)")
    add.add_argument("name")
    add.add_argument("--bucket", action="append", required=True)
    add.add_argument(
        "--via",
        choices=operations.VIA,
        default="sqs",
        help="S3 -> SQS directly, through the uploads SNS topic, or EventBridge",
    )
    add.add_argument("--create-bucket", action="store_true")
    # Unset, a tenant follows the deployment (CORDON_PDQ_DISTANCE) and the signal type.
    add.add_argument(
        "--pdq-distance",
        type=int,
        help=f"PDQ match distance (default: CORDON_PDQ_DISTANCE, else {PDQ.max_distance})",
    )
    add.add_argument(
        "--pdq-action",
        choices=[a.value for a in Action],
        help=f"what a PDQ match calls for (default: {PDQ.default_action.value})",
    )
    add.add_argument(
        "--classifier",
        action="store_true",
        help="score unmatched images with Rekognition (REVIEW, never takedown)",
    )
    add.add_argument("--group", action="append", help="a tenant group it belongs to (repeatable)")
    add.add_argument(
        "--share-with",
        choices=[v.value for v in Visibility],
        default=Policy().share_visibility,
        help="who its confirmed hashes are shared with: all tenants, its groups, or itself",
    )
    add.set_defaults(func=cmd_tenants_add)
    subscribe = tenants.add_parser(
        "subscribe", help="an SQS queue of the hash updates the tenant may see"
    )
    subscribe.add_argument("name")
    subscribe.add_argument("--queue", required=True, help="queue name (created if missing)")
    subscribe.add_argument("--signal-type", action="append", help="only these (repeatable)")
    subscribe.add_argument("--change", action="append", help="only these changes (repeatable)")
    subscribe.set_defaults(func=cmd_tenants_subscribe)
    webhook = tenants.add_parser(
        "webhook", help="POST the hash updates the tenant may see to its URL, signed"
    )
    webhook.add_argument("name")
    webhook.add_argument("url")
    webhook.add_argument("--signal-type", action="append", help="only these (repeatable)")
    webhook.add_argument("--change", action="append", help="only these changes (repeatable)")
    webhook.add_argument(
        "--rotate", action="store_true", help="keep signing with the previous secret too"
    )
    webhook.set_defaults(func=cmd_tenants_webhook)
    listing = tenants.add_parser("list", help="registered tenants, one JSON line each")
    listing.set_defaults(func=cmd_tenants_list)
    key = tenants.add_parser("key", help="issue an API key for one of the tenant's reviewers")
    key.add_argument("name")
    key.add_argument("--reviewer", required=True)
    key.add_argument("--json", action="store_true")
    key.set_defaults(func=cmd_tenants_key)

    reviews = commands.add_parser("reviews", help="the review queue, as a reviewer").add_subparsers(
        dest="reviews_command", required=True
    )
    for name, text in (
        ("list", "cases waiting for a decision"),
        ("show", "one case"),
        ("decide", "confirm, reject or escalate"),
    ):
        sub = reviews.add_parser(name, help=text)
        sub.add_argument("--key", help="the reviewer's API key (default: $CORDON_API_KEY)")
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(func=cmd_reviews)
        if name == "list":
            sub.add_argument("--status", choices=["pending_review", "escalated", "appeal_pending"])
            sub.add_argument("--label")
        else:
            sub.add_argument("case_id")
        if name == "decide":
            sub.add_argument("action", choices=["confirm", "reject", "escalate"])
            sub.add_argument("--reason", default="")
            sub.add_argument("--labels", help="comma-separated")
    sweep_cmd.register(reviews)

    replay = commands.add_parser("replay", help="replay event files through the pipeline")
    replay.add_argument(
        "paths", nargs="+", type=Path, help="files of one event, a Lambda SQS batch, or JSON lines"
    )
    replay.add_argument(
        "--dry-run",
        action="store_true",
        help="print the verdict each object would get; change nothing",
    )
    replay.add_argument(
        "--force",
        action="store_true",
        help="re-evaluate objects already handled (never acts twice)",
    )
    replay.add_argument("--tenant", help="only objects of this tenant")
    replay.add_argument("--since", help="only events at or after this ISO time")
    replay.add_argument("--until", help="only events at or before this ISO time")
    replay.add_argument("--json", action="store_true", help="JSON lines, then a summary line")
    replay.set_defaults(func=cmd_replay)

    dlq = commands.add_parser("dlq", help="dead-letter queues").add_subparsers(
        dest="dlq_command", required=True
    )
    for name, text in (
        ("list", "dead-lettered messages with their reason"),
        ("show", "one message in full"),
        ("redrive", "move messages back to their source queue"),
    ):
        sub = dlq.add_parser(name, help=text)
        sub.add_argument(
            "queue", nargs="?", default=None, help="queue name or URL (default: the ingest DLQ)"
        )
        sub.add_argument("--json", action="store_true")
        sub.set_defaults(func=cmd_dlq)
        if name == "list":
            sub.add_argument("--limit", type=int, default=100)
        if name == "show":
            sub.add_argument("message_id")
        if name == "redrive":
            sub.add_argument("--id", action="append", help="a message id (repeatable)")
            sub.add_argument("--all", action="store_true")
            sub.add_argument("--to", help="target queue (default: the message's source)")
            sub.add_argument(
                "--native",
                action="store_true",
                help="use SQS's StartMessageMoveTask (AWS only; moves all)",
            )

    rescan = commands.add_parser(
        "rescan", help="feed a bucket prefix through the pipeline, or --signals"
    )
    rescan.add_argument("uri", nargs="?", help="s3://bucket/prefix")
    rescan.add_argument(
        "--signals",
        action="store_true",
        help="instead: check allowed uploads' stored signals against the shared table",
    )
    rescan.add_argument("--tenant", action="append", help="with --signals: only these tenants")
    rescan.add_argument("--concurrency", type=int, default=4)
    rescan.add_argument("--rate", type=float, default=50.0, help="objects started per second")
    rescan.add_argument("--page-size", type=int, default=1000)
    rescan.add_argument("--restart", action="store_true", help="ignore the saved checkpoint")
    rescan.add_argument("--dry-run", action="store_true")
    rescan.add_argument("--checkpoint-dir", type=Path, default=Path(".cordon/rescan"))
    rescan.add_argument("--json", action="store_true")
    rescan.set_defaults(func=cmd_rescan)

    compare.register(commands)

    trace = commands.add_parser("trace", help="everything known about an object or a case")
    trace.add_argument("target", help="s3://bucket/key or a case id")
    trace.add_argument("--json", action="store_true")
    trace.set_defaults(func=cmd_trace)
    return root


def main(argv: list[str] | None = None) -> int:
    # Outside Lambda there is no context telling powertools the time left: expected.
    warnings.filterwarnings("ignore", "Couldn't determine the remaining time left")
    args = parser().parse_args(argv)
    if not args.verbose and args.command not in ("local", "demo"):
        # The handlers' per-object JSON logs are for CloudWatch; a shell wants the summary.
        logs.logger.setLevel(logging.WARNING)
    if args.local and args.command != "local":
        if not args.state_file.exists():
            console.print(
                f"[red]no local stack: {args.state_file} is missing; "
                "start one with `cordon local`[/]"
            )
            return 2
        os.environ.update(json.loads(args.state_file.read_text())["environment"])
        if args.command == "demo":
            args.attach = True
    try:
        return int(args.func(args))
    except UnknownTenantError as error:
        err_console.print(f"[red]{error}[/]")
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
