"""The interface every signal type implements.

A signal type is one small class that owns its rules. How it is computed: exact types hash the
bytes as they stream past (`BytesHasher`), perceptual types hash a decoded image
(`ImageHasher`). How it is compared: on equal values (`MatchesExact`) or within a Hamming
distance (`MatchesHamming`, which declares its default distance and its index). Which values are
good enough to match or share (`usable`), what a match calls for unless the tenant's policy
says otherwise (`default_action`, `policy_action`), and whether it may act alone
(`confirms_only`). Adding a type (vPDQ, TLSH) means writing
one class and registering it in `chalicelib.signals` (`register`); matching, the policy, the
hash table's indexes and the retro-scan read these declarations and name no type.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar, Protocol

from chalicelib.index import HammingIndex
from chalicelib.models import Action
from chalicelib.pdq import hamming_hex

if TYPE_CHECKING:
    from chalicelib.models import Signal
    from chalicelib.signals.media import DecodedImage


class SignalType(ABC):
    """A kind of hash: its name in the hash table, and how its values compare."""

    name: ClassVar[str]
    bits: ClassVar[int] = 0
    # Exact types match on equal values only; perceptual ones within a Hamming distance.
    exact: ClassVar[bool] = True
    # What a match calls for when the tenant's policy does not say: declared by every type
    # (`register` refuses one that does not), so a new type inherits no other's.
    default_action: ClassVar[Action]
    # The `Policy` field through which a tenant sets this type's action, if there is one.
    policy_action: ClassVar[str | None] = None
    # Whether near matches go through an index of the shared values (`new_index`); without
    # one, values are found by exact lookups in the hash table, at distance 0 only.
    indexed: ClassVar[bool] = False
    # A type whose values unrelated content shares too often to act on alone (pHash: every
    # blank canvas has one value) only confirms: its match is reported beside a match of
    # another type, and calls for no more than that match does.
    confirms_only: ClassVar[bool] = False

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

    @classmethod
    def usable(cls, signal: Signal) -> bool:
        """Whether this signal is good enough to match on, or to share once confirmed."""
        return True

    @classmethod
    def new_index(cls) -> HammingIndex | None:
        """An empty index for near lookups of this type's shared values (None if not
        `indexed`)."""
        return None


class MatchesExact(SignalType):
    """Values match when they are equal."""

    exact = True


class MatchesHamming(SignalType):
    """Values match within a Hamming distance: `max_distance` unless the deployment
    (`CORDON_<TYPE>_DISTANCE`) or the tenant's policy (`policy_distance`) sets another."""

    exact = False
    max_distance: ClassVar[int]
    # The `Policy` field through which a tenant sets this type's distance, if there is one.
    policy_distance: ClassVar[str | None] = None
    # Near matches need the index; a type matched on equal values only (distance 0) is found
    # by exact lookups and sets this to False.
    indexed = True
    # Whether an inverted copy of an image (colours negated) gets the bitwise complement of
    # the image's value, so that matching looks each value's complement up too (`complement`).
    inverts: ClassVar[bool] = False

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        return hamming_hex(a, b)

    @classmethod
    def complement(cls, value: str) -> str:
        """`value` with every bit flipped (same width, lowercase hex)."""
        return f"{int(value, 16) ^ ((1 << cls.bits) - 1):0{cls.bits // 4}x}"

    @classmethod
    def new_index(cls) -> HammingIndex | None:
        return HammingIndex(cls.bits) if cls.indexed else None


class _StreamingHash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


class BytesHasher(MatchesExact):
    """A cryptographic hash of the object's bytes, computed chunk by chunk: the same bytes,
    the same value, so a match is the shared file itself."""

    algorithm: ClassVar[str]
    default_action = Action.TAKEDOWN
    policy_action = "exact_action"

    @classmethod
    def new(cls) -> _StreamingHash:
        return hashlib.new(cls.algorithm)


class ImageHasher(MatchesHamming):
    """A perceptual hash of a decoded image."""

    @classmethod
    @abstractmethod
    def hash_image(cls, decoded: DecodedImage) -> Signal:
        """Hash a decoded image (upright: EXIF orientation already applied)."""
