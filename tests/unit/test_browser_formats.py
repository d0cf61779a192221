"""What browsers display is what Cordon hashes: damaged files drawn as far as they go, every
image format a browser draws, polyglots as the image they show, SVG drawn safely, and big
canvases within the function's limits. On PyWavelets' photographs."""

from __future__ import annotations

import base64
import importlib.util
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aws_lambda_powertools import Metrics
from PIL import Image, ImageFile

from chalicelib.pdq import DEFAULT_MATCH_DISTANCE, hamming_hex
from chalicelib.signals import examine_bytes, media, sniff
from chalicelib.signals.media import DecodeBudget, ImageRejected

MAX_PIXELS = 10**8
_PYWT = importlib.util.find_spec("pywt")
PYWT_DATA = Path(_PYWT.origin).parent / "data" if _PYWT and _PYWT.origin else None
NAMES = [n for n in ("ascent", "camera", "aero") if PYWT_DATA and (PYWT_DATA / f"{n}.npz").exists()]
pytestmark = pytest.mark.skipif(not NAMES, reason="PyWavelets' photographs not installed")


def photo(name: str) -> Image.Image:
    assert PYWT_DATA is not None
    return Image.fromarray(np.load(PYWT_DATA / f"{name}.npz")["data"]).convert("RGB")


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def shared_pdq(image: Image.Image) -> str:
    """The hash a platform shares of the original: its PDQ as a lossless file."""
    signal = examine_bytes(encode(image, "PNG"), MAX_PIXELS).signal("pdq")
    assert signal is not None
    return signal.value


def distance_to_original(data: bytes, image: Image.Image) -> int | None:
    examination = examine_bytes(data, MAX_PIXELS)
    pdqs = [s for s in examination.signals if s.type == "pdq" and s.variant == "original"]
    if not pdqs:
        return None
    return min(hamming_hex(s.value, shared_pdq(image)) for s in pdqs)


def svg_with(png: bytes, width: int, height: int, extra: str = "") -> bytes:
    href = "data:image/png;base64," + base64.b64encode(png).decode()
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">{extra}'
        f'<image width="{width}" height="{height}" xlink:href="{href}"/></svg>'
    ).encode()


