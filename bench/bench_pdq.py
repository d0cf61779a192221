"""Benchmark: pure-numpy PDQ (chalicelib.pdq) against the reference pdqhash.

Run from the repository root:  .venv/bin/python bench/bench_pdq.py

For a 1024x768 and a 4000x3000 JPEG (generated in memory) it prints the
median end-to-end time (JPEG bytes -> hash, decode included) of:

* ``reference``  full decode to RGB + ``pdqhash.compute``
* ``ours full``  the same full decode + ``pdq_from_rgb``
* ``ours draft`` a reduced-scale decode (``Image.draft``, luma only) +
  ``pdq_from_rgb(..., full_shape=...)``, which emulates the full-size hash

with the speed-up over the reference and each variant's Hamming distance
and quality difference against the reference hash.
"""

from __future__ import annotations

import io
import os

# As deployed (.chalice/config.json): OpenBLAS on one thread, as a 1-vCPU Lambda runs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib.pdq import hamming_hex, pdq_from_rgb

try:
    import pdqhash
except ImportError:  # still useful as a timing of our side alone
    pdqhash = None

SIZES = [(1024, 768), (4000, 3000)]
# Smallest short side we let a draft decode shrink to. Going lower still
# stays within a few bits thanks to full_shape, but this keeps a margin.
MIN_DRAFT_SIDE = 256


def make_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like RGB image: smooth colour structure, edges, sensor noise."""
    rng = np.random.default_rng(seed)
    try:
        import pywt.data  # real photographs, if PyWavelets is installed

        planes = [pywt.data.camera(), pywt.data.ascent(), pywt.data.aero()]
        base = Image.fromarray(np.stack(planes, axis=2))
    except Exception:
        coarse = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        base = Image.fromarray(coarse).resize((512, 384), Image.BICUBIC)
        base = base.filter(ImageFilter.GaussianBlur(2))
    img = np.asarray(base.resize((width, height), Image.BICUBIC), dtype=np.float32)
    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def to_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def decode_full(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def reference_hash(data: bytes) -> tuple[str, int]:
    bits, quality = pdqhash.compute(decode_full(data))
    return f"{int(''.join(str(int(b)) for b in bits), 2):064x}", int(quality)


def ours_full(data: bytes) -> tuple[str, int]:
    return pdq_from_rgb(decode_full(data))


def ours_draft(data: bytes) -> tuple[str, int]:
    img = Image.open(io.BytesIO(data))
    full_shape = (img.height, img.width)
    if img.format == "JPEG" and img.mode in ("RGB", "L"):
        # libjpeg can decode at 1/2, 1/4 or 1/8 scale almost for free, and
        # straight to its Y channel (same 0.299/0.587/0.114 weights as PDQ).
        scale = 8
        while scale > 1 and min(img.size) // scale < MIN_DRAFT_SIDE:
            scale //= 2
        img.draft("L", (img.width // scale, img.height // scale))
    elif img.mode != "L":
        img = img.convert("RGB")
    return pdq_from_rgb(np.asarray(img), full_shape=full_shape)


def median_ms(fn: Callable[[Any], object], arg: object, repeat: int) -> float:
    fn(arg)  # warm caches (operator matrices, allocator)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    print(f"numpy {np.__version__}, Pillow {Image.__version__}")
    if pdqhash is None:
        print("pdqhash not installed: timing our implementation only")
    header = f"{'image':>10} {'variant':<11} {'median ms':>10} {'vs ref':>8} {'bits':>5} {'dQ':>4}"
    print(header)
    print("-" * len(header))
    for width, height in SIZES:
        data = to_jpeg(make_photo(width, height))
        repeat = 15 if width * height < 2_000_000 else 7
        label = f"{width}x{height}"
        ref = reference_hash(data) if pdqhash else None
        ref_ms = median_ms(reference_hash, data, repeat) if pdqhash else None
        if ref_ms is not None:
            print(f"{label:>10} {'reference':<11} {ref_ms:>10.1f} {'1.00x':>8} {0:>5} {0:>4}")
        pixels = decode_full(data)
        hash_ms = median_ms(pdq_from_rgb, pixels, repeat)
        line = f"{label:>10} {'ours hash':<11} {hash_ms:>10.1f}"
        if pdqhash is not None:
            ref_hash_ms = median_ms(pdqhash.compute, pixels, repeat)
            line += f"   (hash only, decode excluded; pdqhash.compute: {ref_hash_ms:.1f} ms)"
        print(line)
        for name, fn in (("ours full", ours_full), ("ours draft", ours_draft)):
            ms = median_ms(fn, data, repeat)
            hex_hash, quality = fn(data)
            if ref is None or ref_ms is None:
                print(f"{label:>10} {name:<11} {ms:>10.1f}")
                continue
            speedup = f"{ref_ms / ms:.2f}x"
            dist = hamming_hex(hex_hash, ref[0])
            print(
                f"{label:>10} {name:<11} {ms:>10.1f} {speedup:>8} {dist:>5} {quality - ref[1]:>4}"
            )


if __name__ == "__main__":
    main()
