"""HammingIndex against brute force: Python ints and popcount over hex strings."""

from __future__ import annotations

import random

import pytest

from chalicelib.index import HammingIndex, hex_to_words

BITS = 256
DISTANCES = [0, 10, 31, 64]


def random_hash(rng: random.Random, bits: int = BITS) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


def flip(value: str, count: int, rng: random.Random, bits: int = BITS) -> str:
    """`value` with `count` distinct bits flipped."""
    mask = sum(1 << i for i in rng.sample(range(bits), count))
    return f"{int(value, 16) ^ mask:0{bits // 4}x}"


def distance(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def brute_force(values: list[str], probe: str, max_distance: int) -> list[tuple[str, int]]:
    """Every stored value within reach, nearest first, ties in insertion order."""
    hits = [(v.lower(), distance(v, probe)) for v in values]
    return sorted((h for h in hits if h[1] <= max_distance), key=lambda h: h[1])


def uniform_set(seed: int, size: int = 500) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    values = [random_hash(rng) for _ in range(size)]
    # probes: stored values, near copies of stored values, and unrelated hashes
    probes = values[:5] + [flip(v, rng.randint(1, 40), rng) for v in values[5:15]]
    probes += [random_hash(rng) for _ in range(5)]
    return values, probes


def clustered_set(seed: int, centres: int = 8, per_centre: int = 40) -> tuple[list[str], list[str]]:
    """Near-duplicate families: each centre with copies a few to many bits away."""
    rng = random.Random(seed)
    values, probes = [], []
    for _ in range(centres):
        centre = random_hash(rng)
        values.append(centre)
        values.extend(flip(centre, rng.randint(0, 70), rng) for _ in range(per_centre))
        probes.append(centre)
        probes.append(flip(centre, rng.randint(1, 20), rng))
    values.append(values[3])  # an exact duplicate is returned twice
    rng.shuffle(values)
    return values, probes


@pytest.mark.parametrize("max_distance", DISTANCES)
@pytest.mark.parametrize("make", [uniform_set, clustered_set], ids=["uniform", "clustered"])
@pytest.mark.parametrize("seed", [1, 2])
def test_query_equals_brute_force(make, seed: int, max_distance: int):
    # GIVEN an index over a random set
    values, probes = make(seed)
    index = HammingIndex(BITS)
    index.add(values)

    for probe in probes:
        # WHEN a probe is queried THEN exactly the brute-force hits come back, in its order
        assert index.query(probe, max_distance) == brute_force(values, probe, max_distance)


@pytest.mark.parametrize("max_distance", [-1, *DISTANCES])
@pytest.mark.parametrize("make", [uniform_set, clustered_set], ids=["uniform", "clustered"])
def test_query_many_equals_brute_force(make, max_distance: int):
    # GIVEN an index over a small set (scanned, no postings)
    values, probes = make(3)
    index = HammingIndex(BITS)
    index.add(values)

    # WHEN all probes are answered in one call, one of them twice
    found = index.query_many([*probes, probes[0]], max_distance)

    # THEN each gets its own brute-force list, in the order asked
    assert found == [brute_force(values, p, max_distance) for p in [*probes, probes[0]]]


def test_clustered_queries_do_find_neighbours():
    # The comparison above must not pass on empty results alone
    values, probes = clustered_set(3)
    index = HammingIndex(BITS)
    index.add(values)

    found = [index.query(probe, 31) for probe in probes]

    assert all(found)
    assert sum(len(hits) for hits in found) > len(probes) * 5
    assert any(0 < d <= 31 for hits in found for _, d in hits)


def test_results_are_sorted_by_distance():
    rng = random.Random(4)
    centre = random_hash(rng)
    values = [flip(centre, d, rng) for d in (30, 5, 20, 0, 12, 5, 31, 32)]
    index = HammingIndex(BITS)
    index.add(values)

    hits = index.query(centre, 31)

    assert [d for _, d in hits] == [0, 5, 5, 12, 20, 30, 31]
    assert [v for v, _ in hits][:3] == [values[3], values[1], values[5]]


def test_distance_boundary_is_inclusive():
    rng = random.Random(5)
    centre = random_hash(rng)
    at, beyond = flip(centre, 31, rng), flip(centre, 32, rng)
    index = HammingIndex(BITS)
    index.add([at, beyond])

    assert index.query(centre, 31) == [(at, 31)]
    assert index.query(centre, 30) == []


def test_empty_index_returns_nothing():
    index = HammingIndex(BITS)

    assert len(index) == 0
    assert index.query("0" * 64, 256) == []


def test_add_after_query_is_found():
    rng = random.Random(6)
    first, second = random_hash(rng), random_hash(rng)
    index = HammingIndex(BITS)
    index.add([first])
    assert index.query(first, 0) == [(first, 0)]

    # WHEN more is added after a query
    index.add([second])

    # THEN both old and new are found, and counted
    assert len(index) == 2
    assert index.query(second, 0) == [(second, 0)]
    assert index.query(first, 0) == [(first, 0)]
    assert sorted(v for v, _ in index.query(first, 256)) == sorted([first, second])


def test_len_counts_pending_values():
    index = HammingIndex(BITS)
    index.add(["0" * 64, "f" * 64])

    assert len(index) == 2


def test_uppercase_values_and_probes_are_accepted():
    value = "AB" * 32
    index = HammingIndex(BITS)
    index.add([value])

    assert index.query(value, 0) == [(value.lower(), 0)]
    assert index.query(value.lower(), 0) == [(value.lower(), 0)]


def test_maximum_distance_is_all_bits():
    index = HammingIndex(BITS)
    index.add(["f" * 64])

    assert index.query("0" * 64, 256) == [("f" * 64, 256)]
    assert index.query("0" * 64, 255) == []


def test_64_bit_index_for_phash():
    rng = random.Random(7)
    values = [random_hash(rng, 64) for _ in range(200)]
    index = HammingIndex(64)
    index.add(values)

    for probe in values[:10]:
        assert index.query(probe, 10) == brute_force(values, probe, 10)


@pytest.mark.parametrize("bits", [1, 63, 65, 100, 255])
def test_bits_not_multiple_of_64_raise(bits: int):
    with pytest.raises(ValueError, match="multiple of 64"):
        HammingIndex(bits)


def test_hex_to_words_is_big_endian():
    words = hex_to_words(["0000000000000001" + "ff" * 8], 128)

    assert words.shape == (1, 2)
    assert [int(w) for w in words[0]] == [1, 2**64 - 1]
