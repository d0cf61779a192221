"""Signals of an object: exact hashes of its bytes, perceptual hashes of its image.

One door: `examine_bytes` for objects under the size cap, `examine_stream` for larger ones
(exact hashes only, never held in memory). Neither raises on bad input: what could not be
read is listed in `Examination.problems`, what is merely worth knowing in `notes`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from chalicelib import variants
from chalicelib.models import Examination, Signal
from chalicelib.signals.base import BytesHasher, ImageHasher, SignalType
from chalicelib.signals.exact import MD5, SHA256
from chalicelib.signals.media import IMAGE_TYPES, ImageRejected, decode_image, sniff
from chalicelib.signals.perceptual import PDQ, PHash

if TYPE_CHECKING:
    from chalicelib.signals.media import DecodedImage

BYTES_HASHERS: tuple[type[BytesHasher], ...] = (SHA256, MD5)
IMAGE_HASHERS: tuple[type[ImageHasher], ...] = (PDQ, PHash)
SIGNAL_TYPES: dict[str, type[SignalType]] = {t.name: t for t in (*BYTES_HASHERS, *IMAGE_HASHERS)}

__all__ = [
    "BYTES_HASHERS",
    "IMAGE_HASHERS",
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
        if len(head) < 16:
            head += chunk[:16]
        for _, hasher in hashers:
            hasher.update(chunk)
    signals = tuple(Signal(t.name, h.hexdigest()) for t, h in hashers)
    return Examination(media_type=sniff(head), size=size, signals=signals, problems=(reason,))


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
    if not data or sniff(data[:16]) not in IMAGE_TYPES:
        return []
    try:
        decoded = decode_image(data, max_pixels)
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
    media_type = sniff(data[:16])
    problems: list[str] = []
    notes: list[str] = []
    if not data:
        notes.append("empty object: nothing to hash but its (empty) bytes")
    elif media_type in IMAGE_TYPES:
        try:
            decoded = decode_image(data, max_pixels)
        except ImageRejected as rejected:
            problems.append(f"{rejected}; perceptual hashes skipped")
        else:
            signals.extend(t.hash_image(decoded) for t in IMAGE_HASHERS)
            signals.extend(variant_signals(decoded, notes))
            if decoded.frames > 1:
                notes.append(f"animated image: first of {decoded.frames} frames hashed")
    else:
        notes.append(f"{media_type} is not an image Cordon hashes: exact hashes only")
    image_bytes = data if media_type in IMAGE_TYPES and data else None
    return Examination(
        media_type, len(data), tuple(signals), tuple(problems), tuple(notes), image_bytes
    )