# ---------------------------------------------------------------- damaged files


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("fmt", "options"),
    [("JPEG", {"quality": 90}), ("PNG", {}), ("GIF", {}), ("WEBP", {"quality": 90})],
    ids=["jpeg", "png", "gif", "webp"],
)
def test_truncated_image_is_hashed_as_drawn_and_matches_the_original(
    name: str, fmt: str, options: dict[str, Any]
):
    # GIVEN a known-bad photograph whose file lost its last bytes (the JPEG its end marker,
    # the PNG its end chunk and CRC, the WebP the end of its picture data)
    image = photo(name)
    data = encode(image, fmt, **options)
    cut = data[:-2] if fmt != "PNG" else data[: -len(data) // 100]
    assert not ImageFile.LOAD_TRUNCATED_IMAGES

    # WHEN it is examined
    examination = examine_bytes(cut, MAX_PIXELS)

    # THEN it was drawn as a browser draws it, and its PDQ is the original's
    assert examination.signal("pdq") is not None, examination.problems
    assert distance_to_original(cut, image) <= DEFAULT_MATCH_DISTANCE  # type: ignore[operator]
    assert examination.problems == ()
    assert any("damaged or truncated" in n for n in examination.notes) or fmt == "GIF"
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # the lenient switch was put back


@pytest.mark.parametrize("name", NAMES)
def test_jpeg_cut_by_a_tenth_still_matches(name: str):
    image = photo(name)
    data = encode(image, "JPEG", quality=90)

    distance = distance_to_original(data[: len(data) * 9 // 10], image)

    assert distance is not None and distance <= DEFAULT_MATCH_DISTANCE


@pytest.mark.parametrize(
    ("fmt", "options"), [("JPEG", {"quality": 90}), ("PNG", {}), ("WEBP", {"quality": 90})]
)
def test_image_cut_by_half_is_hashed_and_reported_incomplete(fmt: str, options: dict[str, Any]):
    # GIVEN half a file: the top of the picture drawn, the rest flat (or, for WebP, zeros)
    data = encode(photo(NAMES[0]), fmt, **options)

    examination = examine_bytes(data[: len(data) // 2], MAX_PIXELS)

    # THEN the part drawn is hashed, and the scan says it covers part of the picture only
    # (past about a tenth missing, PDQ no longer finds the original: held for review)
    assert examination.signal("pdq") is not None
    (problem,) = examination.problems
    assert "of it could be drawn, the hashes stand for that part" in problem


def test_nothing_drawable_is_unscannable_with_its_reason():
    data = encode(photo(NAMES[0]), "PNG")[:200]  # the header and hardly a row

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.signal("pdq") is None
    (problem,) = examination.problems
    assert problem.startswith("image/png: corrupt or truncated image, nothing could be drawn")


def test_unscannable_objects_are_counted():
    # GIVEN the shared powertools metric set the ingest batch flushes
    metrics = Metrics(namespace="Cordon", service="ingest")
    metrics.clear_metrics()

    examine_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, MAX_PIXELS)
    examine_bytes(encode(photo(NAMES[0]), "PNG"), MAX_PIXELS)

    assert metrics.metric_set["ObjectsUnscannable"]["Value"] == [1.0]
    metrics.clear_metrics()


# ---------------------------------------------------------------- every format


FORMATS: list[tuple[str, str, dict[str, Any]]] = [
    ("AVIF", "image/avif", {"quality": 90}),
    ("HEIF", "image/heic", {"quality": 90}),
    ("JXL", "image/jxl", {"quality": 90}),
    ("JPEG2000", "image/jp2", {}),
    ("ICO", "image/x-icon", {"sizes": [(256, 256)]}),
    ("TIFF", "image/tiff", {}),
    ("BMP", "image/bmp", {}),
]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(("fmt", "media_type", "options"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_a_browser_draws_is_hashed_like_any_image(
    name: str, fmt: str, media_type: str, options: dict[str, Any]
):
    image = photo(name)
    data = encode(image, fmt, **options)

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.media_type == media_type
    assert examination.problems == ()
    assert distance_to_original(data, image) <= 16  # type: ignore[operator]


def test_svg_embedding_the_picture_is_drawn_and_matches():
    image = photo(NAMES[0])
    data = svg_with(encode(image, "PNG"), image.width, image.height)

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.media_type == "image/svg+xml"
    assert examination.problems == ()
    assert distance_to_original(data, image) <= 16  # type: ignore[operator]


def test_svg_reads_no_local_file_and_expands_no_entity(tmp_path: Path):
    # GIVEN an SVG that names a picture on the machine's disk, and one declaring an entity
    secret = tmp_path / "secret.png"
    secret.write_bytes(encode(photo(NAMES[0]), "PNG"))
    local = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="512" height="512"><image width="512" height="512" xlink:href="{secret}"/>'
        "</svg>"
    ).encode()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>'
        b'<svg xmlns="http://www.w3.org/2000/svg"><text>&a;</text></svg>'
    )

    drawn = examine_bytes(local, MAX_PIXELS)
    refused = examine_bytes(bomb, MAX_PIXELS)

    # THEN the file is not read (a blank page is drawn), and the entity is refused
    assert any("not fetched" in n for n in drawn.notes)
    pdq = drawn.signal("pdq")
    assert pdq is not None and pdq.quality == 0  # a blank page
    assert refused.media_type == "image/svg+xml"
    assert "entity" in refused.problems[0]


def test_svg_with_script_is_drawn_and_flagged():
    image = photo(NAMES[0])
    data = svg_with(encode(image, "PNG"), 512, 512, "<script>draw()</script>")

    examination = examine_bytes(data, MAX_PIXELS)

    assert distance_to_original(data, image) <= 16  # type: ignore[operator]
    assert "scripts" in examination.problems[0]


def test_every_image_of_an_ico_and_every_page_of_a_tiff_is_hashed():
    # GIVEN a harmless first image and the known-bad photograph after it
    harmless = Image.new("RGB", (512, 512), "white")
    bad = photo(NAMES[0])
    tiff = encode(harmless, "TIFF", save_all=True, append_images=[bad])
    ico = encode(bad.resize((256, 256)), "ICO", sizes=[(256, 256), (64, 64)])

    assert distance_to_original(tiff, bad) == 0
    assert distance_to_original(ico, bad) <= 16  # type: ignore[operator]


@pytest.mark.parametrize("bitmap_format", ["png", "bmp"])
def test_cursor_file_is_hashed_like_an_icon(bitmap_format: str):
    # GIVEN the photograph as a CUR (an ICO whose type field says cursor)
    image = photo(NAMES[0])
    ico = encode(image.resize((256, 256)), "ICO", sizes=[(256, 256)], bitmap_format=bitmap_format)
    cur = ico[:2] + b"\x02\x00" + ico[4:]

    assert sniff(cur) == "image/x-icon"
    assert distance_to_original(cur, image) <= 16  # type: ignore[operator]


@pytest.mark.parametrize(
    "trailer",
    [
        b"PK\x03\x04" + b"\x00" * 26,
        b"%PDF-1.7\n1 0 obj<<>>endobj\n",
        b"<html><body>hi</body></html>",
    ],
    ids=["zip", "pdf", "html"],
)
def test_polyglot_is_hashed_as_the_image_it_displays_as(trailer: bytes):
    image = photo(NAMES[0])
    data = encode(image, "JPEG", quality=90) + trailer

    assert sniff(data[: media.SNIFF_BYTES]) == "image/jpeg"
    assert distance_to_original(data, image) <= 8  # type: ignore[operator]


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1", "image/avif"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1avif", "image/avif"),
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
        (b"\x00\x00\x01\x00\x01\x00\x10\x10", "image/x-icon"),
        (b"\x00\x00\x02\x00\x01\x00\x10\x10", "image/x-icon"),
        (b"\x00\x00\x01\x00ftypisom", "video/mp4"),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "image/jp2"),
        (b"\xff\x4f\xff\x51\x00\x2f", "image/jp2"),
        (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "image/jxl"),
        (b"\xff\x0a\xfa\x7f", "image/jxl"),
        (
            b'<?xml version="1.0"?>\n<!-- x -->\n<svg xmlns="http://www.w3.org/2000/svg">',
            "image/svg+xml",
        ),
        (b"<svg width='1'/>", "image/svg+xml"),
        (b"<html><body><svg></svg></body></html>", "application/octet-stream"),
    ],
)
def test_sniff_knows_every_format_a_browser_draws(head: bytes, media_type: str):
    assert sniff(head) == media_type


