"""An in-memory Hamming-distance index over fixed-length hex hashes (PDQ's 256 bits).

Exact range search: every stored hash within the distance is returned (100 % recall). Codes are
kept as rows of uint64 words and compared with numpy's popcount, so one query is a single
vectorised pass. Pure: no I/O; the hash table adapter builds and refreshes it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def hex_to_words(values: Iterable[str], bits: int) -> np.ndarray:
    """Pack hex strings into an (n, bits/64) array of big-endian uint64 words."""
    raw = b"".join(bytes.fromhex(v) for v in values)
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, bits // 64)


class HammingIndex:
    """Hashes plus whatever the caller wants back for each (its value, here)."""

    def __init__(self, bits: int = 256) -> None:
        if bits % 64:
            raise ValueError("bits must be a multiple of 64")
        self.bits = bits
        self._values: list[str] = []
        self._words = np.zeros((0, bits // 64), dtype=np.uint64)
        self._pending: list[str] = []

    def __len__(self) -> int:
        return len(self._values) + len(self._pending)

    def add(self, values: Iterable[str]) -> None:
        """Queue hashes; they are packed on the next query, so bulk loads pack once."""
        self._pending.extend(v.lower() for v in values)

    def _pack(self) -> None:
        if self._pending:
            fresh = hex_to_words(self._pending, self.bits)
            self._words = np.concatenate([self._words, fresh])
            self._values.extend(self._pending)
            self._pending = []

    def query(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        """Every stored hash within `max_distance` bits of `value`, nearest first."""
        self._pack()
        if not self._values:
            return []
        probe = hex_to_words([value], self.bits)
        distances = np.bitwise_count(self._words ^ probe).sum(axis=1)
        hits = np.flatnonzero(distances <= max_distance)
        order = hits[np.argsort(distances[hits], kind="stable")]
        return [(self._values[i], int(distances[i])) for i in order]
