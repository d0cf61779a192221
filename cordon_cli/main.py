"""`cordon`: the local stack, the demo, and the operator's commands.

Commands talk to whatever boto3's environment points at: AWS, or the local stack when run with
`--local` (which reads the endpoint and resource names `cordon local` wrote) or with the
variables `cordon local` prints exported.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from rich.console import Console

from chalicelib.models import Action, Policy
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon
from cordon_cli import operations

STATE_FILE = Path(".cordon/local.json")
# Piped output (CI, `| less`) still gets a table wide enough to read.
console = Console(width=None if sys.stdout.isatty() else 160)


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
    count = operations.import_hashes(_cordon(), args.file, source=args.source)
    console.print(f"imported {count} hashes from {args.file}")
    return 0


def cmd_tenants_add(args: argparse.Namespace) -> int:
    policy = Policy(
        pdq_distance=args.pdq_distance,
        pdq_action=Action(args.pdq_action),
        classifier_enabled=args.classifier,
    )
    tenant = operations.add_tenant(
        _cordon(),
        args.name,
        args.bucket,
        via=args.via,
        policy=policy,
        create_buckets=args.create_bucket,
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


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cordon", description=__doc__.splitlines()[0])
    root.add_argument(
        "--local", action="store_true", help="talk to the stack `cordon local` is running"
    )
    root.add_argument("--state-file", type=Path, default=STATE_FILE, help=argparse.SUPPRESS)
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
        "import", help="import CSV or JSON lines (signal_type, value, labels)"
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--source", default="import", help="provenance to record")
    importer.set_defaults(func=cmd_hashes_import)

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
    add.add_argument("--pdq-distance", type=int, default=Policy().pdq_distance)
    add.add_argument(
        "--pdq-action", choices=[a.value for a in Action], default=Policy().pdq_action.value
    )
    add.add_argument(
        "--classifier",
        action="store_true",
        help="score unmatched images with Rekognition (REVIEW, never takedown)",
    )
    add.set_defaults(func=cmd_tenants_add)
    listing = tenants.add_parser("list", help="registered tenants, one JSON line each")
    listing.set_defaults(func=cmd_tenants_list)
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
