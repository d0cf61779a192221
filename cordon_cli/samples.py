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


# -- flat graphics ----------------------------------------------------------------------------
#
# Pictures with little in them, of the kinds that propaganda and ordinary uploads both contain:
# flags, logos, gradients, blank canvases and screenshots of text. Different seeds give
# different pictures (the false-match measurements in `bench/robustness.py` and the tests rely
# on it: two seeds never make the same flag).

_WORDS = (
    "the council meets on friday about the new bus routes and the park",
    "please bring your own cup to the office kitchen from next week",
    "match report: a late goal decided it after a long quiet second half",
    "our bakery opens at seven, fresh bread and coffee every morning",
    "reminder: the library is closed for repairs until the end of march",
    "weather tomorrow: cloudy with a chance of rain in the afternoon",
    "thanks everyone who came to the concert, the photos are online soon",
    "new recipe tonight, lentil soup with lemon and a little cumin",
)


def _luma(colour: tuple[int, int, int]) -> float:
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def _colours(rng: np.random.Generator, count: int) -> list[tuple[int, int, int]]:
    """`count` random colours far apart in luma (stripes that PDQ sees): 40 grey levels, or
    less after every 200 draws that found no room (five colours may not fit 40 apart)."""
    chosen: list[tuple[int, int, int]] = []
    spacing, tries = 40.0, 0
    while len(chosen) < count:
        colour = (int(rng.integers(0, 256)), int(rng.integers(0, 256)), int(rng.integers(0, 256)))
        if all(abs(_luma(colour) - _luma(c)) > spacing for c in chosen):
            chosen.append(colour)
        else:
            tries += 1
            if tries % 200 == 0:
                spacing /= 2
    return chosen


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def flag(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A flag: 2 to 4 stripes, horizontal or vertical, of unlike colours; every other seed
    has an emblem (a disc, a triangle at the hoist, or a square canton)."""
    rng = np.random.default_rng(seed)
    width, height = size
    stripes = int(rng.integers(2, 5))
    colours = _colours(rng, stripes + 1)
    image = Image.new("RGB", size, colours[0])
    draw = ImageDraw.Draw(image)
    vertical = bool(rng.integers(0, 2))
    # Stripes of uneven widths, so that two flags of as many stripes still differ in layout.
    cuts = np.cumsum(rng.uniform(0.6, 1.4, stripes))
    cuts = np.concatenate([[0.0], cuts / cuts[-1]])
    for k in range(stripes):
        if vertical:
            box = (round(cuts[k] * width), 0, round(cuts[k + 1] * width), height)
        else:
            box = (0, round(cuts[k] * height), width, round(cuts[k + 1] * height))
        draw.rectangle(box, fill=colours[k])
    emblem = int(rng.integers(0, 6))
    if emblem == 1:
        r = height // 5
        cx, cy = int(rng.integers(width // 3, 2 * width // 3)), height // 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colours[-1])
    elif emblem == 2:
        draw.polygon([(0, 0), (int(width * 0.4), height // 2), (0, height)], fill=colours[-1])
    elif emblem == 3:
        draw.rectangle((0, 0, width * 2 // 5, height // 2), fill=colours[-1])
    return image


def logo(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A logo: a plain background, two or three shapes and a word under them."""
    rng = np.random.default_rng(seed)
    width, height = size
    background, *inks = _colours(rng, 4)
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for ink in inks[: int(rng.integers(2, 4))]:
        cx = int(rng.integers(width // 4, 3 * width // 4))
        cy = int(rng.integers(height // 4, height // 2))
        r = int(rng.integers(height // 10, height // 4))
        shape = int(rng.integers(0, 3))
        box = (cx - r, cy - r, cx + r, cy + r)
        if shape == 0:
            draw.ellipse(box, fill=ink)
        elif shape == 1:
            draw.rectangle(box, fill=ink)
        else:
            draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], fill=ink)
    word = "".join(chr(c) for c in rng.integers(65, 91, int(rng.integers(4, 8))))
    centre = (width // 2, height * 4 // 5)
    draw.text(centre, word, fill=inks[0], font=_font(height // 8), anchor="mm")
    return image


def gradient(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A linear gradient between two unlike colours, in a direction of its own."""
    rng = np.random.default_rng(seed)
    width, height = size
    start, end = (np.array(c, dtype=np.float64) for c in _colours(rng, 2))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width]
    along = (xs - width / 2) * np.cos(angle) + (ys - height / 2) * np.sin(angle)
    ramp = ((along - along.min()) / np.ptp(along))[:, :, None]
    pixels = start * (1 - ramp) + end * ramp
    return Image.fromarray(np.round(pixels).astype(np.uint8), "RGB")


def blank(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A canvas of one colour: white, black, then greys and colours."""
    fixed = {0: (255, 255, 255), 1: (0, 0, 0), 2: (128, 128, 128)}
    colour = fixed.get(seed % 1000)
    if colour is None:
        colour = tuple(int(c) for c in np.random.default_rng(seed).integers(0, 256, 3))
    return Image.new("RGB", size, colour)


def text_screenshot(seed: int, size: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """A screenshot of a few lines of text, black on white (a post or a chat message)."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font_size = int(rng.integers(18, 30))
    y = int(rng.integers(10, 60))
    order = rng.permutation(len(_WORDS))
    for line in order[: int(rng.integers(3, 7))]:
        words = _WORDS[line].split()
        # Wrapped at the width, as an app would.
        text = ""
        for word in words:
            trial = f"{text} {word}".strip()
            if draw.textlength(trial, font=_font(font_size)) > width - 40 and text:
                draw.text((20, y), text, fill=(20, 20, 20), font=_font(font_size))
                y += int(font_size * 1.4)
                text = word
            else:
                text = trial
        draw.text((20, y), text, fill=(20, 20, 20), font=_font(font_size))
        y += int(font_size * 2.0)
        if y > height - font_size:
            break
    return image


FLAT_KINDS: dict[str, Callable[[int], Image.Image]] = {
    "flag": flag,
    "logo": logo,
    "gradient": gradient,
    "blank": blank,
    "text": text_screenshot,
}
