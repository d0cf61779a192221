"""The multi-index HammingIndex equals brute force on sets big enough to use its postings.

Brute force here is Python ints and `int.bit_count` over hex strings, independent of numpy.
Sets are sized so that each layout is exercised: below `BRUTE_FORCE_MAX` (scan), 16-bit chunks,
and, with the threshold lowered, the wide layout (22- and 20-bit chunks, or the same shape
narrower to keep the tests quick).
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from chalicelib import index as index_module
from chalicelib.index import BRUTE_FORCE_MAX, HammingIndex, words_to_hex

BITS = 256
DISTANCES = [0, 1, 15, 16, 31, 32, 48]


def random_codes(rng: np.random.Generator, size: int, bits: int = BITS) -> list[str]:
    return words_to_hex(rng.integers(0, 2**64, size=(size, bits // 64), dtype=np.uint64))


def flip(value: str, count: int, rng: random.Random, bits: int = BITS) -> str:
    """`value` with `count` distinct bits flipped."""
    mask = sum(1 << i for i in rng.sample(range(bits), count))
    return f"{int(value, 16) ^ mask:0{bits // 4}x}"


def distances(values: list[str], probe: str) -> list[tuple[str, int]]:
    target = int(probe, 16)
    return [(v.lower(), (int(v, 16) ^ target).bit_count()) for v in values]


def within(hits: list[tuple[str, int]], max_distance: int) -> list[tuple[str, int]]:
    """The hits within reach, nearest first, ties in insertion order (a stable sort)."""
    return sorted((h for h in hits if h[1] <= max_distance), key=lambda h: h[1])


def brute_force(values: list[str], probe: str, max_distance: int) -> list[tuple[str, int]]:
    return within(distances(values, probe), max_distance)


def uniform(seed: int, size: int) -> tuple[list[str], list[str]]:
    rng, pyrng = np.random.default_rng(seed), random.Random(seed)
    values = random_codes(rng, size)
    probes = [values[7], values[-1]]
    probes += [
        flip(values[i], d, pyrng) for i, d in zip(range(20, 33), range(1, 50, 4), strict=True)
    ]
    probes += random_codes(rng, 4)
    return values, probes


def clustered(seed: int, size: int) -> tuple[list[str], list[str]]:
    """Families of near-duplicates (0 to 40 bits from a centre), plus exact duplicates."""
    rng = random.Random(seed)
    centres = random_codes(np.random.default_rng(seed), max(1, size // 50))
    values = [flip(rng.choice(centres), rng.randint(0, 40), rng) for _ in range(size)]
    values[: len(centres)] = centres
    values += values[100:110]  # exact duplicates come back twice
    rng.shuffle(values)
    probes = centres[:4] + [flip(c, rng.randint(1, 24), rng) for c in centres[4:10]]
    return values, probes


@pytest.fixture
def wide_layout(monkeypatch):
    """The wide layout (normally from 500k hashes on) at test sizes, and with narrower chunks
    of the same shape (8 wide, 4 narrower, straddling words, unused bits at the end) so that
    its tables stay small: 18 and 16 bits instead of 22 and 20."""
    monkeypatch.setattr(index_module, "WIDE_LAYOUT_MIN", 5_000)
    monkeypatch.setattr(index_module, "_wide_widths", lambda bits: (18,) * 8 + (16,) * 4)


def check(values: list[str], probes: list[str], radii=DISTANCES) -> int:
    index = HammingIndex(BITS)
    index.add(values)
    found = 0
    for probe in probes:
        every = distances(values, probe)
        for max_distance in radii:
            expected = within(every, max_distance)
            assert index.query(probe, max_distance) == expected, (probe, max_distance)
            found += len(expected)
    return found


@pytest.mark.parametrize("size", [BRUTE_FORCE_MAX - 1, 20_000])
@pytest.mark.parametrize("make", [uniform, clustered], ids=["uniform", "clustered"])
def test_equals_brute_force_16_bit_chunks(make, size: int):
    # GIVEN a random set, WHEN every probe is queried at every distance
    # THEN the hits are the brute-force ones, nearest first, ties in insertion order
    values, probes = make(size, size)
    assert check(values, probes) > len(probes)  # not only empty results


@pytest.mark.parametrize("make", [uniform, clustered], ids=["uniform", "clustered"])
def test_equals_brute_force_wide_chunks(make, wide_layout):
    values, probes = make(11, 12_000)
    assert check(values, probes) > len(probes)
    built = HammingIndex(BITS)
    built.add(values)
    assert built.build()._layout.widths == (18,) * 8 + (16,) * 4


def test_equals_brute_force_pdq_layout(monkeypatch):
    # The real wide layout: 8 chunks of 22 bits and 4 of 20
    monkeypatch.setattr(index_module, "WIDE_LAYOUT_MIN", 5_000)
    values, probes = clustered(12, 20_000)
    index = HammingIndex(BITS)
    index.add(values)
    assert index.build()._layout.widths == (22,) * 8 + (20,) * 4
    for probe in probes[:6]:
        every = distances(values, probe)
        for max_distance in (0, 31, 32):
            assert index.query(probe, max_distance) == within(every, max_distance)


def test_layout_follows_size():
    rng = np.random.default_rng(1)
    small, medium = HammingIndex(BITS), HammingIndex(BITS)
    small.add(random_codes(rng, 100))
    medium.add(random_codes(rng, 10_000))

    assert small.build()._layout is None
    assert medium.build()._layout.widths == (16,) * 16


def test_results_are_nearest_first_with_ties_in_insertion_order():
    rng, pyrng = np.random.default_rng(2), random.Random(2)
    filler = random_codes(rng, 10_000)
    centre = filler[0]
    near = [flip(centre, d, pyrng) for d in (30, 5, 20, 0, 12, 5, 31, 32, 1)]
    values = filler[1:5000] + near + filler[5000:]
    index = HammingIndex(BITS)
    index.add(values)

    hits = index.query(centre, 31)

    assert [d for _, d in hits] == [0, 1, 5, 5, 12, 20, 30, 31]
    assert [v for v, _ in hits][:4] == [near[3], near[8], near[1], near[5]]


@pytest.mark.parametrize("size", [5_000, 30_000])
def test_add_after_query(size: int):
    # GIVEN a built index that has answered a query
    rng, pyrng = np.random.default_rng(3), random.Random(3)
    values = random_codes(rng, size)
    index = HammingIndex(BITS)
    index.add(values)
    assert index.query(values[0], 0) == [(values[0], 0)]

    # WHEN hashes arrive one batch at a time, past the point where the delta is merged
    later = [*random_codes(rng, 9_000), flip(values[1], 3, pyrng)]
    for start in range(0, len(later), 1_000):
        index.add(later[start : start + 1_000])
        assert index.query(later[start], 0) == [(later[start], 0)]
    values += later

    # THEN old and new are found like brute force would, and all are counted
    assert len(index) == len(values)
    assert len(index._delta) < 9_000  # part of it merged into the postings
    for probe in [values[1], later[-1], later[4_321], values[size // 2]]:
        for max_distance in (0, 16, 31):
            assert index.query(probe, max_distance) == brute_force(values, probe, max_distance)
    assert [d for _, d in index.query(values[1], 31)] == [0, 3]


def test_growth_across_layouts_keeps_results(wide_layout, monkeypatch):
    monkeypatch.setattr(index_module, "WIDE_LAYOUT_MIN", 8_000)
    rng = np.random.default_rng(4)
    values: list[str] = []
    index = HammingIndex(BITS)
    widths = set()
    for _ in range(4):  # 3,000 at a time: scan, then 16-bit, then 18- and 16-bit chunks
        batch = random_codes(rng, 3_000)
        values += batch
        index.add(batch)
        index.build()
        widths.add(index._layout.widths[0] if index._layout else None)
        probe = values[len(values) // 3]
        assert index.query(probe, 31) == brute_force(values, probe, 31)
    assert widths == {None, 16, 18}


def test_snapshot_round_trip_gives_identical_results(wide_layout):
    for size in (0, 50, 6_000, 20_000):
        values, probes = clustered(5, size) if size else ([], ["0" * 64])
        index = HammingIndex(BITS)
        index.add(values)
        data = index.to_bytes()

        loaded = HammingIndex.from_bytes(data)

        assert len(loaded) == len(index) == len(values)
        for probe in probes:
            for max_distance in (0, 31, 48):
                assert loaded.query(probe, max_distance) == index.query(probe, max_distance)
        # and a loaded index still takes additions
        loaded.add(probes[:1])
        assert loaded.query(probes[0], 0)[-1] == (probes[0], 0)


def test_snapshot_keeps_a_64_bit_index():
    rng = np.random.default_rng(6)
    values = random_codes(rng, 8_000, bits=64)
    index = HammingIndex(64)
    index.add(values)

    loaded = HammingIndex.from_bytes(index.to_bytes())

    assert loaded.bits == 64
    for probe in values[:5]:
        assert loaded.query(probe, 10) == brute_force(values, probe, 10)


@pytest.mark.parametrize(
    "data",
    [b"", b"not an index at all", b"CORDNIDX" + b"\x63\x00\x00\x00" + b"\x00" * 60],
    ids=["empty", "garbage", "future version"],
)
def test_bad_snapshots_are_refused(data: bytes):
    with pytest.raises(ValueError, match="snapshot"):
        HammingIndex.from_bytes(data)


def test_truncated_snapshot_is_refused():
    index = HammingIndex(BITS)
    index.add(random_codes(np.random.default_rng(7), 5_000))
    data = index.to_bytes()

    with pytest.raises(ValueError, match="snapshot"):
        HammingIndex.from_bytes(data[: len(data) // 2])


def test_empty_index():
    index = HammingIndex(BITS)

    assert len(index) == 0
    assert index.query("0" * 64, 31) == []
    assert index.build()._layout is None
    assert HammingIndex.from_bytes(index.to_bytes()).query("f" * 64, 256) == []


def test_negative_distance_and_bad_probes():
    index = HammingIndex(BITS)
    index.add(random_codes(np.random.default_rng(8), 5_000))

    assert index.query("0" * 64, -1) == []
    for probe in ("0" * 63, "0" * 65, "zz" * 32, "0x" + "0" * 62, " " + "0" * 63):
        with pytest.raises(ValueError, match="hex digits"):
            index.query(probe, 31)
    # a bad batch is refused whole, when added, and leaves the index as it was
    with pytest.raises(ValueError, match="hex digits"):
        index.add(["0" * 64, "0" * 63, "0" * 65])
    assert len(index) == 5_000
    assert index.query("0" * 64, 0) == []


# -- query_many: several probes in one pass ----------------------------------------------
MANY_DISTANCES = [0, 16, 31, 48, 64]  # 48 and 64 scan the indexed codes instead of the postings


def check_many(index: HammingIndex, values: list[str], probes: list[str]) -> int:
    """`query_many` equals one `query` a probe, and brute force, at every distance."""
    found = 0
    for max_distance in MANY_DISTANCES:
        many = index.query_many(probes, max_distance)
        one_by_one = [index.query(probe, max_distance) for probe in probes]
        assert many == one_by_one, max_distance
        assert many == [brute_force(values, p, max_distance) for p in probes], max_distance
        found += sum(map(len, many))
    return found


def batch_of_probes(values: list[str], probes: list[str], seed: int) -> list[str]:
    """An upload's worth of probes and then some: the set's own probes, a probe twice, and
    near copies of one another (so that two probes share hits)."""
    pyrng = random.Random(seed)
    return [*probes, probes[0], *(flip(probes[1], d, pyrng) for d in (2, 9, 20)), values[5]]


@pytest.mark.parametrize(
    "size", [BRUTE_FORCE_MAX - 1, 20_000], ids=["brute force", "16-bit chunks"]
)
@pytest.mark.parametrize("make", [uniform, clustered], ids=["uniform", "clustered"])
def test_query_many_equals_query_one_by_one(make, size: int):
    # GIVEN an index over a random or clustered set, in the scan or the 16-bit layout
    values, probes = make(size, size)
    index = HammingIndex(BITS)
    index.add(values)

    # WHEN a batch of probes is answered at once THEN each list is what `query` gives
    assert check_many(index, values, batch_of_probes(values, probes, size)) > len(probes)


@pytest.mark.parametrize("make", [uniform, clustered], ids=["uniform", "clustered"])
def test_query_many_wide_chunks(make, wide_layout):
    values, probes = make(13, 12_000)
    index = HammingIndex(BITS)
    index.add(values)

    assert index.build()._layout.widths == (18,) * 8 + (16,) * 4
    assert check_many(index, values, batch_of_probes(values, probes, 13)) > len(probes)


@pytest.mark.parametrize("size", [300, 20_000], ids=["brute force", "16-bit chunks"])
def test_query_many_with_pending_delta(size: int):
    # GIVEN a built index, then hashes added since (scanned from the delta, not yet merged),
    # among them exact copies of indexed ones and near copies of a probe
    values, probes = clustered(size + 1, size)
    pyrng = random.Random(size)
    index = HammingIndex(BITS)
    index.add(values)
    index.build()
    later = [values[3], values[3], *(flip(probes[0], d, pyrng) for d in (0, 4, 30))]
    later += random_codes(np.random.default_rng(size), 500)
    index.add(later)
    values = values + later

    # WHEN probes are answered together THEN old and new hashes come back like brute force
    assert check_many(index, values, batch_of_probes(values, probes, size)) > len(probes)
    assert len(index._delta) == len(later)  # the delta was searched, not merged away


def test_query_many_returns_each_copy_and_each_probe():
    # GIVEN a hash stored twice, among enough others to use the postings
    rng = np.random.default_rng(21)
    values = random_codes(rng, 6_000)
    twice = values[10]
    values.append(twice)
    index = HammingIndex(BITS)
    index.add(values)

    # WHEN it is asked for twice in one batch, next to a probe that finds nothing
    found = index.query_many([twice, random_codes(rng, 1)[0], twice], 0)

    # THEN each asking gets both copies, in order, and the other probe an empty list
    assert found == [[(twice, 0), (twice, 0)], [], [(twice, 0), (twice, 0)]]


def test_query_many_more_probes_than_a_pass(monkeypatch):
    monkeypatch.setattr(index_module, "_PROBES_PER_PASS", 4)
    values, probes = uniform(22, 6_000)
    index = HammingIndex(BITS)
    index.add(values)

    assert check_many(index, values, batch_of_probes(values, probes, 22)) > len(probes)


def test_query_many_edge_cases():
    index = HammingIndex(BITS)
    assert index.query_many([], 31) == []
    assert index.query_many(["0" * 64, "f" * 64], 31) == [[], []]  # an empty index

    index.add(random_codes(np.random.default_rng(23), 5_000))
    stored = words_to_hex(index.build()._codes[:2])
    assert index.query_many([], 31) == []
    assert index.query_many(stored, -1) == [[], []]
    assert index.query_many(stored, 0) == [[(stored[0], 0)], [(stored[1], 0)]]


def test_query_many_refuses_bad_probes_whole():
    index = HammingIndex(BITS)
    index.add(random_codes(np.random.default_rng(24), 5_000))

    for probes in (["0" * 64, "0" * 63], ["0" * 63, "0" * 65], ["0" * 64, None], ["zz" * 32]):
        with pytest.raises(ValueError, match="hex digits"):
            index.query_many(probes, 31)
    with pytest.raises(ValueError, match="hex digits"):
        index.query_many(["0" * 63], -1)  # refused like `query`, whatever the distance
    with pytest.raises(TypeError, match="sequence of hashes"):
        index.query_many("0" * 64, 31)  # one hash, not a list of them


def test_query_many_64_bit_and_loaded_from_snapshot():
    rng = np.random.default_rng(25)
    values = random_codes(rng, 8_000, bits=64)
    index = HammingIndex.from_bytes(HammingIndex(64).to_bytes())
    index.add(values)
    loaded = HammingIndex.from_bytes(index.to_bytes())
    probes = [*values[:6], *random_codes(rng, 3, bits=64)]

    for max_distance in (0, 6, 12):
        expected = [brute_force(values, probe, max_distance) for probe in probes]
        assert loaded.query_many(probes, max_distance) == expected
