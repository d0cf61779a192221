"""Media type by magic bytes, and image decoding behind size and pixel guards.

The type is read from the first bytes, never from the key's extension or the Content-Type an
uploader chose.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/tiff"}
)

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"GIF87a", 0, "image/gif"),
    (b"GIF89a", 0, "image/gif"),
    (b"WEBP", 8, "image/webp"),
    (b"BM", 0, "image/bmp"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"%PDF-", 0, "application/pdf"),
    (b"ftyp", 4, "video/mp4"),
    (b"PK\x03\x04", 0, "application/zip"),
)


def sniff(head: bytes) -> str:
    """The media type the first bytes announce ("application/octet-stream" if none)."""
    if not head:
        return "application/x-empty"
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "image/webp" and not head.startswith(b"RIFF"):
                continue
            return media_type
    return "application/octet-stream"


class ImageRejected(Exception):
    """The bytes announce an image that will not be decoded; the message says why."""


# JPEGs decode at 1/2, 1/4 or 1/8 scale almost for free; PDQ emulates the full-size hash from
# such a reduction (see chalicelib.pdq), so big JPEGs are never decoded whole. The short side
# stays at least this long, so pHash and the variants have pixels enough.
MIN_DRAFT_SIDE = 256
_SWAPS_AXES = frozenset({5, 6, 7, 8})  # EXIF orientations that turn the picture 90 degrees


@dataclass(frozen=True)
class DecodedImage:
    """An upright image (RGB, or luma "L" for reduced JPEG decodes), and the size in pixels
    (width, height) the upright image has at full scale."""

    image: Image.Image
    frames: int
    full_size: tuple[int, int]
    # The bytes decoded (not a copy), so that a reduced decode can be redone whole.
    source: bytes = field(default=b"", repr=False, compare=False)


def decode_image(data: bytes, max_pixels: int, *, reduce: bool = True) -> DecodedImage:
    """Decode to an upright image: first frame of animations, EXIF orientation applied.

    The pixel count is checked from the header before any pixel is decoded, so a small file
    that claims a huge canvas (a decompression bomb) costs nothing. `reduce=False` decodes
    a JPEG whole, in colour, instead of at reduced scale to luma.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageRejected(
                    f"decompression bomb guard: {width}x{height} = {width * height:,} pixels "
                    f"exceeds the cap of {max_pixels:,}"
                )
            frames = getattr(image, "n_frames", 1)
            orientation = image.getexif().get(0x0112, 1)
            if reduce and image.format == "JPEG" and image.mode in ("RGB", "L"):
                scale = 8
                while scale > 1 and min(width, height) // scale < MIN_DRAFT_SIDE:
                    scale //= 2
                # Straight to JPEG's own luma: the same 0.299/0.587/0.114 weights as PDQ.
                image.draft("L", (width // scale, height // scale))
            image.seek(0)
            image.load()
            upright = ImageOps.exif_transpose(image)
            if upright.mode not in ("RGB", "L"):
                upright = upright.convert("RGB")
            full = (height, width) if orientation in _SWAPS_AXES else (width, height)
            return DecodedImage(image=upright, frames=frames, full_size=full, source=data)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageRejected(f"decompression bomb guard: {error}") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise ImageRejected(f"corrupt or truncated image: {error}") from error
