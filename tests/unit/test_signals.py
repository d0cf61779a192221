"""Signal types (one contract for all) and what `examine_bytes` / `examine_stream` read off
objects. Every image is drawn here with Pillow; nothing is read from disk."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from typing import Any, ClassVar

import numpy as np
import pytest
from PIL import Image, ImageFile

from chalicelib.models import Examination, Signal
from chalicelib.pdq import hamming_hex
from chalicelib.signals import (
    SIGNAL_TYPES,
    bytes_hashers,
    examine_bytes,
    examine_stream,
    image_hashers,
    shared_variant_signals,
    sniff,
)
from chalicelib.signals.base import BytesHasher, ImageHasher, SignalType
from chalicelib.signals.exact import MD5, SHA256
from chalicelib.signals.perceptual import PDQ, PHash
from cordon_cli import samples
from tests.unit.test_variants import STORED_VARIANTS

MAX_PIXELS = 1_000_000
EXIF_ORIENTATION = 0x0112
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"


# ---------------------------------------------------------------- the contract


class SignalTypeContract:
    """What every signal type promises. A subclass sets TYPE (and may add cases)."""

    TYPE: ClassVar[type[SignalType]]

    @property
    def digits(self) -> int:
        return self.TYPE.bits // 4

    def test_is_registered_under_its_name(self):
        assert SIGNAL_TYPES[self.TYPE.name] is self.TYPE

    def test_has_examples(self):
        assert len(self.TYPE.get_examples()) >= 1

    def test_examples_validate_to_themselves(self):
        for example in self.TYPE.get_examples():
            assert self.TYPE.validate(example) == example
            assert len(example) == self.digits

    def test_uppercase_and_whitespace_normalise(self):
        for example in self.TYPE.get_examples():
            assert self.TYPE.validate(f"  {example.upper()}\n") == example

    @pytest.mark.parametrize("delta", [-1, 1, -2])
    def test_wrong_length_raises(self, delta: int):
        example = self.TYPE.get_examples()[0]
        wrong = example[:delta] if delta < 0 else example + "0" * delta
        with pytest.raises(ValueError, match=self.TYPE.name):
            self.TYPE.validate(wrong)

    @pytest.mark.parametrize("bad", ["g", "x", " ", "-", "é"])
    def test_non_hex_raises(self, bad: str):
        example = self.TYPE.get_examples()[0]
        with pytest.raises(ValueError):
            self.TYPE.validate(bad + example[1:])

    def test_empty_raises(self):
        with pytest.raises(ValueError):
            self.TYPE.validate("")


class ExactContract(SignalTypeContract):
    def test_is_exact_bytes_hasher(self):
        assert issubclass(self.TYPE, BytesHasher)
        assert self.TYPE.exact is True
        assert self.TYPE in bytes_hashers()

    def test_streaming_digest_is_the_hashlib_digest(self):
        assert issubclass(self.TYPE, BytesHasher)
        hasher = self.TYPE.new()
        hasher.update(b"cordon ")
        hasher.update(b"test")
        expected = hashlib.new(self.TYPE.algorithm, b"cordon test").hexdigest()
        assert hasher.hexdigest() == expected
        assert self.TYPE.validate(expected) == expected


class PerceptualContract(SignalTypeContract):
    def test_is_perceptual_image_hasher(self):
        assert issubclass(self.TYPE, ImageHasher)
        assert self.TYPE.exact is False
        assert self.TYPE in image_hashers()

    def test_images_get_a_valid_value_of_its_type(self):
        signal = examine_bytes(encode(picture(), "PNG"), MAX_PIXELS).signal(self.TYPE.name)
        assert signal is not None
        assert self.TYPE.validate(signal.value) == signal.value


class TestSHA256(ExactContract):
    TYPE = SHA256

    def test_example_is_the_empty_digest(self):
        assert SHA256.get_examples() == [EMPTY_SHA256]


class TestMD5(ExactContract):
    TYPE = MD5


class TestPDQ(PerceptualContract):
    TYPE = PDQ

    def test_quality_below_50_is_not_usable(self):
        value = PDQ.get_examples()[0]
        assert PDQ.usable(Signal("pdq", value, quality=50))
        assert not PDQ.usable(Signal("pdq", value, quality=49))
        assert not PDQ.usable(Signal("pdq", value, quality=None))

    def test_flat_image_has_low_quality(self):
        flat = encode(Image.new("RGB", (64, 64), (128, 128, 128)), "PNG")
        assert examine_bytes(flat, MAX_PIXELS).signal("pdq").quality < 50
        assert examine_bytes(encode(picture(), "PNG"), MAX_PIXELS).signal("pdq").quality >= 50


class TestPHash(PerceptualContract):
    TYPE = PHash


def test_every_registered_type_has_a_contract_test():
    tested, todo = set(), [SignalTypeContract]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if "TYPE" in vars(cls):
            tested.add(cls.TYPE)
    assert tested == set(SIGNAL_TYPES.values())


# ---------------------------------------------------------------- images made here


def picture(width: int = 128, height: int = 96, seed: int = 0) -> Image.Image:
    """Flat-coloured overlapping discs: high PDQ quality, nothing symmetric."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    pixels = np.zeros((height, width, 3))
    for _ in range(12):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(10, width / 3)
        pixels[(x - cx) ** 2 + (y - cy) ** 2 < radius**2] = rng.uniform(0, 255, 3)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def types_of(examination: Examination) -> list[str]:
    """Signal types of the image as uploaded (match variants are tested in test_variants)."""
    return [s.type for s in examination.signals if s.variant == "original"]


