"""Perceptual hashes of images: PDQ (Meta's, 256 bits) and pHash (imagehash, 64 bits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import imagehash
import numpy as np

from chalicelib import pdq
from chalicelib.models import Action, Signal
from chalicelib.signals.base import ImageHasher
from chalicelib.signals.media import decode_image, sniff

if TYPE_CHECKING:
    from collections.abc import Callable

    from chalicelib.signals.media import DecodedImage


class PDQ(ImageHasher):
    """Meta's PDQ: near matches through the Hamming index, a match taken down by default."""

    name = "pdq"
    bits = pdq.PDQ_BITS
    max_distance = pdq.DEFAULT_MATCH_DISTANCE
    policy_distance = "pdq_distance"
    default_action = Action.TAKEDOWN
    policy_action = "pdq_action"
    # Inverting negates every DCT coefficient and so the median: every bit flips (the exact
    # complement for 23 photographs and 30 posters as PNG; within 6 bits as JPEG).
    inverts = True

    @classmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        width, height = decoded.full_size
        value, quality = pdq.pdq_from_rgb(
            np.asarray(decoded.image),
            full_shape=(height, width),
            exact_pixels=_exact_pixels(decoded),
        )
        return Signal(cls.name, value, quality=quality)

    @classmethod
    def usable(cls, signal: Signal) -> bool:
        # PDQ's authors: hashes of quality below 50 are too flat to match on.
        return (signal.quality or 0) >= pdq.MIN_QUALITY

    @classmethod
    def get_examples(cls) -> list[str]:
        return [
            "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22",
            "0" * 64,
        ]


# A full-size decode for PDQ's exact path (`_exact_pixels`) is skipped above this many pixels:
# it holds about 15 bytes a pixel at once, within the function's memory up to here.
EXACT_MAX_PIXELS = 16_000_000


def _exact_pixels(decoded: DecodedImage) -> Callable[[], np.ndarray] | None:
    """How to get the pixels the reference would hash, when `decoded` only approximates them.

    A JPEG is decoded at reduced scale, or straight to its luma plane, which differs from
    the luma of the RGB pixels where colours clip; PDQ decodes it whole only when that
    matters (`chalicelib.pdq.pdq_from_rgb`). None when the pixels are the file's own.
    """
    width, height = decoded.full_size
    reduced = decoded.image.size != decoded.full_size
    jpeg_luma = decoded.image.mode == "L" and sniff(decoded.source[:16]) == "image/jpeg"
    if not (reduced or jpeg_luma) or not decoded.source or width * height > EXACT_MAX_PIXELS:
        return None
    source = decoded.source
    return lambda: np.asarray(decode_image(source, width * height, reduce=False).image)


class PHash(ImageHasher):
    """DCT hash from imagehash: it only confirms a match of another type.

    Matched on equal values (through exact lookups, no index), and even those are shared by
    unrelated flat pictures: every blank canvas hashes to one value, striped flags of other
    colours to another. Edited photographs land 0-4 bits away when resized or re-encoded
    (PDQ matches those too) and up to 22 when cropped 5 %, where unrelated text screenshots
    come within 8 and unrelated photographs within 16 (`bench/robustness.py`): no distance
    separates them, so a pHash match alone decides nothing.
    """

    name = "phash"
    bits = 64
    max_distance = 0
    indexed = False
    confirms_only = True
    default_action = Action.REVIEW
    policy_action = "phash_action"

    @classmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        return Signal(cls.name, str(imagehash.phash(decoded.image)))

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["d1d1b9c7c6c68a8e", "ffffffffffffffff"]
