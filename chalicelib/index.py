"""An in-memory Hamming-distance index over fixed-length hex hashes (PDQ's 256 bits).

Exact range search: every stored hash within the distance is returned (100 % recall), nearest
first, ties in the order the hashes were added; a hash added twice is returned twice. Pure: no
I/O besides bytes; the hash table adapter builds and refreshes it, and a snapshot made by
`to_bytes` can be stored anywhere and brought back by `HammingIndex.from_bytes`.

Multi-index hashing (Norouzi, Punjani and Fleet, "Fast search in Hamming space with multi-index
hashing", CVPR 2012), laid out in numpy arrays:

Chunks. A code is cut, from its top bit down, into consecutive disjoint chunks (a chunk may
straddle two 64-bit words; bits past the last chunk, if any, are in none). Two layouts for a
256-bit code: 16 chunks of 16 bits, or 8 chunks of 22 bits followed by 4 of 20. Which one is
used depends on how many codes there are (below).

Recall. Let m be the number of chunks and r = a * m + b with 0 <= b < m. If a stored code is
within r of the query, then one of some b + 1 chosen chunks differs from the query's in at most
a bits, or one of the other m - b - 1 differs in at most a - 1 bits. Otherwise the chosen chunks
would contribute at least (b + 1)(a + 1) and the others at least (m - b - 1) a, in all
a * m + b + 1 = r + 1 > r. Bits outside every chunk only add to the full distance, so the
argument holds for the chunked part, whose distance is at most the full one. A query therefore
looks up, in each chunk's table, every key within that chunk's radius of its own chunk (a for
the b + 1 widest chunks, a - 1 for the others, none if that is negative), collects the codes
listed there and keeps those whose exact distance (popcount of the XOR of 64-bit words) is at
most r. Nothing within r can be missed, whatever the data: no assumption on how codes spread.
`query_many` does this for several probes in one pass: their lookups, candidates and distances
go through the same numpy calls, each candidate tagged with its probe, which saves the fixed
cost of those calls (not the memory reads, which are most of a query at 10M) once per probe.

For PDQ's r = 31 (a = 1 or 2): 16 chunks of 16 bits give radius 1 in every chunk (16 x 17 = 272
lookups, buckets of n / 65,536 codes on average over random codes, n / 241 candidates to
verify). 12 chunks give radius 2 in 8 of them and 1 in 4: as 12 x 21 bits that would be
8 x 232 + 4 x 22 = 1,944 lookups and n / 1,079 candidates; giving the 8 radius-2 chunks 22 bits
and the other 4 20 bits makes it 8 x 254 + 4 x 21 = 2,116 lookups and n / 1,771 candidates
(5,600 at 10M, each a random read of 32 bytes, which is what a query costs). The wide layout is
used from `WIDE_LAYOUT_MIN` codes on, the 16-bit one below, plain brute force below
`BRUTE_FORCE_MAX` (where the two cross on this 2-core machine, bench/bench_index.py). A query
whose radius makes the lookups cost more than a scan of every code (a large `max_distance`)
is a scan.

Memory. `_codes`: an (n, bits / 64) uint64 array, codes in insertion order (a code's position is
its id). `_postings`: one uint32 array holding, chunk after chunk, the ids of the codes sorted by
that chunk's value (CSR lists). `_offsets`: for the global key `base of the chunk + value`, where
its list starts in `_postings`; the list ends where the next key's starts. At 10M PDQ codes with
the wide layout: 320 MB of codes, 480 MB of postings and 151 MB of offsets (951 MB); snapshots
hold the same arrays, and `from_bytes` wraps them without copying.

Additions. `add` packs the hashes and queues them. The next query (or `build`) moves them
into `_delta`, which queries scan by brute force; once `_delta` holds more than `_delta_limit()`
codes it is merged into the postings (one linear pass), or the whole index is rebuilt when its
size calls for another layout.
"""

from __future__ import annotations

import itertools
import json
import math
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