def assert_exact_hashes(examination: Examination, data: bytes) -> None:
    assert examination.signal("sha256").value == hashlib.sha256(data).hexdigest()
    assert examination.signal("md5").value == hashlib.md5(data).hexdigest()
    assert examination.size == len(data)


FORMATS = [
    ("JPEG", "image/jpeg", {"quality": 90}),
    ("PNG", "image/png", {}),
    ("GIF", "image/gif", {}),
    ("WEBP", "image/webp", {"quality": 90}),
    ("BMP", "image/bmp", {}),
    ("TIFF", "image/tiff", {}),
]


@pytest.mark.parametrize(("fmt", "media_type", "options"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_image_format_gets_every_signal(fmt: str, media_type: str, options: dict[str, Any]):
    # GIVEN an image encoded in one of the formats Cordon hashes
    data = encode(picture(), fmt, **options)

    # WHEN its bytes are examined
    examination = examine_bytes(data, MAX_PIXELS)

    # THEN it gets exact and perceptual hashes, and nothing went wrong
    assert examination.media_type == media_type
    assert types_of(examination) == ["sha256", "md5", "pdq", "phash"]
    assert_exact_hashes(examination, data)
    pdq = examination.signal("pdq")
    assert pdq.quality is not None and 50 <= pdq.quality <= 100
    assert PDQ.validate(pdq.value) == pdq.value
    assert PHash.validate(examination.signal("phash").value)
    assert examination.problems == ()
    assert examination.notes == ()
    assert examination.image_bytes == data


def test_formats_agree_on_the_perceptual_hash_of_one_picture():
    lossless = examine_bytes(encode(picture(), "PNG"), MAX_PIXELS).signal("pdq").value
    for fmt, _, options in FORMATS:
        value = examine_bytes(encode(picture(), fmt, **options), MAX_PIXELS).signal("pdq").value
        assert hamming_hex(value, lossless) <= 16, fmt
    other = examine_bytes(encode(picture(seed=1), "PNG"), MAX_PIXELS).signal("pdq").value
    assert hamming_hex(other, lossless) > 64


def test_png_given_as_bytes_is_png_by_its_magic():
    # GIVEN only bytes (no key, no Content-Type): the magic decides
    data = encode(picture(), "PNG")

    assert examine_bytes(data, MAX_PIXELS).media_type == "image/png"


def test_random_bytes_get_exact_hashes_only_and_a_note():
    data = np.random.default_rng(7).bytes(4096)
    assert sniff(data[:16]) == "application/octet-stream"  # GIVEN no magic by chance

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.media_type == "application/octet-stream"
    assert types_of(examination) == ["sha256", "md5"]
    assert_exact_hashes(examination, data)
    assert examination.problems == ()
    assert len(examination.notes) == 1
    assert "application/octet-stream" in examination.notes[0]
    assert "exact hashes only" in examination.notes[0]
    assert examination.image_bytes is None


@pytest.mark.parametrize(
    ("head", "media_type"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "image/png"),
        (b"GIF87a\x01\x00", "image/gif"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", "application/octet-stream"),
        (b"XXXX\x24\x00\x00\x00WEBPVP8 ", "application/octet-stream"),
        (b"BM\x36\x00\x00\x00", "image/bmp"),
        (b"II*\x00\x08\x00\x00\x00", "image/tiff"),
        (b"MM\x00*\x00\x00\x00\x08", "image/tiff"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b"\x00\x00\x00\x18ftypmp42", "video/mp4"),
        (b"PK\x03\x04\x14\x00", "application/zip"),
        (b"hello, world", "application/octet-stream"),
        (b"", "application/x-empty"),
    ],
)
def test_sniff_reads_magic_bytes(head: bytes, media_type: str):
    assert sniff(head) == media_type


def test_non_image_with_image_like_name_is_not_decoded():
    # A PDF is a PDF whatever its key says: no perceptual hashes
    data = b"%PDF-1.7\n" + b"0" * 100

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.media_type == "application/pdf"
    assert types_of(examination) == ["sha256", "md5"]


def test_exif_orientation_is_applied_before_hashing():
    # GIVEN an upright picture, and the same picture stored turned a quarter (EXIF 6 says
    # "rotate 90° clockwise to display")
    upright = picture()
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6
    with_exif = encode(stored, "JPEG", quality=95, exif=exif)
    without_exif = encode(stored, "JPEG", quality=95)

    # WHEN both, and the upright picture, are examined
    reference = examine_bytes(encode(upright, "JPEG", quality=95), MAX_PIXELS).signal("pdq")
    rotated = examine_bytes(with_exif, MAX_PIXELS).signal("pdq")
    unrotated = examine_bytes(without_exif, MAX_PIXELS).signal("pdq")

    # THEN the EXIF-oriented one hashes like the upright one; without EXIF it would not
    assert hamming_hex(rotated.value, reference.value) <= 10
    assert hamming_hex(unrotated.value, reference.value) > 64


def test_animated_gif_is_hashed_on_its_first_frame_with_a_note():
    frames = [picture(seed=seed) for seed in (0, 1, 2)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    examination = examine_bytes(data, MAX_PIXELS)

    first = examine_bytes(encode(frames[0], "GIF"), MAX_PIXELS).signal("pdq").value
    last = examine_bytes(encode(frames[2], "GIF"), MAX_PIXELS).signal("pdq").value
    assert types_of(examination) == ["sha256", "md5", "pdq", "phash"]
    assert hamming_hex(examination.signal("pdq").value, first) <= 10
    assert hamming_hex(examination.signal("pdq").value, last) > 64
    assert examination.notes == ("animated image: first of 3 frames hashed",)
    assert examination.problems == ()


def test_empty_object_gets_exact_hashes_of_nothing_and_a_note():
    examination = examine_bytes(b"", MAX_PIXELS)

    assert examination.media_type == "application/x-empty"
    assert examination.size == 0
    assert [(s.type, s.value) for s in examination.signals] == [
        ("sha256", EMPTY_SHA256),
        ("md5", EMPTY_MD5),
    ]
    assert examination.problems == ()
    assert len(examination.notes) == 1 and "empty" in examination.notes[0]
    assert examination.image_bytes is None


def test_truncated_jpeg_is_drawn_as_far_as_it_goes_and_hashed():
    data = encode(picture(), "JPEG", quality=90)
    truncated = data[:-2]  # no end-of-image marker: every browser draws the whole picture
    assert not ImageFile.LOAD_TRUNCATED_IMAGES  # GIVEN Pillow's default

    examination = examine_bytes(truncated, MAX_PIXELS)

    assert examination.media_type == "image/jpeg"
    assert types_of(examination)[:4] == ["sha256", "md5", "pdq", "phash"]
    assert_exact_hashes(examination, truncated)
    whole = examine_bytes(data, MAX_PIXELS).signal("pdq")
    assert hamming_hex(examination.signal("pdq").value, whole.value) <= 4
    assert examination.problems == ()
    assert "damaged or truncated" in examination.notes[0]
    assert not ImageFile.LOAD_TRUNCATED_IMAGES


def test_garbage_after_image_magic_is_corrupt():
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64

    examination = examine_bytes(data, MAX_PIXELS)

    assert examination.media_type == "image/png"
    assert types_of(examination) == ["sha256", "md5"]
    assert "corrupt or truncated" in examination.problems[0]


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Records every pixel decode Pillow starts."""
    calls: list[str] = []
    original = ImageFile.ImageFile.load

    def load(self: ImageFile.ImageFile) -> Any:
        calls.append(self.format or "?")
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)
    return calls


def test_decompression_bomb_is_refused_from_its_header(loads: list[str]):
    # GIVEN a small file (1-bit, well compressed) declaring 4 Mpx, with a 1 Mpx cap
    data = encode(Image.new("1", (2000, 2000)), "PNG")
    assert len(data) < 10_000

    examination = examine_bytes(data, max_pixels=1_000_000)

    # THEN no pixel was decoded, and the problem says why
    assert loads == []
    assert types_of(examination) == ["sha256", "md5"]
    assert len(examination.problems) == 1
    assert "decompression bomb" in examination.problems[0]
    assert "2000x2000" in examination.problems[0]


def test_image_at_the_cap_is_decoded(loads: list[str]):
    data = encode(picture(100, 100), "PNG")

    examination = examine_bytes(data, max_pixels=100 * 100)

    assert "PNG" in loads
    assert examination.problems == ()
    assert examination.signal("pdq") is not None


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG declaring width x height (1-bit grey) with a token IDAT: never decodable."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_canvas_beyond_pillows_own_limit_is_a_decompression_bomb(loads: list[str]):
    # GIVEN a header claiming 10 gigapixels, far past Pillow's MAX_IMAGE_PIXELS
    data = _png_header_only(100_000, 100_000)

    examination = examine_bytes(data, max_pixels=10**11)

    assert loads == []
    assert types_of(examination) == ["sha256", "md5"]
    assert "decompression bomb" in examination.problems[0]


@pytest.mark.parametrize("chunk_size", [1, 7, 16, 4096, 1 << 20])
def test_examine_stream_matches_examine_bytes(chunk_size: int):
    # GIVEN an object read in chunks, as a large object would be
    data = encode(picture(), "PNG")
    chunks = (data[i : i + chunk_size] for i in range(0, len(data), chunk_size))
    reason = "object of 3 GB exceeds the 50 MB in-memory cap: exact hashes only"

    streamed = examine_stream(chunks, size=len(data), reason=reason)
    whole = examine_bytes(data, MAX_PIXELS)

    assert streamed.signal("sha256") == whole.signal("sha256")
    assert streamed.signal("md5") == whole.signal("md5")
    assert types_of(streamed) == ["sha256", "md5"]
    assert streamed.media_type == "image/png"
    assert streamed.size == len(data)
    assert streamed.problems == (reason,)
    assert streamed.image_bytes is None


def test_examine_stream_of_nothing():
    examination = examine_stream(iter(()), size=0, reason="r")

    assert [(s.type, s.value) for s in examination.signals] == [
        ("sha256", EMPTY_SHA256),
        ("md5", EMPTY_MD5),
    ]
    assert examination.media_type == "application/x-empty"


def test_shared_variant_signals_of_an_image_are_named_usable_pdq_hashes():
    # GIVEN an image as a large JPEG (decoded at reduced scale, as examine_bytes decodes it),
    # not a flat graphic (whose variants are not stored: test_variants)
    data = encode(samples.poster(1009, (1200, 900)), "JPEG", quality=90)
    # WHEN the variants to store on sharing are computed
    stored = shared_variant_signals(data, 2_000_000)
    # THEN each is a usable PDQ hash naming its variant, none of them the image as it is
    assert {s.variant for s in stored if not s.variant.startswith("anchor-")} == STORED_VARIANTS
    assert any(s.variant.startswith("anchor-") for s in stored)
    own = examine_bytes(data, 2_000_000).signal("pdq")
    assert own is not None
    for signal in stored:
        assert signal.type == "pdq" and PDQ.validate(signal.value) == signal.value
        assert PDQ.usable(signal)
        assert signal.value != own.value


@pytest.mark.parametrize(
    "data",
    [b"", b"%PDF-1.7 not an image", encode(picture(), "JPEG")[:200], b"\xff\xd8\xff" + b"0" * 64],
)
def test_shared_variant_signals_of_what_is_not_a_readable_image_are_none(data: bytes):
    assert shared_variant_signals(data, MAX_PIXELS) == []
