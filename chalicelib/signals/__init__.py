"""Signals of an object: exact hashes of its bytes, perceptual hashes of its image.

One door: `examine_bytes` for objects under the size cap, `examine_stream` for larger ones
(exact hashes only, never held in memory). Neither raises on bad input: what could not be
read is listed in `Examination.problems`, what is merely worth knowing in `notes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import variants
from chalicelib.models import Examination, Signal
from chalicelib.signals.base import BytesHasher, ImageHasher, SignalType
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

BYTES_HASHERS: tuple[type[BytesHasher], ...] = (SHA256, MD5)
IMAGE_HASHERS: tuple[type[ImageHasher], ...] = (PDQ, PHash)
SIGNAL_TYPES: dict[str, type[SignalType]] = {t.name: t for t in (*BYTES_HASHERS, *IMAGE_HASHERS)}

__all__ = [
    "BYTES_HASHERS",
    "IMAGE_HASHERS",
    "IMAGE_TYPES",
    "PDQ",
    "SIGNAL_TYPES",
    "examine_bytes",
    "examine_stream",
    "shared_variant_signals",
    "sniff",
]


def examine_stream(chunks: Iterable[bytes], size: int, reason: str) -> Examination:
    """Exact hashes of an object too large to read into memory."""
    hashers = [(t, t.new()) for t in BYTES_HASHERS]
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
    for hasher_type in BYTES_HASHERS:
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
            signals.extend(t.hash_image(decoded) for t in IMAGE_HASHERS)
            signals.extend(variant_signals(decoded, notes))
            # Every page of a TIFF, every image of an ICO is a picture the file shows: each is
            # matched as the image itself (variant "original"), after the one a browser shows.
            seen = {(s.type, s.value) for s in signals}
            for extra in decoded.extra:
                found = [t.hash_image(extra) for t in IMAGE_HASHERS]
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
