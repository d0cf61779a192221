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


def _probe_words(value: str, bits: int) -> np.ndarray:
    """One hex string as a row of uint64 words (`hex_to_words` for one value, faster)."""
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"hashes must be {bits // 4} hex digits") from error
    if len(value) != bits // 4 or len(raw) != bits // 8:
        raise ValueError(f"hashes must be {bits // 4} hex digits")
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64)


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


def _distances(rows: np.ndarray, probe: np.ndarray, scratch: _Scratch) -> np.ndarray:
    """Hamming distance of each row to `probe`; `rows` (a scratch array) is overwritten."""
    count, words = rows.shape
    for word in range(words):  # per column: broadcasting over a short axis is slower
        rows[:, word] ^= probe[word]
    bits = np.bitwise_count(rows, out=scratch.get("bits", count, np.uint8, words))
    distances = scratch.get("distances", count, np.uint16)
    np.copyto(distances, bits[:, 0])
    for word in range(1, words):
        np.add(distances, bits[:, word], out=distances)
    return distances


def _scan(
    codes: np.ndarray, probe: np.ndarray, max_distance: int, scratch: _Scratch
) -> tuple[np.ndarray, np.ndarray]:
    """Ids (row numbers) and distances of the rows within reach, by brute force."""
    ids, distances = [], []
    for start in range(0, len(codes), _SCAN_BLOCK):
        block = codes[start : start + _SCAN_BLOCK]
        rows = scratch.get("rows", len(block), np.uint64, block.shape[1])
        np.copyto(rows, block)
        distance = _distances(rows, probe, scratch)
        hits = np.flatnonzero(distance <= max_distance)
        ids.append(hits + start)
        distances.append(distance[hits].astype(np.int32))
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return np.concatenate(ids), np.concatenate(distances)


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

    def probe_keys(self, probe: np.ndarray) -> np.ndarray:
        """Global keys of every chunk of one code (a row of words)."""
        whole = int.from_bytes(probe.astype(">u8").tobytes(), "big")
        return np.array(
            [
                base + ((whole >> (self.bits - start - width)) & ((1 << width) - 1))
                for width, start, base in zip(self.widths, self.starts, self.bases, strict=True)
            ],
            dtype=np.int64,
        )

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
    """The lookups of one query radius: per chunk how many masks, the masks, and an estimate
    of the candidates per stored code."""

    counts: np.ndarray
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
        counts=np.array(counts, dtype=np.int64),
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
        self._pack()
        probe = _probe_words(value, self.bits)
        if max_distance < 0 or not len(self):
            return []
        ids, distances = self._search_main(probe, max_distance)
        if len(self._delta):
            delta_ids, delta_distances = _scan(self._delta, probe, max_distance, self._scratch)
            ids = np.concatenate([ids, delta_ids + len(self._codes)])
            distances = np.concatenate([distances, delta_distances])
        if not len(ids):
            return []
        order = np.lexsort((ids, distances))
        ids, distances = ids[order], distances[order]
        if len(self._delta):
            main = ids < len(self._codes)
            rows = np.empty((len(ids), self._words), dtype=np.uint64)
            rows[main] = self._codes[ids[main]]
            rows[~main] = self._delta[ids[~main] - len(self._codes)]
        else:
            rows = self._codes[ids]
        return list(zip(words_to_hex(rows), distances.tolist(), strict=True))

    def _search_main(self, probe: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray]:
        layout = self._layout
        plan = _plan(layout, max_distance) if layout is not None else None
        if plan is None or self._scan_is_cheaper(plan):
            return _scan(self._codes, probe, max_distance, self._scratch)
        # Global keys to look up: each chunk's own key XOR every mask of its radius.
        own = layout.probe_keys(probe)
        keys = np.repeat(own, plan.counts) ^ plan.masks
        starts = self._offsets[keys].astype(np.int64)
        lengths = self._offsets[keys + 1] - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
        # Concatenate the non-empty lists: positions rise by one within a list and jump from
        # the end of one list to the start of the next; a running sum turns steps into positions.
        filled = np.flatnonzero(lengths)
        starts, lengths = starts[filled], lengths[filled]
        ends = np.cumsum(lengths)
        where = self._scratch.get("where", total, np.int64)
        where.fill(1)
        where[0] = starts[0]
        where[ends[:-1]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
        np.cumsum(where, out=where)
        candidates = np.take(
            self._postings, where, out=self._scratch.get("candidates", total, np.uint32)
        )
        rows = self._scratch.get("rows", total, np.uint64, self._words)
        np.take(self._codes, candidates, axis=0, out=rows)
        distances = _distances(rows, probe, self._scratch)
        hits = np.flatnonzero(distances <= max_distance)
        ids, distances = candidates[hits].astype(np.int64), distances[hits].astype(np.int32)
        if len(ids) > 1:
            # A code near the query turns up in several chunks' lists: keep it once.
            ids, first = np.unique(ids, return_index=True)
            distances = distances[first]
        return ids, distances

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
