"""The PDQ match index (chalicelib/index.py) at scale, against brute force and faiss.

    .venv/bin/python bench/bench_index.py                 # 10M hashes (several minutes, ~4 GB)
    .venv/bin/python bench/bench_index.py --quick         # 1M hashes
    .venv/bin/python bench/bench_index.py --size 3000000 --json bench/index.json

For a uniform random set and a clustered one (near-duplicate families around centres, a few
large), prints: build time from hex strings, the index's memory against the raw 32 bytes a hash,
median and p99 query time at distance 31 and queries per second on one core, recall against
brute force on a sample (must be 100 %), snapshot size and load time, the cost of adding hashes
to a built index; and the same query figures for the references, a numpy popcount scan over
every code and, when `faiss-cpu` is importable, faiss `IndexBinaryFlat`, with the ratios.
Queries are half near-duplicates of stored hashes (the matching case: 0 to 24 bits flipped) and
half random hashes (the common no-match case). Also an upload's PDQ signals (its own hash and
ten match variants) answered by a loop of `query` and by one `query_many`, with the ratio.
Targets (issue 6): median <= 2 ms, >= 1,000 qps, memory <= 1 GB, build <= 60 s, snapshot load
<= 5 s. Figures only, no pass/fail.
"""

from __future__ import annotations

import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.index import HammingIndex, hex_to_words, words_to_hex  # noqa: E402

try:
    import faiss
except ImportError:  # optional reference
    faiss = None

BITS = 256
WORDS = BITS // 64
MiB = 1 << 20


