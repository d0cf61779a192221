"""Benchmark: pure-numpy PDQ (chalicelib.pdq) against the reference pdqhash.

Run from the repository root:  .venv/bin/python bench/bench_pdq.py

For a 1024x768 and a 4000x3000 JPEG (generated in memory) it prints the
median end-to-end time (JPEG bytes -> hash, decode included) of:

* ``reference``  full decode to RGB + ``pdqhash.compute``
* ``ours full``  the same full decode + ``pdq_from_rgb``
* ``ours draft`` a reduced-scale decode (``Image.draft``, luma only) +
  ``pdq_from_rgb(..., full_shape=...)``, which emulates the full-size hash

* ``ours ingest`` the ingest path (``signals.media.decode_image`` then
  ``PDQ.hash_image``): a draft decode for JPEG, with the full decode and the
  reference's own arithmetic only for images whose hash the fast path cannot
  decide (flat graphics, see ``chalicelib.pdq.pdq_from_rgb``)

with the speed-up over the reference and each variant's Hamming distance
and quality difference against the reference hash, for a photograph and for a
flag (three stripes, all of whose coefficients are zero but for rounding: the
exact path's cost), in JPEG and PNG.

``--agreement`` also hashes generated flat graphics (flags, logos, text, banded
gradients, line drawings, screenshots) and the photographs of the installed
packages at several sizes, PNG and JPEG, through the ingest path, and prints the
largest distance to the reference at quality >= 80 and how many took the exact
path.
"""

from __future__ import annotations

import io
import os

# As deployed (.chalice/config.json): OpenBLAS on one thread, as a 1-vCPU Lambda runs.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chalicelib import pdq
from chalicelib.pdq import hamming_hex, pdq_from_rgb
from chalicelib.signals.media import decode_image
from chalicelib.signals.perceptual import PDQ

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


