"""Media type by magic bytes, and image decoding behind size and pixel guards.

The type is read from the first bytes, never from the key's extension or the Content-Type an
uploader chose. An image is decoded as a browser would draw it: only by the decoder its magic
bytes name (a polyglot is the image it displays as), and a damaged or truncated file as far as
it goes, since browsers draw what they can.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import numpy as np
import pillow_heif
import pillow_jxl  # noqa: F401  (registers Pillow's JXL plugin)
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from chalicelib.signals import svg

pillow_heif.register_heif_opener()

# How many leading bytes `sniff` needs: an SVG's root element may follow an XML declaration,
# comments and a doctype.
SNIFF_BYTES = 1024

# Types a browser draws as an image (Chromium, Firefox or Safari), each with the Pillow
# formats that may decode it: nothing else is tried, so a file is the image its magic says.
PILLOW_FORMATS: dict[str, tuple[str, ...]] = {
    "image/jpeg": ("JPEG", "MPO"),
    "image/png": ("PNG",),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/bmp": ("BMP",),
    "image/tiff": ("TIFF",),
    "image/x-icon": ("ICO",),  # CUR too (`decode_image`)
    "image/avif": ("AVIF",),
    "image/heic": ("HEIF",),
    "image/jp2": ("JPEG2000",),
    "image/jxl": ("JXL",),
    "image/svg+xml": ("PNG",),  # rasterised first (`svg.rasterise`)
}
IMAGE_TYPES = frozenset(PILLOW_FORMATS)

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"\x00\x00\x01\x00", 0, "image/x-icon"),
    (b"\x00\x00\x02\x00", 0, "image/x-icon"),  # CUR: an ICO with hotspots
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "image/jp2"),
    (b"\xff\x4f\xff\x51", 0, "image/jp2"),  # raw JPEG 2000 codestream
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "image/jxl"),
    (b"\xff\x0a", 0, "image/jxl"),  # raw JPEG XL codestream
    (b"%PDF-", 0, "application/pdf"),
    (b"PK\x03\x04", 0, "application/zip"),
)
# ISO base media files (MP4, HEIF, AVIF) say what they are in their `ftyp` box's brands.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
# An SVG document: optional BOM, XML declaration, comments, doctype, then the <svg> root.
_SVG_ROOT = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:(?:<!--.*?-->|<!DOCTYPE[^>\[]*"
    rb"(?:\[.*?\])?\s*>)\s*)*<(?:[A-Za-z_][\w.-]*:)?svg[\s>/]",
    re.DOTALL,
)


def _iso_media_type(head: bytes) -> str:
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]]
    brands += [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    if any(b in _AVIF_BRANDS for b in brands):
        return "image/avif"
    if any(b in _HEIF_BRANDS for b in brands):
        return "image/heic"
    return "video/mp4"


def sniff(head: bytes) -> str:
    """The media type the first bytes announce ("application/octet-stream" if none).

    `head` should be the first `SNIFF_BYTES` bytes; the binary formats need only 16.
    """
    if not head:
        return "application/x-empty"
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            # ICO's magic is weak: an ISO box of 256 bytes starts the same way.
            if media_type == "image/x-icon" and (head[4:8] == b"ftyp" or head[4:6] == b"\0\0"):
                continue
            return media_type
    if head[4:8] == b"ftyp":
        return _iso_media_type(head)
    if _SVG_ROOT.match(head):
        return "image/svg+xml"
    return "application/octet-stream"


class ImageRejected(Exception):
    """The bytes announce an image that will not be decoded; the message says why."""


# JPEGs decode at 1/2, 1/4 or 1/8 scale almost for free; PDQ emulates the full-size hash from
# such a reduction (see chalicelib.pdq), so big JPEGs are never decoded whole. The short side
# stays at least this long, so pHash and the variants have pixels enough.
MIN_DRAFT_SIDE = 256
# Other formats decode whole, then are reduced (`Image.reduce`: a box filter, the same kind of
# reduction as a JPEG draft) before anything else touches them, down to a long side of this.
MAX_WORK_SIDE = 2048
# What a full-size decode may hold in memory (width x height x bytes a pixel): the 1 GB
# function decodes one image at a time, reduced at once, and keeps room for the rest.
MAX_DECODE_BYTES = 256 * 1024 * 1024
# Decoders that hold more than one full-size copy: libwebp's animation canvas and output,
# libheif's and libjxl's planes, each copied into Pillow's image.
_DECODE_COPIES = {"WEBP": 3, "HEIF": 2, "AVIF": 2, "JXL": 2}
# Pages of a TIFF, images of an ICO, hashed besides the one a browser shows.
MAX_EXTRA_IMAGES = 7
# A damaged image whose undrawn rows reach this share is hashed, and also reported as not
# fully scanned (held for review if it matches nothing): on photographs PDQ drifts past its
# threshold of 31 bits from about a tenth of the rows missing.
MAX_UNDRAWN_SHARE = 0.1
_SWAPS_AXES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture 90 degrees
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "LA": 4, "PA": 4}

# Pillow reads its lenient-decode switch from a module global, never set globally here: it is
# on only for the retry of one damaged file, under a lock so two retries cannot interleave
# (a Lambda container examines one object at a time, so no strict decode runs meanwhile).
_LENIENT = threading.Lock()


@contextmanager
def _lenient() -> Iterator[None]:
    with _LENIENT:
        ImageFile.LOAD_TRUNCATED_IMAGES = True
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = False


class DecodeBudget:
    """Pixels a container may decode within `window` seconds (the function's timeout).

    One image at the pixel cap decodes in about a second here and several on Lambda's arm64
    share of a core: a batch of them would pass the timeout. Past the budget an image is
    refused with a reason (an image type: held for review) instead.
    """

    def __init__(
        self, pixels: int | None, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.pixels = pixels
        self.window = window
        self.clock = clock
        self._spent: deque[tuple[float, int]] = deque()

    def spent(self) -> int:
        horizon = self.clock() - self.window
        while self._spent and self._spent[0][0] < horizon:
            self._spent.popleft()
        return sum(pixels for _, pixels in self._spent)

    def take(self, pixels: int) -> None:
        """Spend `pixels`, or raise ImageRejected if the window has not that many left."""
        if self.pixels is None:
            return
        spent = self.spent()
        if spent + pixels > self.pixels:
            raise ImageRejected(
                f"decode budget: {pixels:,} pixels to decode, {spent:,} of "
                f"{self.pixels:,} already decoded in the last {self.window:.0f} s"
            )
        self._spent.append((self.clock(), pixels))


# About six images at the default 64 Mpx cap a minute: one batch's worth within the timeout.
# Only in a Lambda function: the CLI, the benchmarks and the local stack have no timeout.
BUDGET = DecodeBudget(
    pixels=400_000_000 if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else None, window=60.0
)


@dataclass(frozen=True)
class DecodedImage:
    """An upright image (RGB, or luma "L" for reduced decodes), and the size in pixels
    (width, height) the upright image has at full scale.

    `extra` holds the other images the file carries (TIFF pages, ICO entries), decoded the
    same way; `notes` and `problems` say what is worth knowing about the decode (a damaged
    file drawn as far as it goes, a part that could not be drawn). An image with transparent
    pixels is `image` over white, as a page shows it, and `unmatted` as stored without its
    alpha (what tools that drop alpha hash: the stored colour, usually black).
    """

    image: Image.Image
    frames: int
    full_size: tuple[int, int]
    extra: tuple[DecodedImage, ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    unmatted: DecodedImage | None = None
    # The bytes decoded (not a copy), so that a reduced decode can be redone whole.
    source: bytes = field(default=b"", repr=False, compare=False)


def decode_image(
    data: bytes, max_pixels: int, media_type: str | None = None, *, reduce: bool = True
) -> DecodedImage:
    """Decode to an upright image: first frame of animations, EXIF orientation applied.

    The pixel count is checked from the header before any pixel is decoded, so a small file
    that claims a huge canvas (a decompression bomb) costs nothing. A file the decoder refuses
    is decoded again leniently, as browsers do: what could be drawn is hashed; only when
    nothing could be drawn is it rejected. `reduce=False` decodes whole, in colour (a JPEG
    not at reduced scale to luma, a large image not box-reduced): PDQ's exact path.
    """
    media_type = media_type or sniff(data[:SNIFF_BYTES])
    notes: list[str] = []
    problems: list[str] = []
    if media_type == "image/svg+xml":
        try:
            data = svg.rasterise(data, notes, problems)
        except svg.SvgRejected as error:
            raise ImageRejected(f"SVG not rasterised: {error}") from error
    if media_type == "image/x-icon" and data[2:4] == b"\x02\x00":
        # A CUR is an ICO with hotspots where ICO has planes and depth; Pillow's CUR reader
        # takes BMP entries only, its ICO reader PNG ones as well (as browsers do).
        data = data[:2] + b"\x01\x00" + data[4:]
    formats = PILLOW_FORMATS.get(media_type)
    if formats is None:
        raise ImageRejected(f"{media_type} is not an image type Cordon decodes")
    try:
        decoded = _decode(data, max_pixels, formats, reduce)
    except _Damaged as damaged:
        decoded = _decode_damaged(data, max_pixels, formats, damaged, reduce)
    return replace(
        decoded,
        notes=(*notes, *decoded.notes),
        problems=(*problems, *decoded.problems),
        source=data,
    )


class _Damaged(Exception):
    """The strict decoder refused the pixels (not the header): worth a lenient try."""


def _decode_damaged(
    data: bytes, max_pixels: int, formats: tuple[str, ...], damaged: _Damaged, reduce: bool
) -> DecodedImage:
    note = f"damaged or truncated image ({damaged})"
    # Pillow's lenient mode draws what was read: a JPEG ends at a made-up end marker in flat
    # grey, PNG, GIF, TIFF and BMP keep the rows they have (zeros after or, bottom-up, before).
    with _lenient():
        try:
            decoded: DecodedImage | None = _decode(data, max_pixels, formats, reduce)
        except _Damaged:
            decoded = None
    drawn = _drawn_share(decoded.image) if decoded else 0.0
    if decoded and drawn > 0.0:
        how = "drawn as far as it goes"
    else:
        # WebP, HEIF, AVIF and JPEG 2000 have no lenient mode: they need every byte their
        # container declares. Zeros stand in for the missing ones (up to as many as are left),
        # and the share drawn is read off the container, since zeros do not decode flat.
        declared = _declared_length(data)
        missing = min(declared - len(data), len(data)) if declared else len(data)
        with _lenient():
            try:
                decoded = _decode(data + bytes(max(missing, 0)), max_pixels, formats, reduce)
            except _Damaged:
                decoded = None
        if decoded is None or _drawn_share(decoded.image) == 0.0:
            raise ImageRejected(f"corrupt or truncated image, nothing could be drawn: {damaged}")
        drawn = len(data) / declared if declared and declared > len(data) else 0.0
        how = f"{max(missing, 0):,} missing bytes taken as zeros"
    problems: tuple[str, ...] = ()
    if drawn == 0.0:
        problems = (f"{note}: how much of it is missing is unknown, the hashes may stand for part",)
    elif 1.0 - drawn >= MAX_UNDRAWN_SHARE:
        problems = (
            f"{note}: only about {drawn:.0%} of it could be drawn, the hashes stand for that part",
        )
    return replace(
        decoded, notes=(*decoded.notes, f"{note}: {how}, then hashed"), problems=problems
    )


def _declared_length(data: bytes) -> int | None:
    """The length a RIFF (WebP) or ISO box file (HEIF, AVIF, JPEG 2000) says it has."""
    if data[:4] == b"RIFF":
        return 8 + int.from_bytes(data[4:8], "little")
    if data[4:8] not in (b"ftyp", b"jP  "):
        return None
    end = 0
    while end + 8 <= len(data):
        size = int.from_bytes(data[end : end + 4], "big")
        if size == 1 and end + 16 <= len(data):
            size = int.from_bytes(data[end + 8 : end + 16], "big")
        if size < 8:
            return None  # "to the end of the file" (0) or malformed: nothing declared
        end += size
    return end


def _drawn_share(image: Image.Image) -> float:
    """The share of rows outside the undrawn band a lenient decode leaves: rows of one flat
    value at the bottom (JPEG's grey, PNG's zeros) or, for bottom-up BMPs, at the top. PDQ
    does not see such a band (it drops the DCT's horizontal-DC terms): the rows drawn decide
    the hash. A picture of one flat value was not drawn at all."""
    grey = np.asarray(image.convert("L"))
    flat = (grey == grey[:, :1]).all(axis=1)
    if flat.all():
        return 0.0

    def band(edge: int) -> int:
        # Flat rows of the edge row's value, counted inwards from that edge.
        same = flat & (grey[:, 0] == grey[edge, 0])
        return int(np.argmin(same if edge == 0 else same[::-1]))

    undrawn = max(band(-1), band(0))
    return 1.0 - undrawn / len(flat)


def _decode(
    data: bytes, max_pixels: int, formats: tuple[str, ...], reduce: bool = True
) -> DecodedImage:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(formats))
            image.seek(0)
            first = _decode_one(image, max_pixels, reduce)
            return replace(first, extra=_extra_images(image, max_pixels))
    except (ImageRejected, _Damaged):
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"decompression bomb guard: {error}") from error
    except UnidentifiedImageError as error:
        raise _Damaged(f"not readable as {'/'.join(formats)}") from error
    except (OSError, SyntaxError, ValueError, EOFError, RuntimeError, KeyError) as error:
        raise _Damaged(str(error) or type(error).__name__) from error


def _decode_one(image: Image.Image, max_pixels: int, reduce: bool = True) -> DecodedImage:
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(
            f"decompression bomb guard: {width}x{height} = {width * height:,} pixels "
            f"exceeds the cap of {max_pixels:,}"
        )
    frames = getattr(image, "n_frames", 1)
    # `reduce` off: whole, for PDQ's exact path (which keeps to a pixel cap of its own).
    if reduce and image.format in ("JPEG", "MPO") and image.mode in ("RGB", "L"):
        scale = 8
        while scale > 1 and min(width, height) // scale < MIN_DRAFT_SIDE:
            scale //= 2
        # Straight to JPEG's own luma: the same 0.299/0.587/0.114 weights as PDQ.
        image.draft("L", (width // scale, height // scale))
    elif reduce and image.format == "JPEG2000":
        # JPEG 2000 stores resolution levels: decode only the one needed.
        levels = 0
        while max(width, height) >> (levels + 1) >= MAX_WORK_SIDE:
            levels += 1
        image.reduce = levels  # type: ignore[assignment,method-assign]
    else:
        copies = _DECODE_COPIES.get(image.format or "", 1)
        needed = width * height * _BYTES_PER_PIXEL.get(image.mode, 4) * copies
        if needed > MAX_DECODE_BYTES:
            raise ImageRejected(
                f"pixel cap: {image.format} {width}x{height} {image.mode} needs "
                f"{needed / 2**20:,.0f} MiB decoded whole, over the {MAX_DECODE_BYTES // 2**20} "
                "MiB a decode may take"
            )
    BUDGET.take(image.size[0] * image.size[1])  # the size to decode, after any reduction
    image.load()
    # After the load: a PNG's getexif() would otherwise decode the whole image to find it.
    orientation = image.getexif().get(0x0112, 1)
    work = _reduced(image) if reduce else image
    upright = ImageOps.exif_transpose(work)
    full = (height, width) if orientation in _SWAPS_AXES else (width, height)
    if upright.mode in ("RGB", "L"):
        return DecodedImage(image=upright, frames=frames, full_size=full)
    shown, stored = _matted(upright)
    if stored is None:
        return DecodedImage(image=shown, frames=frames, full_size=full)
    return DecodedImage(
        image=shown,
        frames=frames,
        full_size=full,
        notes=("transparent pixels: hashed over white, as a page shows them, and as stored",),
        unmatted=DecodedImage(image=stored, frames=frames, full_size=full),
    )


def _transparent(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _matted(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """`image` in RGB over white, and as stored without its alpha when a pixel is not
    opaque (else None): a transparent logo over white and over black lands 150 to 230 bits
    apart, and a screenshot of a page shows the first, `pdqhash` and most tools hash the
    second."""
    if not _transparent(image):
        return image.convert("RGB"), None
    rgba = image.convert("RGBA")
    alpha = rgba.getchannel("A")
    if alpha.getextrema()[0] == 255:
        return rgba.convert("RGB"), None
    shown = Image.new("RGB", rgba.size, (255, 255, 255))
    shown.paste(rgba, mask=alpha)
    return shown, rgba.convert("RGB")


def _reduced(image: Image.Image) -> Image.Image:
    """`image` at most MAX_WORK_SIDE long, by an integer box reduction (each side
    ceil(side / factor), the shape PDQ's full-size emulation expects)."""
    factor = -(-max(image.size) // MAX_WORK_SIDE)
    if factor <= 1:
        return image
    if image.mode not in ("RGB", "L", "RGBA"):
        # Palette and 1-bit pixels cannot be averaged; converted once, at full size (keeping
        # any transparency for `_matted`).
        grey = image.mode in ("1", "I;16", "I;16B")
        image = image.convert("L" if grey else "RGBA" if _transparent(image) else "RGB")
    return image.reduce(factor)


def _extra_images(image: Image.Image, max_pixels: int) -> tuple[DecodedImage, ...]:
    """The other images of a TIFF or an ICO/CUR (not an animation's frames)."""
    if image.format == "TIFF":
        count = min(getattr(image, "n_frames", 1), MAX_EXTRA_IMAGES + 1)
        out: list[DecodedImage] = []
        for page in range(1, count):
            image.seek(page)
            out.append(_decode_one(image, max_pixels))
        return tuple(out)
    if image.format == "ICO":
        sizes = sorted(image.info.get("sizes", ()), reverse=True)[1 : MAX_EXTRA_IMAGES + 1]
        out = []
        for size in sizes:
            entry = image.ico.getimage(size)  # type: ignore[attr-defined]
            out.append(_decode_one(entry, max_pixels))
        return tuple(out)
    return ()
