"""`cordon`: the local stack, the demo, and the operator's commands.

Commands talk to whatever boto3's environment points at: AWS, or the local stack when run with
`--local` (which reads the endpoint and resource names `cordon local` wrote) or with the
variables `cordon local` prints exported.

Start-up: this module imports only the standard library and Cordon's light modules; boto3,
numpy, PIL, rich and the wiring are imported inside the commands that use them, so that
`cordon --help` and simple reads start fast (`bench/bench_cli.py`,
`tests/unit/test_cli_imports.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chalicelib.errors import RequestError, UnknownTenantError
from chalicelib.models import Action, Policy, Visibility
from cordon_cli import errors, hashlists, operations, state, sweep_cmd
from cordon_cli.output import (
    EXIT_OK,
    EXIT_SOME_FAILED,
    EXIT_USAGE,
    console,
    emit_rows,
    err_console,
    exit_code,
)
from cordon_cli.parsing import (
    JSON_LINES,
    HelpFormatter,
    command,
    json_flag,
    lazy,
    moment,
    subcommands,
)

if TYPE_CHECKING:
    from chalicelib.models import Tenant
    from chalicelib.review import Reviewer
    from chalicelib.wiring import Cordon

__all__ = ["EXIT_OK", "EXIT_SOME_FAILED", "EXIT_USAGE", "main", "parser"]

STATE_FILE = Path(".cordon/local.json")
# The PDQ type's own rules, for help texts (`chalicelib.signals.PDQ` loads numpy; a unit test
# keeps these equal to it).
PDQ_MAX_DISTANCE = 31
PDQ_DEFAULT_ACTION = "TAKEDOWN"
# The registered signal types' names, for `hashes import --type` (kept equal by a unit test).
SIGNAL_NAMES = ("md5", "pdq", "phash", "sha256")


def _cordon() -> Cordon:
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon

    return Cordon(Settings.from_env())


def cmd_local(args: argparse.Namespace) -> int:
    import signal
    import threading

    from cordon_cli.local import LocalStack

    stack = LocalStack(port=args.port, api_port=args.api_port, log_file=args.log_file).start()
    environment = stack.environment()
    state_file = state.state_file_to_write(args.state_file).resolve()
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps({"environment": environment, "api": stack.api_url}))
    console.print(
        f"[bold green]Cordon local stack up[/]: AWS endpoint {stack.endpoint}, API {stack.api_url}"
    )
    console.print(
        f"Other shells: `cordon --local ...` from this clone (reads {state_file}; elsewhere "
        f"set {state.STATE_VARIABLE}={state_file}), or export:"
    )
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
        state_file.unlink(missing_ok=True)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from cordon_cli import demo

    if args.attach:
        return 0 if demo.run(_cordon(), console.get(), timeout=args.timeout) else 1
    from cordon_cli.local import LocalStack

    with console.status("starting the local stack (moto on 127.0.0.1)"):
        stack = LocalStack(serve_api=False, log_file=args.log_file).start()
    try:
        console.print(
            f"local stack up: AWS endpoint {stack.endpoint}; the handlers' logs go "
            f"to {args.log_file}"
        )
        return 0 if demo.run(_cordon(), console.get(), timeout=args.timeout, attached=False) else 1
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
        signal_type=args.type,
    )
    skipped = sum(parsed.skipped.values())
    if args.json:
        print(json.dumps({"imported": len(parsed.records), "skipped": parsed.skipped}))
        return EXIT_OK if parsed.records else EXIT_SOME_FAILED
    from rich.markup import escape

    console.print(
        f"imported {len(parsed.records)} hashes from {args.file}, skipped {skipped}",
        highlight=False,
    )
    for line in parsed.report():
        console.print(escape(line), highlight=False)
    if not parsed.records:
        err_console.print(f"cordon: nothing imported from {args.file}", highlight=False)
        return EXIT_SOME_FAILED
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
    if args.json:
        print(json.dumps({k: getattr(record, k) for k in ("signal_type", "value", "status")}))
    else:
        console.print(f"{record.signal_type} {record.value}: now {record.status}")
    return EXIT_OK


def cmd_tenants_subscribe(args: argparse.Namespace) -> int:
    from chalicelib import sharing

    cordon = _cordon()
    tenant = _registered_tenant(cordon, args.name)
    wanted = {"signal_type": args.signal_type, "change": args.change}
    url = operations.subscribe_queue(
        cordon,
        args.queue,
        cordon.settings.hash_updates_topic_arn,
        sharing.subscription_filter(tenant, {k: v for k, v in wanted.items() if v}),
    )
    if args.json:
        print(json.dumps({"tenant_id": args.name, "queue_url": url}))
    else:
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
    if args.classifier and os.environ.get("AWS_ENDPOINT_URL"):
        # moto has no Rekognition moderation labels: every unmatched upload would fail.
        raise errors.CliError(
            "--classifier needs Amazon Rekognition's moderation labels, which the local stack "
            "(moto, at AWS_ENDPOINT_URL) does not have: every unmatched upload would be "
            "dead-lettered; register the tenant without --classifier here, with it on AWS"
        )
    policy = Policy(
        pdq_distance=args.pdq_distance,
        pdq_action=Action(args.pdq_action) if args.pdq_action else None,
        classifier_enabled=args.classifier,
        share_visibility=args.share_with,
    )
    cordon = _cordon()
    if cordon.tenants.get(args.name) is not None:
        err_console.print(
            f"tenant {args.name} is registered already: its buckets are added to, the policy "
            "given replaces its own",
            highlight=False,
        )
    tenant = operations.add_tenant(
        cordon,
        args.name,
        args.bucket,
        via=args.via,
        policy=policy,
        create_buckets=args.create_bucket,
        groups=args.group,
    )
    if args.json:
        print(json.dumps(_tenant_row(tenant) | {"via": args.via}))
        return EXIT_OK
    console.print(
        f"tenant {tenant.tenant_id}: buckets {', '.join(tenant.buckets)} wired via "
        f"{args.via}; policy {tenant.policy.to_dict()}"
    )
    return EXIT_OK


def _tenant_row(tenant: Tenant) -> dict[str, object]:
    return {
        "tenant_id": tenant.tenant_id,
        "buckets": list(tenant.buckets),
        "groups": list(tenant.groups),
        "policy": tenant.policy.to_dict(),
    }


def cmd_tenants_list(args: argparse.Namespace) -> int:
    from cordon_cli.overview import Reads  # a read: no wiring, no numpy

    rows = [_tenant_row(tenant) for tenant in Reads.from_env().tenants.all()]
    if args.json:
        for row in rows:
            print(json.dumps(row))
        print(json.dumps({"summary": {"tenants": len(rows)}}))
        return EXIT_OK
    from cordon_cli.output import table

    console.print(
        table(
            "tenants",
            ("tenant", "buckets", "groups", "policy (set fields)"),
            (
                (r["tenant_id"], ", ".join(r["buckets"]), ", ".join(r["groups"]), r["policy"])
                for r in rows
            ),
        )
    )
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from cordon_cli import oncall

    messages = list(oncall.read_event_files(args.paths))
    rows = oncall.replay(
        _cordon(),
        messages,
        dry_run=args.dry_run,
        force=args.force,
        only=oncall.ReplayFilter(args.tenant, args.since, args.until),
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
    from cordon_cli import oncall

    cordon = _cordon()
    if args.dlq_command == "list":
        rows = oncall.dlq_list(cordon, args.queue, args.limit)
        emit_rows(
            rows,
            args.json,
            f"dead letters in {args.queue or 'the ingest DLQ'} (receive counts before "
            "this listing, which adds one: SQS has no peek)",
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
    from chalicelib.settings import Settings
    from cordon_cli import oncall

    if args.signals:
        return _rescan_signals(args)
    if not args.uri:
        err_console.print("rescan needs s3://bucket/prefix, or --signals")
        return EXIT_USAGE
    settings = Settings.from_env()
    total = (
        None
        if args.json
        else oncall.rescan_total(settings, args.uri, args.checkpoint_dir, args.restart)
    )
    rows = oncall.rescan(
        settings,
        args.uri,
        args.checkpoint_dir,
        concurrency=args.concurrency,
        rate=args.rate,
        page_size=args.page_size,
        restart=args.restart,
        dry_run=args.dry_run,
    )
    counts = emit_rows(
        rows,
        args.json,
        f"rescan of {args.uri}",
        ("object", "status", "action", "detail"),
        total=total,
        show_rows=args.rows,
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
        rows,
        args.json,
        "rescan of stored signals",
        ("object", "status", "action", "detail"),
        show_rows=args.rows,
    )
    return exit_code(counts)


def cmd_index_snapshot(args: argparse.Namespace) -> int:
    import time

    from chalicelib.signals import indexed_types

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
            console.print(snapshot_line(signal_type.name, report), highlight=False)
    return EXIT_OK


def snapshot_line(signal_type: str, report: dict[str, Any]) -> str:
    """What a snapshot holds, and what its seq numbers mean."""
    line = (
        f"{report['snapshot']}: {report['count']} {signal_type} hashes, {report['bytes']} "
        f"bytes, in {report['seconds']} s; complete up to write seq {report['watermark']} of "
        f"the table's {report['table_seq']} (each write to the table takes the next seq)"
    )
    if report["watermark"] < report["table_seq"]:
        line += (
            f": seq {report['watermark'] + 1} is missing (its hash was written again under a "
            "later seq, or a writer is at work), so a cold container loads this snapshot and "
            f"reads the writes after seq {report['watermark']} from the table"
        )
    return line


def _reviewer(args: argparse.Namespace) -> Reviewer:
    from chalicelib.review import Reviewer

    key = args.key or os.environ.get("CORDON_API_KEY", "")
    issue = "`cordon tenants key TENANT --reviewer NAME` issues one"
    if not key:
        raise errors.CliError(f"no API key: pass --key KEY or set CORDON_API_KEY ({issue})")
    found = _cordon().tenants.reviewer_for_key(key)
    if found is None:
        where = "--key" if args.key else "CORDON_API_KEY"
        raise errors.CliError(
            f"the API key in {where} was refused (401: not a key Cordon issued here, or "
            f"revoked; with --local, keys of an earlier stack are gone): {issue}"
        )
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
    root = argparse.ArgumentParser(
        prog="cordon", description=__doc__.splitlines()[0], formatter_class=HelpFormatter
    )
    root.add_argument(
        "--local", action="store_true", help="talk to the stack `cordon local` is running"
    )
    root.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help=f"the local stack's state (default: ${state.STATE_VARIABLE}, else the first "
        f"{STATE_FILE} here or above)",
    )
    root.add_argument("--debug", action="store_true", help="print tracebacks of errors")
    root.add_argument("--verbose", action="store_true", help="show the handlers' JSON logs")
    commands = subcommands(root, "command")

    local = command(commands, "local", "run the local stack until interrupted")
    local.add_argument("--port", type=int, default=None, help="moto's port (unset: a free one)")
    local.add_argument(
        "--api-port", type=int, default=None, help="REST API port (unset: a free one)"
    )
    local.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="write the handlers' logs here (unset: to the terminal)",
    )
    local.set_defaults(func=cmd_local)

    demo = command(commands, "demo", "run the demo scenario on a local stack")
    demo.add_argument(
        "--attach",
        action="store_true",
        help="use the running `cordon local` instead of starting one",
    )
    demo.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for each stage")
    demo.add_argument(
        "--log-file", type=Path, default=Path(".cordon/demo.log"), help="the handlers' logs"
    )
    demo.set_defaults(func=cmd_demo)

    hashes = subcommands(command(commands, "hashes", "the shared hash table"), "hashes_command")
    importer = command(
        hashes,
        "import",
        "import JSON lines, a JSON array, CSV (signal_type, value, labels; header "
        "optional), ThreatExchange's TYPE HASH lines or bare hashes (detected)",
    )
    importer.add_argument("file", type=Path, help="the list to import")
    importer.add_argument(
        "--type",
        choices=SIGNAL_NAMES,
        help="the type of values whose line names none (needed for 64 hex digits: PDQ and "
        "SHA-256 look alike; md5 and phash are told by their length)",
    )
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
    json_flag(importer)
    importer.set_defaults(func=cmd_hashes_import)
    for name, text in (
        ("release", "clear a hash the flood guard held: active again, never held again"),
        ("retire", "stop a shared hash matching anywhere (subscribers are told)"),
    ):
        sub = command(hashes, name, text)
        sub.add_argument("signal_type", help="pdq, sha256, md5, phash...")
        sub.add_argument("value", help="the hash, as shared")
        json_flag(sub)
        sub.set_defaults(func=cmd_hashes_status)
    exporter = command(hashes, "export", "write the shared table as a list")
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
    exporter.add_argument(
        "--include-retired", action="store_true", help="also hashes retired from matching"
    )
    exporter.add_argument("--tenant", help="only what this tenant may see")
    exporter.add_argument(
        "--include-restricted",
        action="store_true",
        help="also hashes shared with groups or kept private (unset: only those shared "
        "with all tenants, so a list sent elsewhere leaks nothing)",
    )
    exporter.add_argument("--output", type=Path, help="write here (unset: to stdout)")
    exporter.set_defaults(func=cmd_hashes_export)

    index = subcommands(command(commands, "index", "the PDQ match index"), "index_command")
    snapshot = command(
        index, "snapshot", "build the index from the hash table and store the snapshot in S3"
    )
    json_flag(snapshot, "a JSON line per signal type")
    snapshot.set_defaults(func=cmd_index_snapshot)

    tenants = subcommands(command(commands, "tenants", "the tenant registry"), "tenants_command")
    add = command(tenants, "add", "register a tenant and wire its bucket(s)")
    add.add_argument("name", help="the tenant's id")
    add.add_argument("--bucket", action="append", required=True, help="its bucket (repeatable)")
    add.add_argument(
        "--via",
        choices=operations.VIA,
        default="sqs",
        help="S3 -> SQS directly, through the uploads SNS topic, or EventBridge",
    )
    add.add_argument(
        "--create-bucket", action="store_true", help="create the bucket(s) first (local stack)"
    )
    # Unset, a tenant follows the deployment (CORDON_PDQ_DISTANCE) and the signal type.
    add.add_argument(
        "--pdq-distance",
        type=int,
        help=f"PDQ match distance in bits (unset: CORDON_PDQ_DISTANCE, else {PDQ_MAX_DISTANCE})",
    )
    add.add_argument(
        "--pdq-action",
        choices=[a.value for a in Action],
        help=f"what a PDQ match calls for (unset: {PDQ_DEFAULT_ACTION})",
    )
    add.add_argument(
        "--classifier",
        action="store_true",
        help="score unmatched images with Rekognition (REVIEW, never takedown; AWS only: "
        "refused on the local stack, which has no Rekognition)",
    )
    add.add_argument("--group", action="append", help="a tenant group it belongs to (repeatable)")
    add.add_argument(
        "--share-with",
        choices=[v.value for v in Visibility],
        default=Policy().share_visibility,
        help="who its confirmed hashes are shared with: all tenants, its groups, or itself",
    )
    json_flag(add)
    add.set_defaults(func=cmd_tenants_add)
    subscribe = command(tenants, "subscribe", "an SQS queue of the hash updates the tenant may see")
    subscribe.add_argument("name", help="the tenant's id")
    subscribe.add_argument("--queue", required=True, help="queue name (created if missing)")
    subscribe.add_argument("--signal-type", action="append", help="only these (repeatable)")
    subscribe.add_argument("--change", action="append", help="only these changes (repeatable)")
    json_flag(subscribe)
    subscribe.set_defaults(func=cmd_tenants_subscribe)
    webhook = command(
        tenants, "webhook", "POST the hash updates the tenant may see to its URL, signed"
    )
    webhook.add_argument("name", help="the tenant's id")
    webhook.add_argument("url", help="where to POST (https)")
    webhook.add_argument("--signal-type", action="append", help="only these (repeatable)")
    webhook.add_argument("--change", action="append", help="only these changes (repeatable)")
    webhook.add_argument(
        "--rotate", action="store_true", help="keep signing with the previous secret too"
    )
    webhook.set_defaults(func=cmd_tenants_webhook)
    listing = command(tenants, "list", "registered tenants: buckets, groups, policy")
    json_flag(listing, JSON_LINES)
    listing.set_defaults(func=cmd_tenants_list)
    key = command(tenants, "key", "issue an API key for one of the tenant's reviewers")
    key.add_argument("name", help="the tenant's id")
    key.add_argument("--reviewer", required=True, help="the reviewer's id")
    json_flag(key)
    key.set_defaults(func=cmd_tenants_key)

    reviews = subcommands(
        command(commands, "reviews", "the review queue, as a reviewer"), "reviews_command"
    )
    for name, text in (
        ("list", "cases waiting for a decision"),
        ("show", "one case"),
        ("decide", "confirm, reject or escalate"),
    ):
        sub = command(reviews, name, text)
        sub.add_argument("--key", help="the reviewer's API key (unset: $CORDON_API_KEY)")
        json_flag(sub, JSON_LINES if name == "list" else "one JSON object")
        sub.set_defaults(func=cmd_reviews)
        if name == "list":
            sub.add_argument(
                "--status",
                choices=["pending_review", "escalated", "appeal_pending"],
                help="only cases in this status (unset: all three)",
            )
            sub.add_argument("--label", help="only cases that matched a hash with this label")
        else:
            sub.add_argument("case_id", help="the case's id")
        if name == "decide":
            sub.add_argument(
                "action", choices=["confirm", "reject", "escalate"], help="the decision"
            )
            sub.add_argument("--reason", default="", help="why (recorded, shown to the tenant)")
            sub.add_argument("--labels", help="labels for confirmed hashes, comma-separated")
    sweep_cmd.register(reviews)

    replay = command(commands, "replay", "replay event files through the pipeline")
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
    replay.add_argument(
        "--since", type=moment, help="only events at or after this ISO time (or 2h, 3d ago)"
    )
    replay.add_argument(
        "--until", type=moment, help="only events at or before this ISO time (or 2h, 3d ago)"
    )
    json_flag(replay, JSON_LINES)
    replay.set_defaults(func=cmd_replay)

    dlq = subcommands(command(commands, "dlq", "dead-letter queues"), "dlq_command")
    for name, text in (
        (
            "list",
            "dead-lettered messages with their reason (SQS has no peek: listing adds one to "
            "each message's receive count; the counts shown are from before it)",
        ),
        ("show", "one message in full"),
        ("redrive", "move messages back to their source queue"),
    ):
        sub = command(dlq, name, text)
        sub.add_argument(
            "queue", nargs="?", default=None, help="queue name or URL (unset: the ingest DLQ)"
        )
        json_flag(sub, "one JSON object" if name == "show" else JSON_LINES)
        sub.set_defaults(func=cmd_dlq)
        if name == "list":
            sub.add_argument("--limit", type=int, default=100, help="at most this many")
        if name == "show":
            sub.add_argument("message_id", help="the SQS message id (from `dlq list`)")
        if name == "redrive":
            sub.add_argument("--id", action="append", help="a message id (repeatable)")
            sub.add_argument("--all", action="store_true", help="every message in the queue")
            sub.add_argument("--to", help="target queue (unset: the message's source)")
            sub.add_argument(
                "--native",
                action="store_true",
                help="use SQS's StartMessageMoveTask (AWS only; moves all)",
            )

    rescan = command(commands, "rescan", "feed a bucket prefix through the pipeline, or --signals")
    rescan.add_argument("uri", nargs="?", help="s3://bucket/prefix")
    rescan.add_argument(
        "--signals",
        action="store_true",
        help="instead: check allowed uploads' stored signals against the shared table",
    )
    rescan.add_argument("--tenant", action="append", help="with --signals: only these tenants")
    rescan.add_argument("--concurrency", type=int, default=4, help="objects in flight at once")
    rescan.add_argument("--rate", type=float, default=50.0, help="objects started per second")
    rescan.add_argument("--page-size", type=int, default=1000, help="keys listed per request")
    rescan.add_argument("--restart", action="store_true", help="ignore the saved checkpoint")
    rescan.add_argument("--dry-run", action="store_true", help="print the verdicts; change nothing")
    rescan.add_argument(
        "--checkpoint-dir",
        type=Path,
        default=Path(".cordon/rescan"),
        help="where the resumable checkpoint is kept",
    )
    rescan.add_argument(
        "--verbose",
        "-v",
        dest="rows",
        action="store_true",
        help="a row per object after the summary (unset: the summary alone)",
    )
    json_flag(rescan, JSON_LINES)
    rescan.set_defaults(func=cmd_rescan)

    compare = command(
        commands,
        "compare",
        "would image B match a shared hash made from image A? through what, how far?",
    )
    compare.add_argument("a", help="the image whose hashes are shared (the known one)")
    compare.add_argument("b", help="the image uploaded")
    json_flag(compare)
    compare.add_argument(
        "--stored",
        action="store_true",
        help=(
            "also say which of A's storable variants (centre crops, masked copies, "
            "anchored windows) B reaches"
        ),
    )
    compare.set_defaults(func=lazy("cordon_cli.compare", "run"))

    from cordon_cli import overview  # its imports are lazy too

    overview.register(commands)
    return root


def main(argv: list[str] | None = None) -> int:
    # Outside Lambda there is no context telling powertools the time left: expected.
    warnings.filterwarnings("ignore", "Couldn't determine the remaining time left")
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except BrokenPipeError:
        return errors.quiet_broken_pipe()
    except (Exception, KeyboardInterrupt) as error:
        # One line, what is wrong and what to do; the traceback only when asked for.
        if args.debug:
            traceback.print_exc()
        failure = errors.describe(error)
        print(f"cordon: {failure.message}", file=sys.stderr, flush=True)
        return failure.code


def _run(args: argparse.Namespace) -> int:
    if not args.verbose and args.command not in ("local", "demo"):
        _quiet_handler_logs()
    if args.local and args.command != "local":
        os.environ.update(state.local_environment(args.state_file))
        if args.command == "demo":
            args.attach = True
    elif _talks_to_aws(args) and not os.environ.get("AWS_ENDPOINT_URL"):
        state.announce_aws_target(sys.stderr)
    return int(args.func(args))


def _talks_to_aws(args: argparse.Namespace) -> bool:
    """Whether the command calls AWS where the environment points (not a stack of its own)."""
    if args.command in ("local", "compare"):
        return False
    return args.command != "demo" or args.attach


def _quiet_handler_logs() -> None:
    """The handlers' per-object JSON logs are for CloudWatch; a shell wants the summary."""
    import logging

    from chalicelib import logs  # powertools' logger (~0.05 s), not boto3

    logs.logger.setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
