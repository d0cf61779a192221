"""The interface every signal type implements.

A signal type is one small class. Exact types hash the bytes as they stream past
(`BytesHasher`); perceptual types hash a decoded image (`ImageHasher`). Adding a type (vPDQ,
TLSH) means writing one class and listing it in `chalicelib.signals.SIGNAL_TYPES`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Protocol

if TYPE_CHECKING:
    from chalicelib.models import Signal
    from chalicelib.signals.media import DecodedImage


class SignalType(ABC):
    """A kind of hash: its name in the hash table, and how its values compare."""

    name: ClassVar[str]
    # Exact types match on equal values only; perceptual ones within a Hamming distance.
    exact: ClassVar[bool] = True
    bits: ClassVar[int] = 0

    @classmethod
    def validate(cls, value: str) -> str:
        """The canonical (lowercase hex) form of `value`, or ValueError."""
        text = value.strip().lower()
        if len(text) != cls.bits // 4 or any(c not in "0123456789abcdef" for c in text):
            raise ValueError(f"{cls.name} values are {cls.bits // 4} hex digits, got {value!r}")
        return text

    @classmethod
    @abstractmethod
    def get_examples(cls) -> list[str]:
        """Valid values, for tests and documentation."""


class _StreamingHash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class BytesHasher(SignalType):
    """A cryptographic hash of the object's bytes, computed chunk by chunk."""

    algorithm: ClassVar[str]

    @classmethod
    def new(cls) -> _StreamingHash:
        return hashlib.new(cls.algorithm)


class ImageHasher(SignalType):
    """A perceptual hash of a decoded image."""

    exact = False
    # Distances at or below this are matches unless a tenant's policy says otherwise.
    default_distance: ClassVar[int] = 0

    @classmethod
    @abstractmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        """Hash a decoded image (upright: EXIF orientation already applied)."""

    @classmethod
    def usable(cls, signal: Signal) -> bool:
        """Whether this signal is good enough to match on."""
        return True
