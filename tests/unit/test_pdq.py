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
    _reference_dct,
    _sample_operator,
    _window_size,
    dct_blocks,
    hamming_hex,
    hashes_of_blocks,
    pdq_from_rgb,
    qualities,
    reference_buffer,
    reference_hash,
    taps,
)
from chalicelib.signals.media import decode_image  # noqa: E402
from chalicelib.signals.perceptual import PDQ  # noqa: E402

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


# ------------------------------------------------------------ flat graphics
#
# Flags, logos, text, gradients, line drawings and screenshots: flat colours and straight
# edges, often symmetric, so that many DCT coefficients are zero but for rounding.

MAX_PIXELS = 10**8
GRAPHIC_SIZES = ((200, 120), (201, 119), (641, 479), (1600, 1000))


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType sizes
        return ImageFont.load_default()


def flag_stripes(
    w: int, h: int, colours: tuple[tuple[int, int, int], ...], vertical: bool
) -> Image.Image:
    img = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(img)
    n = len(colours)
    for i, colour in enumerate(colours):
        box = (
            (i * w // n, 0, (i + 1) * w // n, h)
            if vertical
            else (0, i * h // n, w, (i + 1) * h // n)
        )
        draw.rectangle(box, fill=colour)
    return img


def flag_cross(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (200, 16, 46))
    draw = ImageDraw.Draw(img)
    bar, x = h // 5, w * 3 // 8
    draw.rectangle((x - bar // 2, 0, x + bar // 2, h), fill=(255, 255, 255))
    draw.rectangle((0, h // 2 - bar // 2, w, h // 2 + bar // 2), fill=(255, 255, 255))
    return img


def flag_canton(w: int, h: int) -> Image.Image:
    img = flag_stripes(w, h, ((178, 34, 52), (255, 255, 255)) * 6 + ((178, 34, 52),), False)
    ImageDraw.Draw(img).rectangle((0, 0, w * 2 // 5, h * 7 // 13), fill=(60, 59, 110))
    return img


def flag_disc(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    r = h * 3 // 10
    ImageDraw.Draw(img).ellipse((w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r), fill=(188, 0, 45))
    return img


def logo_badge(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    r, s = min(w, h) // 3, min(w, h) // 8
    draw.ellipse((w // 2 - r, h // 2 - r, w // 2 + r, h // 2 + r), fill=(0, 120, 215))
    draw.rectangle((w // 2 - s, h // 2 - s, w // 2 + s, h // 2 + s), fill=(255, 255, 255))
    return img


def logo_triangle(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (30, 30, 30))
    corners = [(w // 2, h // 8), (w * 7 // 8, h * 7 // 8), (w // 8, h * 7 // 8)]
    ImageDraw.Draw(img).polygon(corners, fill=(250, 200, 0))
    return img


def text_card(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    font = _font(max(10, h // 8))
    for i, line in enumerate(["Terms of service", "Click here to win", "0123456789"]):
        draw.text((w // 20, h // 10 + i * h // 4), line, fill=(0, 0, 0), font=font)
    return img


def linear_gradient(w: int, h: int, angle: float, repeats: int = 1) -> Image.Image:
    """A two-colour ramp across the picture; with repeats, bands of it with hard edges
    between them (a smooth ramp alone is too flat to reach compatibility quality)."""
    y, x = _grid(h, w)
    t = x * np.cos(angle) + y * np.sin(angle)
    t = (t - t.min()) / np.ptp(t) * repeats % 1.0
    start, end = np.array([250.0, 120.0, 20.0]), np.array([20.0, 60.0, 200.0])
    return Image.fromarray((start + t[:, :, None] * (end - start)).astype(np.uint8))


def line_drawing(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    width = max(1, min(w, h) // 100)
    for k in range(8):
        draw.line((k * w // 8, 0, w - 1, k * h // 8), fill=(0, 0, 0), width=width)
    draw.rectangle((w // 4, h // 4, w * 3 // 4, h * 3 // 4), outline=(0, 0, 0), width=width)
    return img


def screenshot(w: int, h: int) -> Image.Image:
    img = Image.new("RGB", (w, h), (240, 240, 240))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w, h // 12), fill=(50, 50, 60))
    for box in ((w // 20, h // 6, w // 3, h * 9 // 10), (w * 2 // 5, h // 6, w * 19 // 20, h // 2)):
        draw.rectangle(box, fill=(255, 255, 255), outline=(180, 180, 180))
    draw.rectangle((w * 2 // 5, h * 3 // 5, w * 3 // 5, h * 7 // 10), fill=(0, 122, 255))
    draw.text((w * 2 // 5 + 5, h * 3 // 5 + 5), "Submit", fill=(255, 255, 255), font=_font(h // 25))
    return img


GRAPHICS: dict[str, Callable[[int, int], Image.Image]] = {
    "flag_tricolour_h": lambda w, h: flag_stripes(
        w, h, ((0, 0, 0), (221, 0, 0), (255, 206, 0)), False
    ),
    "flag_tricolour_v": lambda w, h: flag_stripes(
        w, h, ((0, 85, 164), (255, 255, 255), (239, 65, 53)), True
    ),
    "flag_cross": flag_cross,
    "flag_canton": flag_canton,
    "flag_disc": flag_disc,
    "logo_badge": logo_badge,
    "logo_triangle": logo_triangle,
    "text": text_card,
    "gradient_h": lambda w, h: linear_gradient(w, h, 0.0),
    "gradient_bands_h": lambda w, h: linear_gradient(w, h, 0.0, repeats=3),
    "gradient_bands_v": lambda w, h: linear_gradient(w, h, np.pi / 2, repeats=4),
    "gradient_bands_diagonal": lambda w, h: linear_gradient(w, h, 0.6, repeats=3),
    "line_drawing": line_drawing,
    "screenshot": screenshot,
}


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.fixture(scope="module")
def graphics_results() -> dict[str, tuple[str, str, int]]:
    """Per encoded graphic: Cordon's PDQ of the bytes (the ingest path: decode, reduced for
    JPEG, then hash), and the reference's hash and quality on the fully decoded RGB."""
    out = {}
    for name, make in GRAPHICS.items():
        for w, h in GRAPHIC_SIZES:
            picture = make(w, h)
            for fmt in ("PNG", "JPEG"):
                data = _encoded(picture, fmt)
                ours = PDQ.hash_image(decode_image(data, MAX_PIXELS)).value
                ref, ref_q = reference(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
                out[f"{name}_{w}x{h}.{fmt.lower()}"] = (ours, ref, ref_q)
    return out


def test_graphics_compatible_with_reference(
    graphics_results: dict[str, tuple[str, str, int]],
) -> None:
    # GIVEN flat graphics of every kind, sizes and format
    far = {}
    for name, (ours, ref, ref_q) in graphics_results.items():
        # THEN each one of compatibility quality is within PDQ's bar of the reference
        if ref_q >= COMPAT_MIN_QUALITY and hamming_hex(ours, ref) > COMPAT_MAX_DISTANCE:
            far[name] = hamming_hex(ours, ref)
    assert not far, f"bits from the reference: {far}"
    # AND the corpus covers every kind at that quality, in both formats
    covered = {
        n.split("_")[0] for n, (_, _, q) in graphics_results.items() if q >= COMPAT_MIN_QUALITY
    }
    assert covered == {"flag", "logo", "text", "gradient", "line", "screenshot"}
    for fmt in ("png", "jpeg"):
        assert (
            sum(
                n.endswith(fmt) and q >= COMPAT_MIN_QUALITY
                for n, (_, _, q) in graphics_results.items()
            )
            >= 20
        )


@pytest.mark.parametrize(
    "image",
    [
        pytest.param(noise(h=5, w=5), id="5x5"),
        pytest.param(noise(h=64, w=64), id="64x64"),
        pytest.param(noise(h=63, w=65)[:, :, 0], id="grey_63x65"),
        pytest.param(noise(h=119, w=201), id="119x201"),
        pytest.param(checkerboard(h=300, w=1000, cell=50), id="checkerboard"),
        pytest.param(np.asarray(flag_cross(640, 400)), id="flag_cross"),
        pytest.param(np.asarray(linear_gradient(333, 517, 0.0)), id="gradient"),
    ],
)
def test_reference_path_is_bit_exact(image: np.ndarray) -> None:
    # WHEN hashed the reference's way
    # THEN hash and quality are pdqhash's, and so is every DCT coefficient, bit for bit
    assert reference_hash(image) == reference(image)
    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    coefficients, _ = pdqhash.compute_float(np.ascontiguousarray(rgb))
    expected = np.asarray(coefficients, dtype=np.float32)[::-1].reshape(16, 16)
    np.testing.assert_array_equal(_reference_dct(reference_buffer(image)), expected)


def test_photographs_are_not_decoded_twice() -> None:
    # GIVEN reduced JPEG decodes of a photograph, and a full decode that records its calls
    if len(PHOTOS) < 3:
        pytest.skip("pywt sample photographs not installed")
    data = _jpeg(resized(np.stack(list(PHOTOS.values()), axis=2), 1600, 1200))
    whole = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    expected = reference(whole)[0]
    calls: list[int] = []

    def full() -> np.ndarray:
        calls.append(1)
        return whole

    for scale in (1, 2, 4, 8):
        small, shape = _draft_decode(data, "L", scale)
        # WHEN hashed with the full decode on offer
        value, _ = pdq_from_rgb(small, full_shape=shape, exact_pixels=full)
        # THEN the hash is decided from the reduction alone, and close to the reference
        assert hamming_hex(value, expected) <= COMPAT_MAX_DISTANCE
    assert not calls


def test_exact_pixels_of_another_size_are_refused() -> None:
    small = np.asarray(flag_stripes(100, 60, ((0, 0, 0), (255, 255, 255)), False))
    with pytest.raises(ValueError):
        pdq_from_rgb(small[::2, ::2], full_shape=small.shape[:2], exact_pixels=lambda: small[:50])
