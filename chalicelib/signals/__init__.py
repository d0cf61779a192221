"""Signals of an object: exact hashes of its bytes, perceptual hashes of its image.

One door: `examine_bytes` for objects under the size cap, `examine_stream` for larger ones
(exact hashes only, never held in memory). Neither raises on bad input: what could not be
read is listed in `Examination.problems`, what is merely worth knowing in `notes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import variants
from chalicelib.models import Examination, Signal
from chalicelib.signals.base import (
    BytesHasher,
    ImageHasher,
    MatchesExact,
    MatchesHamming,
    SignalType,
)
from chalicelib.signals.exact import MD5, SHA256
from chalicelib.signals.media import (
    IMAGE_TYPES,
    SNIFF_BYTES,
    DecodedImage,
    ImageRejected,
    decode_image,
    sniff,
)
from chalicelib.signals.perceptual import PDQ, PHash

# Every known type by name, in registration order (the order signals are computed and listed).
SIGNAL_TYPES: dict[str, type[SignalType]] = {}
T = TypeVar("T", bound=type[SignalType])

__all__ = [
    "IMAGE_TYPES",
    "PDQ",
    "SIGNAL_TYPES",
    "bytes_hashers",
    "examine_bytes",
    "examine_stream",
    "hamming_types",
    "image_hashers",
    "indexed_types",
    "register",
    "shared_variant_signals",
    "sniff",
    "usable",
]


def register(signal_type: T) -> T:
    """Make a signal type known: computed by `examine_*`, matched, judged, stored and
    indexed by what it declares. Refuses one whose declarations are incomplete."""
    missing = [
        attribute
        for attribute in ("name", "bits", "default_action")
        if not getattr(signal_type, attribute, None)
    ]
    if issubclass(signal_type, MatchesHamming) and not hasattr(signal_type, "max_distance"):
        missing.append("max_distance")
    if missing:
        raise TypeError(f"{signal_type.__name__} declares no {', '.join(missing)}")
    if not issubclass(signal_type, MatchesExact | MatchesHamming):
        raise TypeError(f"{signal_type.__name__} says neither how it compares: exact or Hamming")
    # Without an index only equal values are found: a wider distance would be a lie.
    hamming = issubclass(signal_type, MatchesHamming)
    if hamming and not signal_type.indexed and signal_type.max_distance != 0:
        raise TypeError(f"{signal_type.__name__} matches beyond 0 bits without an index")
    if signal_type.name in SIGNAL_TYPES and SIGNAL_TYPES[signal_type.name] is not signal_type:
        raise ValueError(f"a signal type named {signal_type.name!r} is registered already")
    SIGNAL_TYPES[signal_type.name] = signal_type
    return signal_type


for _builtin in (SHA256, MD5, PDQ, PHash):
    register(_builtin)


def bytes_hashers() -> list[type[BytesHasher]]:
    return [t for t in SIGNAL_TYPES.values() if issubclass(t, BytesHasher)]


def image_hashers() -> list[type[ImageHasher]]:
    return [t for t in SIGNAL_TYPES.values() if issubclass(t, ImageHasher)]


def hamming_types() -> list[type[MatchesHamming]]:
    return [t for t in SIGNAL_TYPES.values() if issubclass(t, MatchesHamming)]


def indexed_types() -> list[type[SignalType]]:
    """The types matched through an index of their own (near matches), not exact lookups."""
    return [t for t in SIGNAL_TYPES.values() if t.indexed]


def usable(signal: Signal) -> bool:
    """Whether a signal is of a known type and good enough, by its type's rule, to match on
    or to share (PDQ of quality < 50 is not)."""
    signal_type = SIGNAL_TYPES.get(signal.type)
    return signal_type is not None and signal_type.usable(signal)


def examine_stream(chunks: Iterable[bytes], size: int, reason: str) -> Examination:
    """Exact hashes of an object too large to read into memory."""
    hashers = [(t, t.new()) for t in bytes_hashers()]
    head = b""
    for chunk in chunks:
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        for _, hasher in hashers:
            hasher.update(chunk)
    signals = tuple(Signal(t.name, h.hexdigest()) for t, h in hashers)
    count_unscannable()
    return Examination(media_type=sniff(head), size=size, signals=signals, problems=(reason,))


def count_unscannable() -> None:
    """One object not fully scanned, as the ingest batch's `ObjectsUnscannable` metric.

    Powertools' Metrics instances share one metric set, so the ingest handler's flush at the
    end of the batch publishes it with the batch's other metrics (a retry served from the
    idempotency record does not examine, and is not counted again).
    """
    Metrics(namespace="Cordon", service="ingest").add_metric(
        name="ObjectsUnscannable", unit=MetricUnit.Count, value=1
    )


def variant_signals(decoded: DecodedImage, notes: list[str]) -> list[Signal]:
    """PDQ hashes of an image's match variants (mirrored, trimmed, tiles...), after its own.

    A failure here costs the variants only: the image's own signals still stand (the scan is
    complete), and a note says what was skipped.
    """
    try:
        return variants.variant_signals(decoded.image, decoded.full_size)
    except (ValueError, MemoryError) as error:
        notes.append(f"match variants skipped: {error}")
        return []


def shared_variant_signals(data: bytes, max_pixels: int) -> list[Signal]:
    """The extra PDQ hashes to store when an image's hashes are shared (`variants.
    shared_variants`: centre crops, masked copies, anchored windows), decoded exactly as
    `examine_bytes` decodes.

    Empty for anything that is not an image, or that cannot be decoded: the image's own
    signals are shared regardless, and these only widen what its copies can match.
    """
    media_type = sniff(data[:SNIFF_BYTES])
    if not data or media_type not in IMAGE_TYPES:
        return []
    try:
        decoded = decode_image(data, max_pixels, media_type)
        return variants.shared_variants(decoded.image, decoded.full_size)
    except (ImageRejected, ValueError, MemoryError):
        return []


def examine_bytes(data: bytes, max_pixels: int) -> Examination:
    """Every signal of an object's bytes; images get perceptual hashes as well.

    The image's own signals come first (variant "original"); the PDQ hashes of its match
    variants (`chalicelib.variants`) follow, each naming its variant.
    """
    signals: list[Signal] = []
    for hasher_type in bytes_hashers():
        hasher = hasher_type.new()
        hasher.update(data)
        signals.append(Signal(hasher_type.name, hasher.hexdigest()))
    media_type = sniff(data[:SNIFF_BYTES])
    problems: list[str] = []
    notes: list[str] = []
    if not data:
        notes.append("empty object: nothing to hash but its (empty) bytes")
    elif media_type in IMAGE_TYPES:
        try:
            decoded = decode_image(data, max_pixels, media_type)
        except ImageRejected as rejected:
            problems.append(f"{media_type}: {rejected}; perceptual hashes skipped")
        else:
            signals.extend(t.hash_image(decoded) for t in image_hashers())
            signals.extend(variant_signals(decoded, notes))
            # Every page of a TIFF, every image of an ICO is a picture the file shows: each is
            # matched as the image itself (variant "original"), after the one a browser shows.
            seen = {(s.type, s.value) for s in signals}
            # So is a transparent image as stored without its alpha, beside it over white.
            unmatted = (decoded.unmatted,) if decoded.unmatted else ()
            for extra in (*unmatted, *decoded.extra):
                found = [t.hash_image(extra) for t in image_hashers()]
                signals.extend(s for s in found if (s.type, s.value) not in seen)
                seen.update((s.type, s.value) for s in found)
            if decoded.extra:
                notes.append(f"{len(decoded.extra) + 1} images in one file: each hashed")
            if decoded.frames > 1 and not decoded.extra:
                notes.append(f"animated image: first of {decoded.frames} frames hashed")
            notes.extend(decoded.notes)
            problems.extend(decoded.problems)
    else:
        notes.append(f"{media_type} is not an image Cordon hashes: exact hashes only")
    image_bytes = data if media_type in IMAGE_TYPES and data else None
    if problems:
        count_unscannable()
    return Examination(
        media_type, len(data), tuple(signals), tuple(problems), tuple(notes), image_bytes
    )