def make_flag(width: int, height: int) -> np.ndarray:
    """Three vertical stripes: every coefficient PDQ keeps is zero but for rounding."""
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    for i, colour in enumerate(((0, 85, 164), (255, 255, 255), (239, 65, 53))):
        draw.rectangle((i * width // 3, 0, (i + 1) * width // 3, height), fill=colour)
    return np.asarray(img)


def to_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def to_png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
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


def ours_ingest(data: bytes) -> tuple[str, int]:
    signal = PDQ.hash_image(decode_image(data, 10**9))
    return signal.value, int(signal.quality or 0)


def median_ms(fn: Callable[[Any], object], arg: object, repeat: int) -> float:
    fn(arg)  # warm caches (operator matrices, allocator)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def timing() -> None:
    print(f"numpy {np.__version__}, Pillow {Image.__version__}")
    if pdqhash is None:
        print("pdqhash not installed: timing our implementation only")
    header = f"{'image':>16} {'variant':<11} {'median ms':>10} {'vs ref':>8} {'bits':>5} {'dQ':>4}"
    print(header)
    print("-" * len(header))
    for content, fmt in (("photo", "JPEG"), ("flag", "JPEG"), ("flag", "PNG")):
        for width, height in SIZES:
            make = make_photo if content == "photo" else make_flag
            data = (to_jpeg if fmt == "JPEG" else to_png)(make(width, height))
            repeat = 15 if width * height < 2_000_000 else 7
            label = f"{content} {fmt.lower()} {width}x{height}"
            ref = reference_hash(data) if pdqhash else None
            ref_ms = median_ms(reference_hash, data, repeat) if pdqhash else None
            if ref_ms is not None:
                print(f"{label:>16} {'reference':<11} {ref_ms:>10.1f} {'1.00x':>8} {0:>5} {0:>4}")
            pixels = decode_full(data)
            hash_ms = median_ms(pdq_from_rgb, pixels, repeat)
            line = f"{label:>16} {'ours hash':<11} {hash_ms:>10.1f}"
            if pdqhash is not None:
                ref_hash_ms = median_ms(pdqhash.compute, pixels, repeat)
                line += f"   (hash only, decode excluded; pdqhash.compute: {ref_hash_ms:.1f} ms)"
            print(line)
            variants: list[tuple[str, Callable[[bytes], tuple[str, int]]]] = [
                ("ours full", ours_full)
            ]
            if fmt == "JPEG":
                variants.append(("ours draft", ours_draft))
            variants.append(("ours ingest", ours_ingest))
            for name, fn in variants:
                ms = median_ms(fn, data, repeat)
                hex_hash, quality = fn(data)
                if ref is None or ref_ms is None:
                    print(f"{label:>16} {name:<11} {ms:>10.1f}")
                    continue
                speedup = f"{ref_ms / ms:.2f}x"
                dist = hamming_hex(hex_hash, ref[0])
                print(
                    f"{label:>16} {name:<11} {ms:>10.1f} {speedup:>8} {dist:>5} "
                    f"{quality - ref[1]:>4}"
                )


# -- agreement survey ---------------------------------------------------------------------

AGREEMENT_SIZES = ((200, 120), (201, 119), (480, 360), (800, 533), (1280, 720), (1599, 1001))
WORDS = ("report", "takedown", "cordon", "login", "submit", "cancel", "free", "price", "2026")


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in rng.integers(0, 256, 3))
    return r, g, b


def _font(size: int) -> Any:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType sizes
        return ImageFont.load_default()


def graphic(kind: str, rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A random flat graphic of one kind: flat colours, straight edges, often symmetric."""
    img = Image.new("RGB", (w, h), (255, 255, 255) if kind in ("text", "lines") else _colour(rng))
    draw = ImageDraw.Draw(img)
    if kind == "flag":
        n, vertical = int(rng.integers(2, 14)), bool(rng.random() < 0.4)
        colours = [_colour(rng) for _ in range(int(rng.integers(2, 4)))]
        for i in range(n):
            box = (
                (i * w // n, 0, (i + 1) * w // n, h)
                if vertical
                else (0, i * h // n, w, (i + 1) * h // n)
            )
            draw.rectangle(box, fill=colours[i % len(colours)])
        if rng.random() < 0.5:
            bar, x, colour = max(2, h // 6), int(w * rng.choice([0.375, 0.5])), _colour(rng)
            draw.rectangle((x - bar // 2, 0, x + bar // 2, h), fill=colour)
            draw.rectangle((0, h // 2 - bar // 2, w, h // 2 + bar // 2), fill=colour)
    elif kind == "logo":
        side, centred = min(w, h), bool(rng.random() < 0.5)
        for _ in range(int(rng.integers(1, 5))):
            r = int(side * rng.uniform(0.1, 0.45))
            cx, cy = (w // 2, h // 2)
            if not centred:
                cx, cy = int(rng.integers(r, w - r + 1)), int(rng.integers(r, h - r + 1))
            box = (cx - r, cy - r, cx + r, cy + r)
            shape = int(rng.integers(0, 3))
            if shape == 0:
                draw.ellipse(box, fill=_colour(rng))
            elif shape == 1:
                draw.rectangle(box, fill=_colour(rng))
            else:
                draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=_colour(rng))
    elif kind == "text":
        size = max(8, int(h / rng.uniform(5, 15)))
        for y in range(size // 2, h - size, int(size * 1.4)):
            line = " ".join(rng.choice(WORDS, int(rng.integers(2, 6))))
            draw.text((size // 2, y), line, fill=(0, 0, 0), font=_font(size))
    elif kind == "gradient":
        y, x = np.mgrid[0:h, 0:w].astype(np.float64)
        angle = float(rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)]))
        t = x * np.cos(angle) + y * np.sin(angle)
        t = (t - t.min()) / np.ptp(t) * int(rng.integers(1, 5)) % 1.0
        start, end = np.array(_colour(rng), float), np.array(_colour(rng), float)
        return Image.fromarray((start + t[:, :, None] * (end - start)).astype(np.uint8))
    elif kind == "lines":
        width = int(rng.integers(1, 6))
        for _ in range(int(rng.integers(3, 20))):
            x0, x1 = sorted(int(v) for v in rng.integers(0, w, 2))
            y0, y1 = sorted(int(v) for v in rng.integers(0, h, 2))
            if rng.random() < 0.6:
                draw.line((x0, y0, x1, y1), fill=(0, 0, 0), width=width)
            else:
                draw.rectangle((x0, y0, x1, y1), outline=(0, 0, 0), width=width)
    else:  # a screenshot: title bar, panels, buttons with labels
        draw.rectangle((0, 0, w, h // 12), fill=_colour(rng))
        for _ in range(int(rng.integers(2, 8))):
            x0, y0 = int(rng.integers(0, w * 3 // 4)), int(rng.integers(h // 10, h * 3 // 4))
            x1, y1 = (
                x0 + int(rng.integers(w // 10, w // 3)),
                y0 + int(rng.integers(h // 20, h // 4)),
            )
            draw.rectangle((x0, y0, x1, y1), fill=_colour(rng), outline=(200, 200, 200))
            draw.text(
                (x0 + 4, y0 + 4),
                " ".join(rng.choice(WORDS, 2)),
                fill=(20, 20, 20),
                font=_font(max(8, h // 30)),
            )
    return img


def agreement(count: int) -> None:
    """Largest distance to the reference (quality >= 80) through the ingest path."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from robustness import photographs

    exact_calls = [0]
    exact_hash = pdq.reference_hash

    def counted(rgb: np.ndarray) -> tuple[str, int]:
        exact_calls[0] += 1
        return exact_hash(rgb)

    pdq.reference_hash = counted  # counts the images the fast path left undecided
    rng = np.random.default_rng(2026)
    kinds = ("flag", "logo", "text", "gradient", "lines", "screenshot")
    pictures: list[tuple[str, Image.Image]] = []
    for i in range(count):
        w, h = AGREEMENT_SIZES[int(rng.integers(len(AGREEMENT_SIZES)))]
        if rng.random() < 0.3:
            w, h = h, w
        pictures.append(("graphics", graphic(kinds[i % len(kinds)], rng, w, h)))
    for photo in photographs().values():
        for scale in (0.5, 1.0, 2.3):
            size = (max(32, int(photo.width * scale)), max(32, int(photo.height * scale)))
            pictures.append(("photographs", photo.resize(size, Image.BICUBIC)))
    rows: dict[tuple[str, str], list[tuple[int, int, bool]]] = {}
    for group, picture in pictures:
        for fmt in ("PNG", "JPEG"):
            buf = io.BytesIO()
            picture.save(
                buf, fmt, **({"quality": int(rng.choice([70, 85, 95]))} if fmt == "JPEG" else {})
            )
            data = buf.getvalue()
            before = exact_calls[0]
            ours, _ = ours_ingest(data)
            ref, ref_q = reference_hash(data)
            rows.setdefault((group, fmt), []).append(
                (hamming_hex(ours, ref), ref_q, exact_calls[0] > before)
            )
    pdq.reference_hash = exact_hash
    print(
        f"{'corpus':<12} {'format':<6} {'images':>6} {'q>=80':>6} {'max bits':>8} "
        f"{'exact path':>10}"
    )
    for (group, fmt), results in rows.items():
        good = [d for d, q, _ in results if q >= 80]
        exact = sum(e for _, _, e in results)
        print(
            f"{group:<12} {fmt:<6} {len(results):>6} {len(good):>6} {max(good, default=0):>8} "
            f"{exact:>6} ({exact / len(results):.0%})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agreement", action="store_true", help="also survey agreement")
    parser.add_argument("--graphics", type=int, default=300, help="generated graphics (survey)")
    args = parser.parse_args()
    timing()
    if args.agreement:
        print()
        agreement(args.graphics)


if __name__ == "__main__":
    main()
