"""Sample content made on the spot (no download): synthetic "known bad" images, altered copies
of them, and clean images. Deterministic for a given seed.

The "bad" images are stand-ins: a poster-like scene (sky gradient, a flag shape, a figure,
a banner with text) so that they have the large structures PDQ keys on, like real propaganda
posters do. The edits are those uploaders make: resize, JPEG recompression, a crop of a few
percent, a caption bar.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

WIDTH, HEIGHT = 640, 480


def poster(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A poster-like synthetic scene; different seeds give unrelated scenes."""
    rng = np.random.default_rng(seed)
    width, height = size
    top, bottom = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    sky = (top * (1 - ramp) + bottom * ramp).repeat(width, axis=1)
    image = Image.fromarray(sky.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 7))):
        cx, cy = (
            rng.integers(width // 6, 5 * width // 6),
            rng.integers(height // 6, 5 * height // 6),
        )
        w, h = rng.integers(width // 4, width // 2), rng.integers(height // 4, height // 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        box = (int(cx - w // 2), int(cy - h // 2), int(cx + w // 2), int(cy + h // 2))
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.rectangle(box, fill=colour)
        elif shape == 1:
            draw.ellipse(box, fill=colour)
        else:
            apex = ((box[0] + box[2]) // 2, box[1])
            draw.polygon([(box[0], box[3]), apex, (box[2], box[3])], fill=colour)
    noise = rng.normal(0, 4, (height, width, 3))
    noisy = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def resized(image: Image.Image, scale: float = 0.5) -> Image.Image:
    return image.resize((int(image.width * scale), int(image.height * scale)), Image.LANCZOS)


def cropped(image: Image.Image, fraction: float = 0.03) -> Image.Image:
    dx, dy = int(image.width * fraction), int(image.height * fraction)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def captioned(image: Image.Image, fraction: float = 0.06) -> Image.Image:
    """A dark caption bar with white text pasted over the bottom of the picture."""
    out = image.copy()
    bar = int(image.height * fraction)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, image.height - bar, image.width, image.height), fill=(12, 12, 12))
    draw.text((10, image.height - bar + bar // 4), "shared via @channel", fill=(255, 255, 255))
    return out


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    known_bad: bool  # a copy (exact or altered) of a known-bad image
    edit: str


EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "resized to 50%": lambda im: jpeg(resized(im, 0.5)),
    "JPEG quality 35": lambda im: jpeg(im, 35),
    "cropped 2% (1% a side)": lambda im: jpeg(cropped(im, 0.01)),
    "caption bar 6%": lambda im: jpeg(captioned(im, 0.06)),
}


# Seeds whose scenes have PDQ quality >= 80: flat scenes (quality < 50) are not matched on.
KNOWN_BAD_SEEDS = (1001, 1004, 1005, 1003, 1009)
# A later run of the demo on the same stack takes its scenes from its own range of seeds, so
# nothing an earlier run shared (or a reviewer confirmed) knows its images.
SEEDS_PER_RUN = 100


def known_bad(count: int = 3, run: int = 1) -> list[Image.Image]:
    seeds = KNOWN_BAD_SEEDS[:count] if run == 1 else demo_seeds(run, count)
    return [poster(seed) for seed in seeds]


def clean(count: int = 4, run: int = 1) -> list[Image.Image]:
    return [poster(5000 + SEEDS_PER_RUN * (run - 1) + i) for i in range(count)]


def demo_seeds(run: int, count: int) -> list[int]:
    """The first `count` seeds of the run's range whose scene Cordon matches through every
    edit of `EDITS` with its plain PDQ hash (quality >= 80, each edit within PDQ's match
    distance), as run 1's `KNOWN_BAD_SEEDS` are."""
    start = 1000 + SEEDS_PER_RUN * (run - 1)
    found = [seed for seed in range(start, start + SEEDS_PER_RUN) if _matched_by_edits(seed)]
    if len(found) < count:
        raise ValueError(f"run {run}: only {len(found)} usable scenes among its seeds")
    return found[:count]


def _matched_by_edits(seed: int) -> bool:
    from chalicelib.signals import PDQ  # the hashing stack only for runs after the first

    image = poster(seed)
    value, quality = _pdq(jpeg(image))
    if quality < 80:
        return False
    return all(
        bin(int(value, 16) ^ int(_pdq(apply(image))[0], 16)).count("1") <= PDQ.max_distance
        for apply in EDITS.values()
    )


def _pdq(data: bytes) -> tuple[str, int]:
    from chalicelib.signals import examine_bytes

    found = next(
        s
        for s in examine_bytes(data, WIDTH * HEIGHT * 4).signals
        if s.type == "pdq" and s.variant == "original"
    )
    return found.value, found.quality or 0


def demo_set(
    bad_count: int = 3, clean_count: int = 4, run: int = 1
) -> tuple[list[bytes], list[Sample]]:
    """(originals whose hashes go into the shared table, uploads to make), for the demo's
    `run`-th run on one stack (its own scenes: see `SEEDS_PER_RUN`)."""
    bad = known_bad(bad_count, run)
    originals = [jpeg(im) for im in bad]
    uploads: list[Sample] = [Sample("bad-0-exact.jpg", originals[0], True, "exact copy")]
    for index, image in enumerate(bad):
        for edit, apply in EDITS.items():
            slug = edit.split()[0].lower()
            uploads.append(Sample(f"bad-{index}-{slug}.jpg", apply(image), True, edit))
    for index, image in enumerate(clean(clean_count, run)):
        uploads.append(Sample(f"clean-{index}.jpg", jpeg(image), False, "unrelated image"))
    return originals, uploads
