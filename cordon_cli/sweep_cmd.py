"""`cordon reviews sweep`: settle decisions stuck `deciding`, as the scheduled Lambda
(`app.sweep_decisions`) does every few minutes; for on-call, who need not wait for it."""

from __future__ import annotations

import argparse
import json

from chalicelib.claims import STUCK_AFTER_SECONDS
from cordon_cli.parsing import JSON_LINES, command, json_flag


def register(reviews: argparse._SubParsersAction) -> None:
    """Add `sweep` to the `cordon reviews` commands."""
    sub = command(reviews, "sweep", "settle decisions stuck deciding (on-call)")
    sub.add_argument(
        "--older-than",
        type=float,
        default=STUCK_AFTER_SECONDS,
        help="seconds since the decision was claimed",
    )
    json_flag(sub, JSON_LINES)
    sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chalicelib.settings import Settings
    from chalicelib.wiring import Cordon  # boto3, numpy: only when the sweep runs

    swept = Cordon(Settings.from_env()).reviews.sweep_claims(args.older_than)
    for row in swept:
        print(
            json.dumps(row) if args.json else f"{row['case_id']}  {row['tenant_id']}  {row['move']}"
        )
    if args.json:
        print(json.dumps({"summary": {"settled": len(swept)}}))
    else:
        print(f"{len(swept)} stuck decision(s) settled")
    return 0