# ---------------------------------------------------------------- within the limits


def test_image_needing_too_much_memory_to_decode_whole_is_refused_from_its_header():
    # GIVEN a WebP of 8000x8000: libwebp would hold three full-size RGBA copies (about 730 MiB)
    data = encode(Image.new("RGB", (8000, 8000), "white"), "WEBP", lossless=True)
    assert len(data) < 100_000

    examination = examine_bytes(data, 64_000_000)

    assert examination.signal("pdq") is None
    assert "pixel cap" in examination.problems[0] and "MiB" in examination.problems[0]


def test_big_png_is_reduced_before_hashing():
    # GIVEN a 4096-pixel-wide PNG of a photograph
    image = photo(NAMES[0]).resize((4096, 4096))

    decoded = media.decode_image(encode(image, "PNG", compress_level=1), 64_000_000)

    assert max(decoded.image.size) <= media.MAX_WORK_SIDE
    assert decoded.full_size == (4096, 4096)
    # (upscaled to 4096 and reduced back: a few bits from the original at most)
    distance = distance_to_original(encode(image, "PNG", compress_level=1), photo(NAMES[0]))
    assert distance is not None and distance <= 16


def test_decode_budget_refuses_past_its_pixels_until_the_window_passes(
    monkeypatch: pytest.MonkeyPatch,
):
    # GIVEN a budget of 600,000 pixels a minute, on a clock the test moves
    now = [0.0]
    monkeypatch.setattr(media, "BUDGET", DecodeBudget(600_000, 60.0, clock=lambda: now[0]))
    data = encode(photo(NAMES[0]), "PNG")  # 512x512: 262,144 pixels

    first = examine_bytes(data, MAX_PIXELS)
    second = examine_bytes(data, MAX_PIXELS)
    third = examine_bytes(data, MAX_PIXELS)
    now[0] = 61.0
    later = examine_bytes(data, MAX_PIXELS)

    assert first.problems == () and second.problems == ()
    assert third.signal("pdq") is None and "decode budget" in third.problems[0]
    assert later.problems == ()


def test_budget_is_unlimited_without_pixels():
    budget = DecodeBudget(None, 60.0)
    budget.take(10**12)
    with pytest.raises(ImageRejected):
        DecodeBudget(1, 60.0).take(2)


# ------------------------------------------------------------------- transparency


def transparent_logo(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A generated logo whose plain ground is transparent, stored black (as encoders do)."""
    from cordon_cli import samples

    pixels = np.asarray(samples.logo(seed, size))
    ground = (pixels == pixels[0, 0]).all(axis=2)
    rgba = np.dstack([pixels, np.where(ground, 0, 255).astype(np.uint8)])
    rgba[ground, :3] = 0
    return Image.fromarray(rgba, "RGBA")


def pdqs(data: bytes) -> list[str]:
    return [s.value for s in examine_bytes(data, 10**8).signals if s.type == "pdq"]


@pytest.mark.parametrize("size", [(640, 480), (3000, 2250)])  # the second decoded reduced
@pytest.mark.parametrize("seed", [1000, 1004])
def test_a_transparent_png_matches_what_a_page_shows_and_what_is_stored(
    seed: int, size: tuple[int, int]
):
    # GIVEN a logo with a transparent ground, as a PNG
    logo = transparent_logo(seed, size)
    found = pdqs(encode(logo, "PNG"))
    # WHEN it is shown on a white page and captured, or flattened by a tool that drops alpha
    on_white = Image.new("RGB", logo.size, (255, 255, 255))
    on_white.paste(logo, mask=logo.getchannel("A"))
    shown = pdqs(encode(on_white, "JPEG", quality=90))[0]
    stored = pdqs(encode(logo.convert("RGB"), "JPEG", quality=90))[0]
    # THEN the PNG's own signals are within PDQ's distance of both
    assert min(hamming_hex(shown, v) for v in found) <= DEFAULT_MATCH_DISTANCE
    assert min(hamming_hex(stored, v) for v in found) <= DEFAULT_MATCH_DISTANCE


def test_an_opaque_png_with_an_alpha_channel_is_hashed_once():
    logo = Image.open(io.BytesIO(encode(transparent_logo(1000), "PNG"))).convert("RGB")
    opaque = logo.convert("RGBA")  # every pixel alpha 255
    examination = examine_bytes(encode(opaque, "PNG"), 10**8)
    assert [s.variant for s in examination.signals if s.type == "phash"] == ["original"]
