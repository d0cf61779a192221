"""`cordon compare A B [--json]`: would B match a shared hash made from A, and how?

The on-call engineer's "why did this match?", and a way for anyone to check the matcher: A's
signals as the shared table would hold them (its own exact and perceptual hashes, variant
"original"), B examined exactly as an upload is (`examine_bytes`, match variants included),
matched with the real matcher and judged by the default policy. Exit code 0 when B matches,
1 when it does not, 2 when a file cannot be read.

With `--stored`, it also says which of the variants the shared side can store for A
(`signals.shared_variant_signals`: centre crops, masked copies, anchored windows) B comes
within the distance of, through which of its own variants. The verdict and the exit code stay
those of A's own hashes, as for a hash imported without its image; a reviewer's confirmation
stores the variants too, and a match with one is a variant match (REVIEW).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalicelib import pdq, variants
from chalicelib.matching import find_matches, with_complements
from chalicelib.models import Examination, HashRecord, Match, Policy, Signal, Verdict
from chalicelib.policy import decide, match_distances
from chalicelib.signals import examine_bytes, indexed_types, shared_variant_signals, usable
from chalicelib.signals.perceptual import PDQ
from chalicelib.variants import ORIGINAL

MAX_PIXELS = 10**8


@dataclass(frozen=True)
class Comparison:
    shared: Examination
    upload: Examination
    matches: tuple[Match, ...]
    verdict: Verdict
    nearest: tuple[str, int] | None  # (variant, distance) of B's PDQ nearest A's, matched or not
    # With --stored: (A's stored variant, B's variant, distance) within the distance, nearest first.
    stored: tuple[tuple[str, str, int], ...] | None = None

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "match": self.matched,
            "action": self.verdict.action.value,
            "matches": [
                {**m.to_dict(), "variant_meaning": variants.describe(m.variant)}
                for m in self.matches
            ],
            "nearest_pdq": (
                {"variant": self.nearest[0], "distance": self.nearest[1]} if self.nearest else None
            ),
            "stored_variants_reached": (
                [
                    {"stored_variant": a, "upload_variant": b, "distance": d}
                    for a, b, d in self.stored
                ]
                if self.stored is not None
                else None
            ),
            "threshold": PDQ.max_distance,
            "reasons": list(self.verdict.reasons),
            "shared_signals": [s.to_dict() for s in self.shared.signals],
            "upload_signals": [s.to_dict() for s in self.upload.signals],
            "problems": list(self.shared.problems + self.upload.problems),
        }


def _nearest(signals: list[Signal], value: str) -> tuple[int, str] | None:
    """(bits, variant) of the PDQ signal nearest `value`, the image's own on a tie."""
    reach = [(pdq.hamming_hex(s.value, value), s.variant) for s in signals]
    return min(reach, key=lambda r: (r[0], r[1] != ORIGINAL)) if reach else None


def stored_reached(
    shared: bytes, upload: Examination, distance: int
) -> tuple[tuple[str, str, int], ...]:
    """Which of `shared`'s storable variants the upload's usable PDQ signals come within
    `distance` of: (stored variant, upload variant, bits), nearest first, one per stored."""
    found = []
    usable = [s for s in with_complements(upload.signals) if s.type == PDQ.name and PDQ.usable(s)]
    for stored in shared_variant_signals(shared, MAX_PIXELS):
        near = _nearest(usable, stored.value)
        if near is not None and near[0] <= distance:
            found.append((stored.variant, near[1], near[0]))
    return tuple(sorted(found, key=lambda f: f[2]))


def compare_bytes(
    shared: bytes, upload: bytes, policy: Policy | None = None, *, stored: bool = False
) -> Comparison:
    """Match `upload` against a table holding only `shared`'s own hashes (and, with `stored`,
    say which of `shared`'s storable variants it reaches)."""
    rules = policy or Policy()
    a = examine_bytes(shared, MAX_PIXELS)
    b = examine_bytes(upload, MAX_PIXELS)
    own = [s for s in a.signals if s.variant == ORIGINAL]
    records = {(s.type, s.value): HashRecord(s.type, s.value, source="compare A") for s in own}
    indexes = {t.name: t.new_index() for t in indexed_types()}
    for name, index in indexes.items():
        if index is not None:
            index.add(s.value for s in own if s.type == name and usable(s))

    def lookup(keys):
        return {k: records[k] for k in keys if k in records}

    distances = match_distances(rules)
    matches = tuple(find_matches(b.signals, lookup, indexes.get, distances))
    verdict = decide(rules, b, matches, distances=distances)
    shared_pdq = a.signal(PDQ.name)
    nearest = None
    if shared_pdq is not None:
        # The complements too (an inverted copy's), as the matcher looks them up.
        pdq_signals = [s for s in with_complements(b.signals) if s.type == PDQ.name]
        near = _nearest(pdq_signals, shared_pdq.value)
        if near is not None:
            nearest = (near[1], near[0])
    reached = stored_reached(shared, b, distances[PDQ.name]) if stored else None
    return Comparison(a, b, matches, verdict, nearest, reached)


def render(result: Comparison) -> str:
    lines = []
    if result.matched:
        lines.append(f"MATCH: B would get {result.verdict.action.value}")
        for match in result.matches:
            lines.append(
                f"  {match.signal_type} through variant {match.variant!r} "
                f"({variants.describe(match.variant)}) at distance {match.distance}"
            )
    else:
        lines.append("NO MATCH: B would not match a shared hash made from A")
    if result.nearest:
        variant, distance = result.nearest
        lines.append(
            f"  nearest PDQ: variant {variant!r} at {distance} of 256 bits "
            f"(threshold {PDQ.max_distance})"
        )
    if result.stored is not None:
        if result.stored:
            lines.append("  A's storable variants B reaches (not shared today; verdict unchanged):")
            for stored, via, bits in result.stored:
                lines.append(
                    f"    {stored} ({variants.describe(stored)}) through {via!r} at {bits} bits"
                )
        else:
            lines.append("  B reaches none of A's storable variants")
    for problem in result.shared.problems + result.upload.problems:
        lines.append(f"  problem: {problem}")
    lines.append("reasons:")
    lines.extend(f"  - {reason}" for reason in result.verdict.reasons)
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    try:
        shared, upload = Path(args.a).read_bytes(), Path(args.b).read_bytes()
    except OSError as error:
        print(f"cannot read: {error}")
        return 2
    result = compare_bytes(shared, upload, stored=args.stored)
    print(json.dumps(result.to_dict()) if args.json else render(result))
    return 0 if result.matched else 1


def register(subparsers: Any) -> None:
    """Add `compare` to an argparse subparsers object."""
    parser = subparsers.add_parser(
        "compare",
        help="would image B match a shared hash made from image A? through what, how far?",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("a", help="the image whose hashes are shared (the known one)")
    parser.add_argument("b", help="the image uploaded")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--stored",
        action="store_true",
        help=(
            "also say which of A's storable variants (centre crops, masked copies, "
            "anchored windows) B reaches"
        ),
    )
    parser.set_defaults(func=run)
