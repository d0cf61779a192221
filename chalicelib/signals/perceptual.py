"""Perceptual hashes of images: PDQ (Meta's, 256 bits) and pHash (imagehash, 64 bits)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import imagehash
import numpy as np

from chalicelib import pdq
from chalicelib.models import Action, Signal
from chalicelib.signals.base import ImageHasher

if TYPE_CHECKING:
    from chalicelib.signals.media import DecodedImage


class PDQ(ImageHasher):
    """Meta's PDQ: near matches through the Hamming index, a match taken down by default."""

    name = "pdq"
    bits = pdq.PDQ_BITS
    max_distance = pdq.DEFAULT_MATCH_DISTANCE
    policy_distance = "pdq_distance"
    default_action = Action.TAKEDOWN
    policy_action = "pdq_action"

    @classmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        width, height = decoded.full_size
        value, quality = pdq.pdq_from_rgb(np.asarray(decoded.image), full_shape=(height, width))
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


class PHash(ImageHasher):
    """DCT hash from imagehash. Matched on equal values only (64 bits leave little margin), so
    through exact lookups, no index; a match goes to a reviewer by default."""

    name = "phash"
    bits = 64
    max_distance = 0
    indexed = False
    default_action = Action.REVIEW
    policy_action = "phash_action"

    @classmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        return Signal(cls.name, str(imagehash.phash(decoded.image)))

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["d1d1b9c7c6c68a8e", "ffffffffffffffff"]
