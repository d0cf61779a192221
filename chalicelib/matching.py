"""Signals against the shared hash table: exact lookups, and near lookups through the index
of each signal type that declares one (PDQ's).

Pure: the table is reached through the callables the caller passes, so this runs the same
against DynamoDB, a fake, or a list in a test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace

from chalicelib.index import HammingIndex
from chalicelib.models import ACTIVE, RETIRED, REVIEW_ONLY_STATUSES, HashRecord, Match, Signal
from chalicelib.signals import SIGNAL_TYPES, indexed_types, usable
from chalicelib.signals.base import MatchesHamming
from chalicelib.variants import INVERTED, ORIGINAL, compose

Key = tuple[str, str]
MATCHING_STATUSES = frozenset({ACTIVE, *REVIEW_ONLY_STATUSES})  # not retired, nor unknown
ExactLookup = Callable[[Sequence[Key]], Mapping[Key, HashRecord]]
# The index of one signal type's shared values, or None (that type is looked up exactly).
IndexOf = Callable[[str], HammingIndex | None]


def usable_signals(signals: Iterable[Signal]) -> list[Signal]:
    """Signals good enough, by their type's rule, to match on (PDQ of quality < 50 is not)."""
    return [signal for signal in signals if usable(signal)]


def complements(signal_type: str, values: Iterable[str]) -> list[str]:
    """The complements of `values` if an inverted copy's value of this type is the
    complement of its original's (`MatchesHamming.inverts`: PDQ), else none."""
    kind = SIGNAL_TYPES[signal_type]
    if not (issubclass(kind, MatchesHamming) and kind.inverts):
        return []
    return [kind.complement(value) for value in values]


def with_complements(signals: Iterable[Signal]) -> list[Signal]:
    """`signals`, then the complement of each whose type says an inverted copy hashes to it
    (`MatchesHamming.inverts`: PDQ), as the variant ``inverted`` (``inverted+mirror`` for
    the mirror variant's...): an inverted upload's hash lies as near its original's
    complement as a plain copy's does to the original.

    A query for the shared hashes within d of an inverted copy is a query of the complement,
    so the complements join the same `query_many` batch."""
    signals = list(signals)
    extra = [
        Signal(
            signal.type, value, quality=signal.quality, variant=compose(INVERTED, signal.variant)
        )
        for signal in signals
        for value in complements(signal.type, [signal.value])
    ]
    return signals + extra


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
    index_of: IndexOf,
    distances: Mapping[str, int],
    visible: Callable[[HashRecord], bool] | None = None,
) -> list[Match]:
    """Every shared hash that one of `signals` matches, strongest (exact, nearest) first.

    A type with an index (`index_of`) is matched through it within its distance in
    `distances` (`policy.match_distances`); any other, or one whose index is None, by exact
    lookup. Only hashes `visible` admits count (those shared with the tenant asking); retired
    ones (or of a status unknown here) never do; disputed and held ones do, with their status
    (policy caps them at REVIEW). A variant stored with an image goes by the image's status
    (`follow_image`). The complements of the signals of types an inversion complements are
    looked up too (`with_complements`): a match through one is the ``inverted`` variant. A type
    that only confirms (`confirms_only`: pHash) is reported only beside a match of another
    type."""
    by_type: dict[str, list[Signal]] = {}
    for signal in with_complements(usable_signals(signals)):
        by_type.setdefault(signal.type, []).append(signal)
    wanted: dict[Key, Signal] = {}
    near: dict[Key, tuple[Signal, int]] = {}
    # Every index is asked for, signals of its type or not, as PDQ's always was: a container
    # keeps each fresh (and loads its snapshot) on its first upload, whatever that holds.
    indexes = {t.name: index_of(t.name) for t in indexed_types()}
    for signal_type, group in by_type.items():
        index = indexes.get(signal_type)
        if index is None:
            wanted.update({(s.type, s.value): s for s in group})
            continue
        # Indexed values are found through the index (distance 0 included), the image's own
        # and its variants' in one pass (cheaper than one query each), which keeps the exact
        # batch small when variants multiply them.
        found = index.query_many([s.value for s in group], distances[signal_type])
        for signal, hits in zip(group, found, strict=True):
            for value, distance in hits:
                key = (signal_type, value)
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
    # A type that only confirms (pHash) is no match on its own.
    if all(SIGNAL_TYPES[m.signal_type].confirms_only for m in matches):
        return []
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
