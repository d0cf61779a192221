"""Compatibility tests for the pure-numpy PDQ against the reference pdqhash."""

from __future__ import annotations

import importlib.util
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

pdqhash = pytest.importorskip("pdqhash")

from chalicelib.pdq import (  # noqa: E402
    DEFAULT_MATCH_DISTANCE,
    MIN_QUALITY,
    PDQ_BITS,
    _box_extents,
    _dct_matrix,
    _downsample,
    _operator,
    _sample_operator,
    _window_size,
    dct_blocks,
    hamming_hex,
    hashes_of_blocks,
    pdq_from_rgb,
    qualities,
    taps,
)

# PDQ's own bar for calling two implementations compatible: on images of
# quality >= 80 their hashes must be within 10 bits of each other.
COMPAT_MIN_QUALITY = 80
COMPAT_MAX_DISTANCE = 10
QUALITY_TOLERANCE = 2


def reference(image: np.ndarray) -> tuple[str, int]:
    """pdqhash's result, formatted the way python-threatexchange formats it.

    pdqhash wants HxWx3, so greyscale is repeated into three channels (as
    python-threatexchange does); its bit vector is read as one big-endian
    binary number.
    """
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    bits, quality = pdqhash.compute(np.ascontiguousarray(image, dtype=np.uint8))
    value = int("".join(str(int(b)) for b in bits), 2)
    return f"{value:064x}", int(quality)


# ---------------------------------------------------------------- corpus


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0:h, 0:w].astype(np.float64)


def gradient_h(h: int = 480, w: int = 640) -> np.ndarray:
    _, x = _grid(h, w)
    return (x / (w - 1) * 255).astype(np.uint8)


def gradient_rgb(h: int = 300, w: int = 500) -> np.ndarray:
    y, x = _grid(h, w)
    r = x / (w - 1)
    g = y / (h - 1)
    b = np.hypot(x - w / 2, y - h / 2) / np.hypot(w / 2, h / 2)
    return (np.stack([r, g, b], axis=2) * 255).astype(np.uint8)


def waves(h: int = 600, w: int = 800) -> np.ndarray:
    y, x = _grid(h, w)
    v = np.sin(x / 37.0) * np.cos(y / 23.0) + 0.5 * np.sin((x + 2 * y) / 61.0)
    return ((v - v.min()) / np.ptp(v) * 255).astype(np.uint8)