# Below this many indexed codes a query scans them all: it is as fast and needs no postings.
BRUTE_FORCE_MAX = 4096
# From this many codes on, 21-bit chunks beat 16-bit ones (fewer candidates per query).
WIDE_LAYOUT_MIN = 500_000
# Relative costs (ns, this machine) of one table lookup, one candidate verified and one code
# scanned: a query takes the cheaper of the two ways.
_PROBE_NS = 12.0
_CANDIDATE_NS = 25.0
_SCAN_NS = 4.0
# Codes scanned at a time by a brute-force pass (bounds its temporary arrays).
_SCAN_BLOCK = 1 << 16
# Hex strings parsed at a time when packing.
_PACK_BLOCK = 1 << 20
# Probes answered together by `query_many`: bounds its work arrays, 32 bytes a candidate (about
# 12 MB for 64 probes at 10M random codes), and the probe field of a hit's sort key.
_PROBES_PER_PASS = 64
# A hit's sort key (`_query_pass`): probe | distance | id, from the top bits down. Ids fit in 32
# bits (the postings hold them as uint32), distances in 16 (`_set_bits` counts in uint16).
# numpy scalars: a Python int operand costs a conversion on every call.
_DISTANCE_SHIFT, _PROBE_SHIFT = np.int64(32), np.int64(48)
_ID_MASK, _DISTANCE_MASK = np.int64(0xFFFFFFFF), np.int64(0xFFFF)

_MAGIC = b"CORDNIDX"
_VERSION = 1
_ALIGN = 64
_PREFIX = struct.Struct("<8sII")  # magic, version, length of the JSON header


def hex_to_words(values: Iterable[str], bits: int) -> np.ndarray:
    """Pack hex strings into an (n, bits/64) array of big-endian uint64 words."""
    words = bits // 64
    chars = bits // 4
    values = values if isinstance(values, Sequence) else list(values)
    out = np.empty((len(values), words), dtype=np.uint64)
    for start in range(0, len(values), _PACK_BLOCK):
        block = values[start : start + _PACK_BLOCK]
        if any(length != chars for length in set(map(len, block))):
            raise ValueError(f"hashes must be {chars} hex digits")
        try:
            raw = bytes.fromhex("".join(block))
        except ValueError as error:
            raise ValueError(f"hashes must be {chars} hex digits") from error
        if len(raw) != len(block) * bits // 8:
            raise ValueError(f"hashes must be {chars} hex digits")
        packed = np.frombuffer(raw, dtype=">u8").reshape(-1, words)
        out[start : start + len(block)] = packed
    return out


def _probe_words(values: Sequence[str], bits: int) -> np.ndarray:
    """Probe hex strings as an (n, bits/64) array of words; anything but such strings is a
    ValueError, like a bad hash."""
    if isinstance(values, str):  # a lone hash would pass as a sequence of one-digit probes
        raise TypeError("values must be a sequence of hashes, not one hash")
    # `hex_to_words` without its blocks: cheaper for the few strings of a query.
    try:
        raw = bytes.fromhex("".join(values))
        lengths = set(map(len, values))
    except (TypeError, ValueError) as error:
        raise ValueError(f"hashes must be {bits // 4} hex digits") from error
    if len(raw) != len(values) * bits // 8 or lengths - {bits // 4}:
        raise ValueError(f"hashes must be {bits // 4} hex digits")
    return np.frombuffer(raw, dtype=">u8").reshape(len(values), bits // 64).astype(np.uint64)


def words_to_hex(rows: np.ndarray) -> list[str]:
    """The lowercase hex strings of an (n, words) uint64 array (inverse of `hex_to_words`)."""
    if not len(rows):
        return []
    text = rows.astype(">u8").tobytes().hex()
    chars = rows.shape[1] * 16
    return [text[i : i + chars] for i in range(0, len(text), chars)]


class _Scratch:
    """Work arrays reused from query to query, grown when too short, never shrunk.

    Fresh temporaries of a few hundred KB per query are handed back to the kernel by glibc's
    heap trimming and faulted in again on the next query, which in a Firecracker VM (Lambda's,
    and this machine's) costs more than the search itself. Not thread-safe, like the index.
    """

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, length: int, dtype: type, width: int = 0) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or len(array) < length:
            capacity = max(length, 2 * len(array) if array is not None else 4096)
            shape = (capacity, width) if width else (capacity,)
            array = self._arrays[name] = np.empty(shape, dtype=dtype)
        return array[:length]


