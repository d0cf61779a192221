"""`cordon reviews sweep`: settle decisions stuck `deciding`, as the scheduled Lambda
(`app.sweep_decisions`) does every few minutes; for on-call, who need not wait for it."""

from __future__ import annotations

import argparse
import json
from typing import Any

from chalicelib.claims import STUCK_AFTER_SECONDS
from chalicelib.settings import Settings
from chalicelib.wiring import Cordon


def register(reviews: Any) -> None:
    """Add `sweep` to the `cordon reviews` commands."""
    sub = reviews.add_parser("sweep", help="settle decisions stuck deciding (on-call)")
    sub.add_argument(
        "--older-than",
        type=float,
        default=STUCK_AFTER_SECONDS,
        help=f"seconds since the decision was claimed (default {STUCK_AFTER_SECONDS:g})",
    )
    sub.add_argument("--json", action="store_true")
    sub.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    swept = Cordon(Settings.from_env()).reviews.sweep_claims(args.older_than)
    for row in swept:
        print(
            json.dumps(row) if args.json else f"{row['case_id']}  {row['tenant_id']}  {row['move']}"
        )
    if not args.json:
        print(f"{len(swept)} stuck decision(s) settled")
    return 0