def checkerboard(h: int = 512, w: int = 512, cell: int = 64) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (((y // cell + x // cell) % 2) * 255).astype(np.uint8)


def shapes(h: int = 480, w: int = 640, seed: int = 1) -> np.ndarray:
    rng = _rng(seed)
    img = Image.new("RGB", (w, h), (20, 30, 40))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, x1 = sorted(rng.integers(0, w, 2).tolist())
        y0, y1 = sorted(rng.integers(0, h, 2).tolist())
        colour = tuple(rng.integers(0, 256, 3).tolist())
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return np.asarray(img)


def noise(h: int = 300, w: int = 200, seed: int = 2) -> np.ndarray:
    return _rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def smooth_noise(h: int = 700, w: int = 900, seed: int = 3) -> np.ndarray:
    coarse = _rng(seed).integers(0, 256, (h // 25, w // 25, 3), dtype=np.uint8)
    img = Image.fromarray(coarse).resize((w, h), Image.BICUBIC)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(3)))


def text(h: int = 400, w: int = 900) -> np.ndarray:
    img = Image.new("L", (w, h), 255)
    draw = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=48)
    except TypeError:  # Pillow built without FreeType sizes
        font = ImageFont.load_default()
    lines = ["CORDON takedown 0123456789", "The quick brown fox jumps", "over the lazy dog!?"]
    for i, line in enumerate(lines):
        draw.text((20, 30 + i * 110), line, fill=0, font=font)
    return np.asarray(img)


def resized(image: np.ndarray, w: int, h: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((w, h), Image.BICUBIC))


SYNTHETIC: dict[str, Callable[[], np.ndarray]] = {
    "gradient_h": gradient_h,
    "gradient_rgb": gradient_rgb,
    "waves": waves,
    "checkerboard": checkerboard,
    "shapes": shapes,
    "shapes_other": lambda: shapes(seed=7),
    "shapes_blur32": lambda: np.asarray(
        Image.fromarray(shapes()).filter(ImageFilter.GaussianBlur(32))
    ),
    "noise": noise,
    "smooth_noise": smooth_noise,
    "text": text,
    "tiny_40x30": lambda: resized(shapes(), 40, 30),
    "tiny_grey_40x30": lambda: resized(waves(), 40, 30),
    "exact_64x64": lambda: resized(smooth_noise(), 64, 64),
    "small_100x7": lambda: resized(shapes(), 100, 7),
    "tall_131x777": lambda: resized(smooth_noise(), 131, 777),
    "wide_1001x99": lambda: resized(waves(), 1001, 99),
    "large_2000x1500": lambda: resized(smooth_noise(seed=5), 2000, 1500),
    "large_grey_1500x2000": lambda: resized(waves(), 1500, 2000),
}

# Real photographs shipped with PyWavelets (512x512 greyscale): the classic
# "cameraman", "ascent" (scipy's staircase photo) and an aerial photograph.
_PYWT = importlib.util.find_spec("pywt")
PYWT_DATA = Path(_PYWT.origin).parent / "data" if _PYWT and _PYWT.origin else None
PHOTO_NAMES = ("camera", "ascent", "aero")


def load_photos() -> dict[str, np.ndarray]:
    photos: dict[str, np.ndarray] = {}
    if PYWT_DATA is None:
        return photos
    for name in PHOTO_NAMES:
        path = PYWT_DATA / f"{name}.npz"
        if path.exists():
            photos[name] = np.load(path)["data"]
    return photos


def photo_variants(photos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name, grey in photos.items():
        out[name] = grey
        out[f"{name}_crop"] = grey[37:450, 10:300]
        out[f"{name}_2000x1500"] = resized(grey, 2000, 1500)
        out[f"{name}_40x30"] = resized(grey, 40, 30)
        # Low-contrast and blurred copies spread the quality scores over
        # 5..100 (sharp photos all score 100).
        for contrast in (0.1, 0.2, 0.3):
            faded = grey.astype(np.float64) * contrast + 128 * (1 - contrast)
            out[f"{name}_contrast{contrast}"] = faded.round().astype(np.uint8)
        blurred = Image.fromarray(grey).filter(ImageFilter.GaussianBlur(16))
        out[f"{name}_blur16"] = np.asarray(blurred)
    if len(photos) == 3:
        # Three photos as the R, G, B planes: a colourful "photo" in which
        # the channel weights of the luma conversion really matter.
        planes = list(photos.values())
        rgb = np.stack(planes, axis=2)
        out["photo_rgb"] = rgb
        out["photo_rgb_1024x768"] = resized(rgb, 1024, 768)
        out["photo_rgb_333x517"] = resized(rgb, 333, 517)
    return out


PHOTOS = load_photos()


@pytest.fixture(scope="module")
def corpus() -> dict[str, np.ndarray]:
    images = {name: make() for name, make in SYNTHETIC.items()}
    images.update(photo_variants(PHOTOS))
    return images


@pytest.fixture(scope="module")
def results(corpus: dict[str, np.ndarray]) -> dict[str, tuple[str, int, str, int]]:
    out = {}
    for name, image in corpus.items():
        ours, our_q = pdq_from_rgb(image)
        ref, ref_q = reference(image)
        out[name] = (ours, our_q, ref, ref_q)
    return out


# ---------------------------------------------------------------- tests


def test_constants() -> None:
    assert PDQ_BITS == 256
    assert MIN_QUALITY == 50
    assert DEFAULT_MATCH_DISTANCE == 31


def test_hash_format(results: dict[str, tuple[str, int, str, int]]) -> None:
    for name, (ours, quality, _, _) in results.items():
        assert len(ours) == 64, name
        assert ours == ours.lower(), name
        int(ours, 16)
        assert 0 <= quality <= 100, name


def test_compatible_with_reference(results: dict[str, tuple[str, int, str, int]]) -> None:
    distances = []
    for name, (ours, _, ref, ref_q) in results.items():
        if ref_q < COMPAT_MIN_QUALITY:
            continue
        d = hamming_hex(ours, ref)
        assert d <= COMPAT_MAX_DISTANCE, f"{name}: {d} bits from the reference"
        distances.append(d)
    # The corpus must actually exercise the check, and on most images the
    # two should agree exactly (only float rounding differs).
    assert len(distances) >= 15
    assert float(np.median(distances)) <= 1


def test_quality_matches_reference(results: dict[str, tuple[str, int, str, int]]) -> None:
    for name, (_, our_q, _, ref_q) in results.items():
        assert abs(our_q - ref_q) <= QUALITY_TOLERANCE, f"{name}: {our_q} vs {ref_q}"


def test_corpus_has_low_quality_images(results: dict[str, tuple[str, int, str, int]]) -> None:
    # Make sure the quality comparison above covers the whole scale, not
    # just the saturated 100s that sharp images get.
    qualities = {ref_q for _, _, _, ref_q in results.values()}
    assert min(qualities) < MIN_QUALITY
    assert any(COMPAT_MIN_QUALITY <= q < 100 for q in qualities)
    assert any(MIN_QUALITY <= q < COMPAT_MIN_QUALITY for q in qualities)


@pytest.mark.parametrize("name", ["noise", "shapes", "waves", "tall_131x777"])
def test_dct_coefficients_close_to_reference(name: str) -> None:
    image = SYNTHETIC[name]()
    ref_coeffs, _ = pdqhash.compute_float(
        np.ascontiguousarray(image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2))
    )
    # compute_float returns the 16x16 block flattened row-major, reversed.
    ref_block = np.asarray(ref_coeffs, dtype=np.float64)[::-1].reshape(16, 16)
    buf = _downsample(image, image.shape[:2]).astype(np.float64)
    dct = _dct_matrix()
    ours = dct @ buf @ dct.T
    scale = np.abs(ref_block).max()
    assert np.abs(ours - ref_block).max() <= 1e-4 * scale


def _naive_box(signal: np.ndarray, w: int) -> np.ndarray:
    """Clipped moving average, one output at a time (slow but obvious)."""
    left, right = _box_extents(w)
    n = len(signal)
    return np.array([signal[max(0, i - left) : min(n, i + right + 1)].mean() for i in range(n)])


@pytest.mark.parametrize("n", [5, 7, 64, 129, 256, 300, 383, 512, 1000])
def test_sample_operator_matches_naive_tent(n: int) -> None:
    assert _box_extents(1) == (0, 0)
    assert _box_extents(2) == (0, 1)
    assert _box_extents(7) == (3, 3)
    assert _box_extents(8) == (3, 4)
    w = _window_size(n)
    assert w == -(-n // 128)
    signal = _rng(n).random(n) * 255
    blurred = _naive_box(_naive_box(signal, w), w)
    expected = blurred[((np.arange(64) + 0.5) * n / 64).astype(int)]
    op, lo, hi = _sample_operator(n)
    np.testing.assert_allclose(op @ signal, expected, rtol=1e-5)
    # The recorded supports bracket exactly the non-zero weights.
    cols = np.arange(n)
    inside = (cols >= lo[:, None]) & (cols <= hi[:, None])
    assert np.all(op[inside] > 0)
    assert np.all(np.abs(op[~inside]) < 1e-7)


@pytest.mark.parametrize(("full", "actual"), [(300, 300), (1024, 256), (768, 384), (997, 125)])
def test_taps_apply_the_operator(full: int, actual: int) -> None:
    # GIVEN an axis's operator (full size or a reduction) and the same as taps
    op = _operator(full, actual)[0]
    index, weights = taps(full, actual)
    signal = _rng(actual).random((actual, 5)).astype(np.float32) * 255
    # THEN gathering the taps gives the operator's product
    gathered = (weights[:, :, None] * signal[index]).sum(axis=1)
    np.testing.assert_allclose(gathered, op @ signal, rtol=1e-5, atol=1e-3)


def test_batched_quality_dct_and_bits_equal_one_at_a_time() -> None:
    # GIVEN the buffers of a few different images
    images = [SYNTHETIC[name]() for name in ("noise", "shapes", "waves")]
    buffers = np.stack([_downsample(image, image.shape[:2]) for image in images])
    # WHEN hashed as one batch
    values = hashes_of_blocks(dct_blocks(buffers))
    # THEN each hash and quality is the one pdq_from_rgb gives for its image alone
    assert [(v, int(q)) for v, q in zip(values, qualities(buffers), strict=True)] == [
        pdq_from_rgb(image) for image in images
    ]


@pytest.mark.parametrize("shape", [(4, 100, 3), (100, 4), (0, 0, 3), (4, 4)])
def test_too_small_gives_empty_hash(shape: tuple[int, ...]) -> None:
    image = np.full(shape, 128, dtype=np.uint8)
    assert pdq_from_rgb(image) == ("0" * 64, 0)
    if 0 not in shape:
        assert reference(image) == ("0" * 64, 0)


def test_greyscale_equals_rgb_grey() -> None:
    grey = waves()
    rgb = np.repeat(grey[:, :, None], 3, axis=2)
    assert hamming_hex(pdq_from_rgb(grey)[0], pdq_from_rgb(rgb)[0]) <= 2
    assert pdq_from_rgb(grey[:, :, None]) == pdq_from_rgb(grey)


@pytest.mark.parametrize("shape", [(10, 10, 4), (10, 10, 2), (10,), (2, 10, 10, 3)])
def test_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        pdq_from_rgb(np.zeros(shape, dtype=np.uint8))


def test_hash_is_deterministic_and_image_sensitive() -> None:
    a = shapes(seed=1)
    b = shapes(seed=2)
    assert pdq_from_rgb(a) == pdq_from_rgb(a.copy())
    assert hamming_hex(pdq_from_rgb(a)[0], pdq_from_rgb(b)[0]) > DEFAULT_MATCH_DISTANCE


def test_hamming_hex_basics() -> None:
    zero = "0" * 64
    ones = "f" * 64
    assert hamming_hex(zero, zero) == 0
    assert hamming_hex(zero, ones) == 256
    assert hamming_hex(zero, "0" * 63 + "1") == 1
    assert hamming_hex("8" + "0" * 63, zero) == 1
    assert hamming_hex("a" * 64, "5" * 64) == 256
    a = "0123456789abcdef" * 4
    b = "fedcba9876543210" * 4
    assert hamming_hex(a, b) == hamming_hex(b, a)
    assert hamming_hex(a.upper(), a) == 0
    with pytest.raises(ValueError):
        hamming_hex(zero, "0" * 63)


# ------------------------------------------------- reduced-scale JPEG decode


def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _draft_decode(data: bytes, mode: str, scale: int) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode at 1/scale via libjpeg's DCT scaling; return it and the full shape."""
    img = Image.open(io.BytesIO(data))
    full = (img.height, img.width)
    # Pillow picks the largest libjpeg scale that keeps the size >= requested.
    img.draft(mode, (img.width // scale, img.height // scale))
    return np.asarray(img.convert(mode)), full


@pytest.mark.parametrize("size", [(2000, 1500), (1501, 1999)])
@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_draft_decode_compatible(size: tuple[int, int], mode: str) -> None:
    if len(PHOTOS) < 3:
        pytest.skip("pywt sample photographs not installed")
    rgb = resized(np.stack(list(PHOTOS.values()), axis=2), *size)
    data = _jpeg(rgb)
    ref_hash, ref_q = reference(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    assert ref_q >= COMPAT_MIN_QUALITY
    for scale in (2, 4, 8):
        small, full = _draft_decode(data, mode, scale)
        assert small.shape[0] == -(-full[0] // scale)  # the draft really reduced it
        ours, our_q = pdq_from_rgb(small, full_shape=full)
        # Tighter than the 10-bit bar: the size-aware path should stay close.
        assert hamming_hex(ours, ref_hash) <= 4, (scale, small.shape)
        assert abs(our_q - ref_q) <= QUALITY_TOLERANCE


def test_full_shape_equal_to_shape_is_a_no_op() -> None:
    image = shapes()
    assert pdq_from_rgb(image, full_shape=image.shape[:2]) == pdq_from_rgb(image)


@pytest.mark.parametrize("full", [(480, 650), (1000, 640), (400, 600)])
def test_full_shape_rejects_non_integer_reductions(full: tuple[int, int]) -> None:
    with pytest.raises(ValueError):
        pdq_from_rgb(shapes(h=480, w=640), full_shape=full)


# ------------------------------------------------------------ real photos


@pytest.mark.skipif(not PHOTOS, reason="no sample photographs installed")
def test_real_photos_match_reference_exactly_or_nearly() -> None:
    for name, image in photo_variants(PHOTOS).items():
        ours, our_q = pdq_from_rgb(image)
        ref, ref_q = reference(image)
        assert abs(our_q - ref_q) <= QUALITY_TOLERANCE, name
        if ref_q >= COMPAT_MIN_QUALITY:
            assert hamming_hex(ours, ref) <= COMPAT_MAX_DISTANCE, name


@pytest.mark.skipif(not PHOTOS, reason="no sample photographs installed")
def test_real_photo_survives_jpeg_recompression() -> None:
    # Not a compatibility check but a sanity check of the hash's purpose:
    # a lossy re-encode must stay well inside the match threshold.
    photo = next(iter(PHOTOS.values()))
    data = _jpeg(photo, quality=40)
    again = np.asarray(Image.open(io.BytesIO(data)))
    assert hamming_hex(pdq_from_rgb(photo)[0], pdq_from_rgb(again)[0]) <= DEFAULT_MATCH_DISTANCE
