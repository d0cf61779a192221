"""Signals against the shared hash table: exact lookups and PDQ near lookups.

Pure: the table is reached through the two callables the caller passes, so this runs the same
against DynamoDB, a fake, or a list in a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from chalicelib.index import HammingIndex
from chalicelib.models import ACTIVE, RETIRED, REVIEW_ONLY_STATUSES, HashRecord, Match, Signal
from chalicelib.signals import PDQ, SIGNAL_TYPES
from chalicelib.variants import ORIGINAL

Key = tuple[str, str]
MATCHING_STATUSES = frozenset({ACTIVE, *REVIEW_ONLY_STATUSES})  # not retired, nor unknown
ExactLookup = Callable[[Sequence[Key]], Mapping[Key, HashRecord]]


def usable_signals(signals: Iterable[Signal]) -> list[Signal]:
    """Signals good enough to match on (PDQ of quality < 50 is not)."""
    usable = []
    for signal in signals:
        signal_type = SIGNAL_TYPES[signal.type]
        if signal_type.exact or signal_type.usable(signal):  # type: ignore[attr-defined]
            usable.append(signal)
    return usable


def follow_image(
    records: Mapping[Key, HashRecord], exact_lookup: ExactLookup
) -> dict[Key, HashRecord]:
    """`records` with each stored variant (a crop or masked copy stored beside a confirmed
    image's own hash) in its image's status when that is stronger: retired, disputed or held
    with the image. One more lookup, for the images not among `records`, and only when a
    variant is; a variant whose image is gone stands alone."""
    wanted = [r.image_key for r in records.values() if r.variant_of and r.image_key not in records]
    images = {**records, **(exact_lookup(wanted) if wanted else {})}
    followed = dict(records)
    for key, record in records.items():
        image = images.get(record.image_key) if record.variant_of else None
        if image is None or record.status != ACTIVE:
            continue
        if image.status == RETIRED or image.status in REVIEW_ONLY_STATUSES:
            followed[key] = replace(record, status=image.status)
    return followed


def find_matches(
    signals: Iterable[Signal],
    exact_lookup: ExactLookup,
    pdq_index: HammingIndex | None,
    pdq_distance: int,
    visible: Callable[[HashRecord], bool] | None = None,
) -> list[Match]:
    """Every shared hash that one of `signals` matches, strongest (exact, nearest) first.

    Only hashes `visible` admits count (those shared with the tenant asking); retired ones
    (or of a status unknown here) never do; disputed and held ones do, with their status
    (policy caps them at REVIEW). A variant stored with an image goes by the image's status
    (`follow_image`)."""
    candidates = usable_signals(signals)
    # PDQ values are found through the index (distance 0 included); only the other types
    # need a lookup of their own, which keeps the batch small when variants multiply PDQs.
    wanted: dict[Key, Signal] = {
        (s.type, s.value): s for s in candidates if pdq_index is None or s.type != PDQ.name
    }
    near: dict[Key, tuple[Signal, int]] = {}
    if pdq_index is not None:
        # The image's PDQ and its variants' in one index pass (cheaper than one query each).
        pdqs = [s for s in candidates if s.type == PDQ.name]
        found = pdq_index.query_many([s.value for s in pdqs], pdq_distance)
        for signal, hits in zip(pdqs, found, strict=True):
            for value, distance in hits:
                key = (PDQ.name, value)
                # Several variants may reach one shared hash: report the image's own
                # signal if it does (a variant can land nearer, e.g. a halved copy hashed
                # as a reduction, but the match is the image's), else the nearest.
                rank = (signal.variant != ORIGINAL, distance)
                if key not in near or rank < (near[key][0].variant != ORIGINAL, near[key][1]):
                    near[key] = (signal, distance)
    records = follow_image(exact_lookup(list({*wanted, *near})), exact_lookup)
    matches: list[Match] = []
    for key, record in records.items():
        if record.status not in MATCHING_STATUSES or (visible is not None and not visible(record)):
            continue
        signal, distance = near.get(key) or (wanted[key], 0)
        matches.append(
            Match(
                signal_type=key[0],
                value=signal.value,
                matched_value=key[1],
                distance=distance,
                labels=record.labels,
                source=record.source,
                variant=signal.variant,
                status=record.status,
                stored_variant=record.variant,
                variant_of=record.variant_of,
            )
        )
    # Exact types first, then matches of the image as uploaded with the shared image itself,
    # nearest first.
    return sorted(
        matches,
        key=lambda m: (
            not SIGNAL_TYPES[m.signal_type].exact,
            m.variant != ORIGINAL or m.stored_variant != ORIGINAL,
            m.distance,
        ),
    )
