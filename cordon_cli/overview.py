"""The on-call engineer's overview: `cordon cases list|show`, `cordon status`, `cordon trace`.

Reads only. The data is gathered by the functions here (boto3 through Cordon's adapters,
imported when a command runs) and drawn by pure renderers (`render_case`, `render_status`),
so what a person reads and what `--json` prints come from one report.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from cordon_cli.output import EXIT_OK, EXIT_SOME_FAILED, console
from cordon_cli.parsing import command, json_flag

if TYPE_CHECKING:
    from chalicelib.wiring import Cordon


def register(commands: argparse._SubParsersAction) -> None:
    trace = command(commands, "trace", "everything known about an object or a case")
    trace.add_argument("target", help="s3://bucket/key or a case id")
    json_flag(trace)
    trace.set_defaults(func=cmd_trace)


def _cordon() -> Cordon:
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon

    return Cordon(Settings.from_env())


def cmd_trace(args: argparse.Namespace) -> int:
    from cordon_cli import oncall

    report = oncall.trace(_cordon(), args.target)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        console.print_json(json.dumps(report, default=str))
    return EXIT_OK if report["cases"] else EXIT_SOME_FAILED