def flip_bits(codes: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each row with `counts[i]` distinct random bits flipped."""
    out = codes.copy()
    most = int(counts.max()) if len(counts) else 0
    if not most:
        return out
    # Distinct positions per row: the first `most` of a random ranking of the 256 bits would be
    # exact but costs n x 256; drawing and dropping repeats is close enough and cheap.
    positions = rng.integers(0, BITS, size=(len(codes), most), dtype=np.int64)
    for column in range(most):
        active = column < counts
        if column:
            repeat = (positions[:, :column] == positions[:, column : column + 1]).any(axis=1)
            active &= ~repeat
        word = positions[:, column] // 64
        bit = (63 - positions[:, column] % 64).astype(np.uint64)
        for w in range(WORDS):
            rows = np.flatnonzero(active & (word == w))
            out[rows, w] ^= np.uint64(1) << bit[rows]
    return out


def uniform_set(size: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 2**64, size=(size, WORDS), dtype=np.uint64)


def clustered_set(size: int, rng: np.random.Generator) -> np.ndarray:
    """Families of near-duplicates: a centre and copies 1 to 16 bits away, sizes heavy-tailed
    (most families a handful, up to 1,000: one viral image re-uploaded again and again)."""
    sizes = np.minimum(rng.zipf(2.0, size=size), 1000)
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), size)) + 1]
    sizes[-1] -= int(sizes.sum()) - size
    centres = rng.integers(0, 2**64, size=(len(sizes), WORDS), dtype=np.uint64)
    codes = np.repeat(centres, sizes, axis=0)
    first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    flips = rng.integers(1, 17, size=size)
    flips[first] = 0  # the centre itself
    codes = flip_bits(codes, flips, rng)
    return codes[rng.permutation(size)]


def make_queries(codes: np.ndarray, count: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    near = flip_bits(
        codes[rng.integers(0, len(codes), size=count // 2)],
        rng.integers(0, 25, size=count // 2),
        rng,
    )
    far = rng.integers(0, 2**64, size=(count - count // 2, WORDS), dtype=np.uint64)
    queries = [("near", h) for h in words_to_hex(near)] + [("random", h) for h in words_to_hex(far)]
    order = rng.permutation(len(queries))
    return [queries[i] for i in order]


def reference_scan(codes: np.ndarray, probe: np.ndarray, max_distance: int) -> np.ndarray:
    """Brute force, plain numpy: popcount of the XOR with every code, word by word."""
    distance = np.bitwise_count(codes[:, 0] ^ probe[0]).astype(np.uint16)
    for word in range(1, WORDS):
        distance += np.bitwise_count(codes[:, word] ^ probe[word])
    hits = np.flatnonzero(distance <= max_distance)
    return hits[np.argsort(distance[hits], kind="stable")], distance


def upload_probes(codes: np.ndarray, count: int, rng: np.random.Generator) -> list[list[str]]:
    """`count` sets of 11 probes, like an upload's PDQ signals: a near-duplicate of a stored hash
    (0 to 24 bits flipped), five variants 16 to 48 bits from it (trims, tiles) and five
    unrelated hashes (mirror and rotations land far from the original)."""
    own = flip_bits(codes[rng.integers(0, len(codes), size=count)], rng.integers(0, 25, count), rng)
    near = flip_bits(np.repeat(own, 5, axis=0), rng.integers(16, 49, size=5 * count), rng)
    far = rng.integers(0, 2**64, size=(5 * count, WORDS), dtype=np.uint64)
    rows = np.concatenate(
        [own[:, None], near.reshape(count, 5, WORDS), far.reshape(count, 5, WORDS)], axis=1
    )
    flat = words_to_hex(rows.reshape(-1, WORDS))
    return [flat[i : i + 11] for i in range(0, len(flat), 11)]


def timed_batches(index: HammingIndex, uploads: list[list[str]], distance: int) -> dict[str, float]:
    """Median ms per upload: its probes one `query` each, and all in one `query_many`.

    Each way goes through every upload before the other way starts (twice, alternately), so
    neither finds the other's candidates still in the CPU caches."""
    loop: list[float] = []
    batch: list[float] = []
    for _ in range(2):
        for values in uploads:
            began = time.perf_counter_ns()
            for value in values:
                index.query(value, distance)
            loop.append((time.perf_counter_ns() - began) / 1e6)
        for values in uploads:
            began = time.perf_counter_ns()
            index.query_many(values, distance)
            batch.append((time.perf_counter_ns() - began) / 1e6)
    return {
        "probes": len(uploads[0]),
        "uploads": len(uploads),
        "loop_median_ms": float(np.median(loop)),
        "batch_median_ms": float(np.median(batch)),
        "loop_over_batch": float(np.median(loop) / np.median(batch)),
    }


def timed(fn, queries: list[tuple[str, str]]) -> dict[str, float]:
    times = {"near": [], "random": []}
    start = time.perf_counter()
    for kind, value in queries:
        began = time.perf_counter_ns()
        fn(value)
        times[kind].append((time.perf_counter_ns() - began) / 1e6)
    elapsed = time.perf_counter() - start
    every = times["near"] + times["random"]
    return {
        "median_ms": float(np.median(every)),
        "p99_ms": float(np.percentile(every, 99)),
        "near_median_ms": float(np.median(times["near"])),
        "random_median_ms": float(np.median(times["random"])),
        "qps": len(queries) / elapsed,
    }


def show(label: str, figures: dict[str, float], base: dict[str, float] | None = None) -> None:
    line = (
        f"  {label:<28} median {figures['median_ms']:8.3f} ms  p99 {figures['p99_ms']:8.3f} ms"
        f"  (near {figures['near_median_ms']:.3f}, random {figures['random_median_ms']:.3f})"
        f"  {figures['qps']:9.1f} q/s"
    )
    if base is not None:
        line += f"   ours/this median {base['median_ms'] / figures['median_ms']:.4f}"
    print(line, flush=True)


def bench_set(name: str, codes: np.ndarray, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(args.seed + 1)
    size = len(codes)
    result: dict = {"set": name, "size": size}
    print(f"\n== {name}: {size:,} hashes ==", flush=True)

    values = words_to_hex(codes)
    started = time.perf_counter()
    index = HammingIndex(BITS)
    index.add(values)
    index.build()
    result["build_s"] = time.perf_counter() - started
    del values
    gc.collect()
    raw = size * BITS // 8
    result["index_bytes"] = index.nbytes
    print(
        f"  build from hex strings       {result['build_s']:.1f} s   (target <= 60 s)\n"
        f"  index memory                 {index.nbytes / MiB:.0f} MiB"
        f" = {index.nbytes / raw:.2f} x the raw {raw / MiB:.0f} MiB   (target <= 1 GB)",
        flush=True,
    )

    queries = make_queries(codes, args.queries, rng)
    for _kind, value in queries[:50]:  # warm the caches of both ways
        index.query(value, args.distance)
    ours = timed(lambda v: index.query(v, args.distance), queries)
    result["ours"] = ours
    print(f"  queries at distance {args.distance} ({len(queries)}, one core):", flush=True)
    show("ours (MIH)", ours)

    uploads = upload_probes(codes, args.uploads, rng)
    for values in uploads[:20]:  # same lists as one query at a time, and warm both ways
        assert index.query_many(values, args.distance) == [
            index.query(v, args.distance) for v in values
        ]
    batches = timed_batches(index, uploads, args.distance)
    result["upload_probes"] = batches
    print(
        f"  an upload's {batches['probes']} probes ({batches['uploads']} uploads):"
        f" loop of query {batches['loop_median_ms']:.3f} ms,"
        f" one query_many {batches['batch_median_ms']:.3f} ms"
        f"   loop/batch {batches['loop_over_batch']:.2f} x",
        flush=True,
    )

    # Recall: exactly the brute-force hits, in the same order, on a sample.
    sample = queries[: args.recall_sample]
    found = expected = 0
    for _, value in sample:
        probe = hex_to_words([value], BITS)[0]
        hits, distance = reference_scan(codes, probe, args.distance)
        truth = list(zip(words_to_hex(codes[hits]), distance[hits].tolist(), strict=True))
        got = index.query(value, args.distance)
        expected += len(truth)
        found += sum(1 for hit in got if hit in truth)
        assert got == truth, f"result differs from brute force for {value}"
    recall = found / expected if expected else 1.0
    result["recall"] = {"queries": len(sample), "true_hits": expected, "recall": recall}
    print(
        f"  recall vs brute force        {recall:.2%} of {expected} hits over {len(sample)}"
        " queries (identical lists, same order)",
        flush=True,
    )

    few = queries[: args.reference_queries]
    scan = timed(lambda v: reference_scan(codes, hex_to_words([v], BITS)[0], args.distance), few)
    result["numpy_scan"] = scan
    show(f"numpy popcount scan ({len(few)} q)", scan, ours)
    if faiss is not None and not args.no_faiss:
        faiss.omp_set_num_threads(1)
        flat = faiss.IndexBinaryFlat(BITS)
        as_bytes = codes.astype(">u8").view(np.uint8).reshape(size, BITS // 8)
        flat.add(as_bytes)

        def faiss_query(value: str) -> None:
            probe = np.frombuffer(bytes.fromhex(value), dtype=np.uint8).reshape(1, -1)
            flat.range_search(probe, args.distance + 1)  # faiss keeps distance < radius

        faiss_figures = timed(faiss_query, queries[: args.faiss_queries])
        result["faiss_flat"] = faiss_figures
        show(f"faiss IndexBinaryFlat ({args.faiss_queries} q)", faiss_figures, ours)
        del flat, as_bytes

    if args.snapshot:
        started = time.perf_counter()
        snapshot = index.to_bytes()
        dumped = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "pdq.idx"
            path.write_bytes(snapshot)
            del snapshot
            gc.collect()
            started = time.perf_counter()
            data = path.read_bytes()
            read = time.perf_counter() - started
            started = time.perf_counter()
            loaded = HammingIndex.from_bytes(data)
            loaded.query(queries[0][1], args.distance)
            opened = time.perf_counter() - started
            size_on_disk = path.stat().st_size
        same = all(
            loaded.query(v, args.distance) == index.query(v, args.distance)
            for _, v in queries[:200]
        )
        after_load = timed(lambda v: loaded.query(v, args.distance), queries[:1000])
        result["snapshot"] = {
            "bytes": size_on_disk,
            "to_bytes_s": dumped,
            "read_file_s": read,
            "from_bytes_s": opened,
            "identical_results": same,
            "query_after_load": after_load,
        }
        print(
            f"  snapshot                     {size_on_disk / MiB:.0f} MiB, to_bytes {dumped:.2f} s;"
            f" load: read file {read:.2f} s + from_bytes and first query {opened * 1e3:.1f} ms"
            f"   (target <= 5 s; results identical: {same})",
            flush=True,
        )
        show("ours, loaded from snapshot", after_load)
        del loaded, data

    # A warm container adding new hashes: small batches, then enough for a merge.
    fresh = words_to_hex(uniform_set(20_000, rng))
    started = time.perf_counter()
    index.add(fresh[:100])
    index.query(queries[0][1], args.distance)
    small = time.perf_counter() - started
    timed_delta = timed(lambda v: index.query(v, args.distance), queries[:200])
    started = time.perf_counter()
    index.add(fresh[100:])
    index.build()
    merge = time.perf_counter() - started
    assert index.query(fresh[-1], 0) == [(fresh[-1], 0)]
    result["add"] = {
        "add_100_and_query_s": small,
        "query_median_with_delta_ms": timed_delta["median_ms"],
        "merge_19900_s": merge,
    }
    print(
        f"  adding to the built index    100 hashes + a query {small * 1e3:.1f} ms"
        f" (median query with them in the delta {timed_delta['median_ms']:.3f} ms);"
        f" 19,900 more merged in {merge:.2f} s",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10_000_000)
    parser.add_argument("--quick", action="store_true", help="1M hashes")
    parser.add_argument("--distance", type=int, default=31)
    parser.add_argument("--queries", type=int, default=4000)
    parser.add_argument("--uploads", type=int, default=300, help="sets of 11 probes")
    parser.add_argument("--recall-sample", type=int, default=200)
    parser.add_argument("--reference-queries", type=int, default=40)
    parser.add_argument("--faiss-queries", type=int, default=200)
    parser.add_argument("--sets", default="uniform,clustered")
    parser.add_argument("--no-faiss", action="store_true")
    parser.add_argument("--no-snapshot", dest="snapshot", action="store_false")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.quick:
        args.size = 1_000_000
    print(
        f"HammingIndex bench: {args.size:,} PDQ hashes, distance {args.distance}, one thread;"
        f" numpy {np.__version__}, faiss {getattr(faiss, '__version__', 'not installed')}",
        flush=True,
    )
    results = []
    for name in args.sets.split(","):
        rng = np.random.default_rng(args.seed)
        codes = uniform_set(args.size, rng) if name == "uniform" else clustered_set(args.size, rng)
        results.append(bench_set(name, codes, args))
        del codes
        gc.collect()
    if args.json:
        args.json.write_text(json.dumps({"size": args.size, "sets": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