def _set_bits(rows: np.ndarray, scratch: _Scratch) -> np.ndarray:
    """How many bits are set in each row (of XORs: the Hamming distances)."""
    count, words = rows.shape
    bits = np.bitwise_count(rows, out=scratch.get("bits", count, np.uint8, words))
    distances = scratch.get("distances", count, np.uint16)
    np.copyto(distances, bits[:, 0])
    for word in range(1, words):
        np.add(distances, bits[:, word], out=distances)
    return distances


def _no_hits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    empty = np.zeros(0, dtype=np.int64)
    return empty, empty, empty


def _scan(
    codes: np.ndarray, probes: np.ndarray, max_distance: int, scratch: _Scratch
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """By brute force, the (probe, row) pairs within reach: probe numbers, ids (row numbers)
    and distances."""
    count, words = probes.shape
    # Every probe against a block of codes at once, in a block small enough to stay in cache.
    block_rows = max(_SCAN_BLOCK // count, 4096)
    tags, ids, distances = [], [], []
    for start in range(0, len(codes), block_rows):
        block = codes[start : start + block_rows]
        rows = scratch.get("rows", count * len(block), np.uint64, words)
        pairs = rows.reshape(count, len(block), words)
        for word in range(words):  # per column: broadcasting over a short axis is slower
            np.bitwise_xor(block[None, :, word], probes[:, word, None], out=pairs[:, :, word])
        distance = _set_bits(rows, scratch)
        hits = (distance <= max_distance).nonzero()[0]
        tag, row = np.divmod(hits, len(block))
        tags.append(tag)
        ids.append(row + start)
        distances.append(distance[hits].astype(np.int64))
    if not ids:
        return _no_hits()
    return np.concatenate(tags), np.concatenate(ids), np.concatenate(distances)


def _ball_size(width: int, radius: int) -> int:
    """How many `width`-bit values lie within `radius` of a given one."""
    return sum(math.comb(width, k) for k in range(min(radius, width) + 1)) if radius >= 0 else 0


@lru_cache(maxsize=64)
def _ball(width: int, radius: int) -> np.ndarray:
    """Every `width`-bit mask of at most `radius` bits, fewest bits first."""
    masks = [
        sum(1 << bit for bit in bits)
        for weight in range(min(radius, width) + 1)
        for bits in itertools.combinations(range(width), weight)
    ]
    return np.array(masks, dtype=np.int64)


@dataclass(frozen=True)
class _Layout:
    """Consecutive chunks of the given widths, from the top bit of a `bits`-bit code down.

    A chunk may straddle two words; bits past the last chunk are in none. Chunk `i`'s values
    are numbered from `bases[i]` in one key space shared by every chunk.
    """

    widths: tuple[int, ...]
    bits: int

    @property
    def chunks(self) -> int:
        return len(self.widths)

    @cached_property
    def starts(self) -> tuple[int, ...]:
        return tuple(sum(self.widths[:i]) for i in range(self.chunks))

    @cached_property
    def bases(self) -> tuple[int, ...]:
        return tuple(sum(1 << w for w in self.widths[:i]) for i in range(self.chunks))

    @property
    def table_size(self) -> int:
        return sum(1 << w for w in self.widths)

    def keys(self, codes: np.ndarray, chunk: int) -> np.ndarray:
        """Global keys of one chunk of every row of `codes`, as int64."""
        width, start = self.widths[chunk], self.starts[chunk]
        word, offset = divmod(start, 64)
        mask = np.uint64((1 << width) - 1)
        if offset + width <= 64:
            values = codes[:, word] >> np.uint64(64 - offset - width)
        else:  # the chunk's low bits are the top bits of the next word
            spill = offset + width - 64
            values = (codes[:, word] << np.uint64(spill)) | (
                codes[:, word + 1] >> np.uint64(64 - spill)
            )
        return (values & mask).astype(np.int64) + self.bases[chunk]

    @cached_property
    def _fields(self) -> tuple[tuple[int, int, int], ...]:
        """Per chunk: the shift and mask that take it out of a whole code, and its base."""
        return tuple(
            (self.bits - start - width, (1 << width) - 1, base)
            for width, start, base in zip(self.widths, self.starts, self.bases, strict=True)
        )

    def probe_keys(self, probes: np.ndarray) -> np.ndarray:
        """Global keys of every chunk of a few codes, as (codes, chunks). With Python ints:
        for a few rows, cheaper than `keys` (several numpy calls a chunk)."""
        raw = probes.astype(">u8").tobytes()
        size = self.bits // 8
        wholes = [int.from_bytes(raw[i : i + size], "big") for i in range(0, len(raw), size)]
        keys = [
            base + ((whole >> shift) & mask)
            for whole in wholes
            for shift, mask, base in self._fields
        ]
        return np.array(keys, dtype=np.int64).reshape(len(probes), self.chunks)

    def radii(self, max_distance: int) -> list[int]:
        """The lookup radius of each chunk that keeps recall at 100 % (module docstring).

        The larger radii go to the widest chunks, whose buckets are the emptiest.
        """
        a, b = divmod(max_distance, self.chunks)
        widest_first = sorted(range(self.chunks), key=lambda chunk: -self.widths[chunk])
        radii = [a - 1] * self.chunks
        for chunk in widest_first[: b + 1]:
            radii[chunk] = a
        return radii


def _narrow_widths(bits: int) -> tuple[int, ...]:
    return (16,) * (bits // 16)


def _wide_widths(bits: int) -> tuple[int, ...]:
    if bits == 256:
        # PDQ at distance 31 probes 8 chunks at radius 2 and 4 at radius 1: the 8 get 22 bits.
        return (22,) * 8 + (20,) * 4
    chunks = 3 * (bits // 64)
    width, extra = divmod(bits, chunks)
    return (width + 1,) * extra + (width,) * (chunks - extra)


def _choose_layout(count: int, bits: int) -> _Layout | None:
    if count < BRUTE_FORCE_MAX:
        return None
    if count < WIDE_LAYOUT_MIN:
        return _Layout(_narrow_widths(bits), bits)
    return _Layout(_wide_widths(bits), bits)


@dataclass(frozen=True)
class _Plan:
    """The lookups of one query radius: the masks, the chunk each applies to, and an estimate
    of the candidates per stored code."""

    owners: np.ndarray
    masks: np.ndarray
    candidates_per_code: float


@lru_cache(maxsize=256)
def _plan(layout: _Layout, max_distance: int) -> _Plan | None:
    """Lookups for `max_distance`, or None when they would outnumber a chunk's keys."""
    radii = layout.radii(max_distance)
    counts = [_ball_size(w, r) for w, r in zip(layout.widths, radii, strict=True)]
    if sum(counts) > (1 << max(layout.widths)):
        return None
    masks = [_ball(w, r) for w, r in zip(layout.widths, radii, strict=True) if r >= 0]
    return _Plan(
        owners=np.repeat(np.arange(layout.chunks), counts),
        masks=np.concatenate(masks),
        candidates_per_code=sum(c / (1 << w) for c, w in zip(counts, layout.widths, strict=True)),
    )


def _offsets_dtype(entries: int) -> type:
    return np.uint32 if entries < 2**32 else np.int64


class HammingIndex:
    """Hashes plus whatever the caller wants back for each (its value, here)."""

    def __init__(self, bits: int = 256) -> None:
        if bits <= 0 or bits % 64:
            raise ValueError("bits must be a multiple of 64")
        self.bits = bits
        self._words = bits // 64
        self._codes = np.zeros((0, self._words), dtype=np.uint64)
        self._delta = np.zeros((0, self._words), dtype=np.uint64)
        self._pending: list[np.ndarray] = []  # packed batches not yet in `_delta`
        self._layout: _Layout | None = None
        self._postings = np.zeros(0, dtype=np.uint32)
        self._offsets = np.zeros(1, dtype=np.uint32)
        self._scratch = _Scratch()

    def __len__(self) -> int:
        return len(self._codes) + len(self._delta) + sum(map(len, self._pending))

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (codes, postings, offsets, delta, queued batches)."""
        arrays = (self._codes, self._delta, self._postings, self._offsets, *self._pending)
        return sum(array.nbytes for array in arrays)

    # -- building ----------------------------------------------------------------------
    def add(self, values: Iterable[str]) -> None:
        """Queue hashes (packed now, a bad one refuses the batch); indexed on the next query."""
        packed = hex_to_words(values, self.bits)
        if len(packed):
            self._pending.append(packed)

    def build(self) -> HammingIndex:
        """Pack and index everything added so far (queries do this on demand)."""
        self._pack()
        if len(self._delta):
            self._merge()
        return self

    def _pack(self) -> None:
        if not self._pending:
            return
        self._delta = np.concatenate([self._delta, *self._pending])
        self._pending = []
        if len(self._delta) > self._delta_limit():
            self._merge()

    def _delta_limit(self) -> int:
        # A scan of this many codes stays a small part of a query, and merges (one pass over
        # the postings each) stay rare.
        return max(8192, len(self._codes) >> 10)

    def _merge(self) -> None:
        total = len(self._codes) + len(self._delta)
        layout = _choose_layout(total, self.bits)
        if layout is None or layout != self._layout or not len(self._codes):
            codes = np.concatenate([self._codes, self._delta])
            self._delta = self._delta[:0]
            self._rebuild(codes, layout)
        else:
            self._insert(layout)

    def _rebuild(self, codes: np.ndarray, layout: _Layout | None) -> None:
        count = len(codes)
        self._codes, self._layout = codes, layout
        if layout is None:
            self._postings = np.zeros(0, dtype=np.uint32)
            self._offsets = np.zeros(1, dtype=np.uint32)
            return
        postings = np.empty(layout.chunks * count, dtype=np.uint32)
        dtype = _offsets_dtype(len(postings))
        offsets = np.empty(layout.table_size + 1, dtype=dtype)
        offsets[0] = 0
        counts = offsets[1:]  # bucket sizes first, summed in place below
        ids = np.arange(count, dtype=np.uint64)
        low = np.uint64(0xFFFFFFFF)
        for chunk, (width, base) in enumerate(zip(layout.widths, layout.bases, strict=True)):
            keys = layout.keys(codes, chunk)
            counts[base : base + (1 << width)] = np.bincount(keys - base, minlength=1 << width)
            # Key in the high half, id in the low half: one sort orders by key, then by id.
            combined = (keys.astype(np.uint64) << np.uint64(32)) | ids
            combined.sort()
            postings[chunk * count : (chunk + 1) * count] = combined & low
            del keys, combined
        np.cumsum(counts, out=counts)
        self._postings, self._offsets = postings, offsets

    def _insert(self, layout: _Layout) -> None:
        """Merge `_delta` into the postings of the current layout, without sorting them again."""
        base, added = len(self._codes), len(self._delta)
        keys = np.concatenate([layout.keys(self._delta, c) for c in range(layout.chunks)])
        ids = np.tile(np.arange(base, base + added, dtype=np.uint32), layout.chunks)
        order = np.argsort(keys, kind="stable")
        keys, ids = keys[order], ids[order]
        # Each new id goes at the end of its list: lists stay sorted by id.
        postings = np.insert(self._postings, self._offsets[keys + 1].astype(np.int64), ids)
        offsets = self._offsets.astype(_offsets_dtype(len(postings)))  # a copy: may be read-only
        growth = np.bincount(keys, minlength=layout.table_size).astype(offsets.dtype)
        np.cumsum(growth, out=growth)
        offsets[1:] += growth
        self._codes = np.concatenate([self._codes, self._delta])
        self._delta = self._delta[:0]
        self._postings, self._offsets = postings, offsets

    # -- querying ----------------------------------------------------------------------
    def query(self, value: str, max_distance: int) -> list[tuple[str, int]]:
        """Every stored hash within `max_distance` bits of `value`, nearest first."""
        return self.query_many([value], max_distance)[0]

    def query_many(self, values: Sequence[str], max_distance: int) -> list[list[tuple[str, int]]]:
        """`query` for each of `values`, in one pass (cheaper than a call each): one list a
        value, in order. A bad value refuses the whole call, whatever `max_distance`.

        Examples
        --------
        >>> index = HammingIndex()
        >>> index.add(["0" * 64])
        >>> found = index.query_many(["0" * 64, "0" * 63 + "1", "f" * 64], 1)
        >>> [[distance for _, distance in hits] for hits in found]
        [[0], [1], []]
        """
        probes = _probe_words(values, self.bits)
        if max_distance < 0 or not len(probes) or not len(self):
            return [[] for _ in range(len(probes))]
        self._pack()
        results: list[list[tuple[str, int]]] = []
        for start in range(0, len(probes), _PROBES_PER_PASS):
            results += self._query_pass(probes[start : start + _PROBES_PER_PASS], max_distance)
        return results

    def _query_pass(self, probes: np.ndarray, max_distance: int) -> list[list[tuple[str, int]]]:
        """`query_many` for up to `_PROBES_PER_PASS` packed probes."""
        tags, ids, distances = self._search_main(probes, max_distance)
        if len(self._delta):
            delta_tags, delta_ids, delta_distances = _scan(
                self._delta, probes, max_distance, self._scratch
            )
            tags = np.concatenate([tags, delta_tags])
            ids = np.concatenate([ids, delta_ids + len(self._codes)])
            distances = np.concatenate([distances, delta_distances])
        if not len(ids):
            return [[] for _ in range(len(probes))]
        # One int64 key a hit: a plain sort orders them probe by probe, nearest first, ties in
        # insertion order, and brings together the copies of a code that turned up in several
        # chunks' lists, to keep one. Cheaper than np.unique and then a lexsort, the more so
        # the more hits (clustered sets).
        ranked = (tags << _PROBE_SHIFT) | (distances << _DISTANCE_SHIFT) | ids
        ranked.sort()
        if len(ranked) > 1:
            fresh = np.empty(len(ranked), dtype=bool)
            fresh[0] = True
            np.not_equal(ranked[1:], ranked[:-1], out=fresh[1:])
            ranked = ranked[fresh]
        tags, ids = ranked >> _PROBE_SHIFT, ranked & _ID_MASK
        distances = (ranked >> _DISTANCE_SHIFT) & _DISTANCE_MASK
        hits = list(zip(words_to_hex(self._rows(ids)), distances.tolist(), strict=True))
        counts = np.bincount(tags, minlength=len(probes)).tolist()
        ends = itertools.accumulate(counts)
        return [hits[end - count : end] for count, end in zip(counts, ends, strict=True)]

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """The codes of these ids, indexed or still in the delta."""
        if not len(self._delta):
            return self._codes[ids]
        main = ids < len(self._codes)
        rows = np.empty((len(ids), self._words), dtype=np.uint64)
        rows[main] = self._codes[ids[main]]
        rows[~main] = self._delta[ids[~main] - len(self._codes)]
        return rows

    def _search_main(
        self, probes: np.ndarray, max_distance: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Probe numbers, ids and distances of the indexed codes within reach of each probe;
        a (probe, id) pair may come more than once."""
        layout = self._layout
        plan = _plan(layout, max_distance) if layout is not None else None
        if plan is None or self._scan_is_cheaper(plan):
            return _scan(self._codes, probes, max_distance, self._scratch)
        # Global keys to look up, probe after probe: each chunk's own key XOR every mask of
        # its radius. (Here ndarray methods rather than their np.* wrappers, which add ~1 µs
        # a call: together a few % of a query.)
        own = layout.probe_keys(probes)
        keys = (own.take(plan.owners, axis=1) ^ plan.masks).reshape(-1)
        starts = self._offsets[keys].astype(np.int64)
        lengths = self._offsets[keys + 1] - starts
        list_ends = lengths.cumsum()
        total = int(list_ends[-1])
        if not total:
            return _no_hits()
        # Where each probe's candidates end: its keys' lists come one after the other.
        ends = list_ends[len(plan.masks) - 1 :: len(plan.masks)]
        # Concatenate the non-empty lists: positions rise by one within a list and jump from
        # the end of one list to the start of the next; a running sum turns steps into positions.
        filled = lengths.nonzero()[0]
        starts, lengths, list_ends = starts[filled], lengths[filled], list_ends[filled]
        where = self._scratch.get("where", total, np.int64)
        where.fill(1)
        where[0] = starts[0]
        where[list_ends[:-1]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
        where.cumsum(out=where)
        candidates = self._postings.take(
            where, out=self._scratch.get("candidates", total, np.uint32)
        )
        rows = self._scratch.get("rows", total, np.uint64, self._words)
        self._codes.take(candidates, axis=0, out=rows)
        begin = 0
        for probe, end in zip(probes, ends.tolist(), strict=True):
            own_rows = rows[begin:end]
            for word in range(self._words):  # per column: broadcasting over a short axis is slower
                own_rows[:, word] ^= probe[word]
            begin = end
        distances = _set_bits(rows, self._scratch)
        hits = (distances <= max_distance).nonzero()[0]
        tags = ends.searchsorted(hits, side="right")
        return tags, candidates[hits].astype(np.int64), distances[hits].astype(np.int64)

    def _scan_is_cheaper(self, plan: _Plan) -> bool:
        probes = len(plan.masks)
        candidates = plan.candidates_per_code * len(self._codes)
        cost = probes * _PROBE_NS + candidates * _CANDIDATE_NS
        return cost >= len(self._codes) * _SCAN_NS

    # -- snapshots ---------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A snapshot of everything added so far: a small JSON header, then the raw arrays."""
        self.build()
        arrays = {"codes": self._codes}
        if self._layout is not None:
            arrays |= {"postings": self._postings, "offsets": self._offsets}
        header: dict = {
            "bits": self.bits,
            "layout": None if self._layout is None else {"widths": list(self._layout.widths)},
            "arrays": {},
        }
        position = 0
        for name, array in arrays.items():
            header["arrays"][name] = {
                "dtype": array.dtype.str,
                "shape": list(array.shape),
                "offset": position,
            }
            position += -(-array.nbytes // _ALIGN) * _ALIGN
        text = json.dumps(header, separators=(",", ":")).encode()
        start = -(-(_PREFIX.size + len(text)) // _ALIGN) * _ALIGN
        parts: list[bytes | memoryview] = [
            _PREFIX.pack(_MAGIC, _VERSION, len(text)),
            text,
            bytes(start - _PREFIX.size - len(text)),
        ]
        for array in arrays.values():
            data = memoryview(np.ascontiguousarray(array).reshape(-1).view(np.uint8))
            parts += [data, bytes(-len(data) % _ALIGN)]
        return b"".join(parts)  # one copy of the arrays

    @classmethod
    def from_bytes(cls, data: bytes | bytearray | memoryview) -> HammingIndex:
        """The index a `to_bytes` snapshot holds; its arrays are views of `data`, not copies."""
        buffer = memoryview(data).cast("B")
        if len(buffer) < _PREFIX.size:
            raise ValueError("not a HammingIndex snapshot")
        magic, version, length = _PREFIX.unpack_from(buffer)
        if magic != _MAGIC:
            raise ValueError("not a HammingIndex snapshot")
        if version != _VERSION:
            raise ValueError(f"unsupported HammingIndex snapshot version {version}")
        try:
            header = json.loads(bytes(buffer[_PREFIX.size : _PREFIX.size + length]))
        except ValueError as error:
            raise ValueError("corrupt HammingIndex snapshot header") from error
        start = -(-(_PREFIX.size + length) // _ALIGN) * _ALIGN
        index = cls(int(header["bits"]))
        arrays = {}
        for name, spec in header["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            shape = tuple(int(n) for n in spec["shape"])
            count = math.prod(shape)
            offset = start + int(spec["offset"])
            if offset + count * dtype.itemsize > len(buffer):
                raise ValueError("truncated HammingIndex snapshot")
            arrays[name] = np.frombuffer(buffer, dtype, count, offset).reshape(shape)
        codes = arrays["codes"]
        if codes.ndim != 2 or codes.shape[1] != index._words or codes.dtype != np.uint64:
            raise ValueError("corrupt HammingIndex snapshot")
        index._codes = codes
        if header["layout"] is not None:
            widths = tuple(int(w) for w in header["layout"]["widths"])
            if not widths or sum(widths) > index.bits or not all(0 < w <= 24 for w in widths):
                raise ValueError("corrupt HammingIndex snapshot")
            layout = _Layout(widths, index.bits)
            postings, offsets = arrays["postings"], arrays["offsets"]
            if len(postings) != layout.chunks * len(codes) or len(offsets) != layout.table_size + 1:
                raise ValueError("corrupt HammingIndex snapshot")
            index._layout, index._postings, index._offsets = layout, postings, offsets
        return index
