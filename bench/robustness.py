"""How well Cordon's matcher survives what uploaders do to an image, and what it costs.

    .venv/bin/python bench/robustness.py            # the tables (several minutes)
    .venv/bin/python bench/robustness.py --quick    # 8 photos, 4 of each flat kind: a smoke run
    .venv/bin/python bench/robustness.py --seeds 3  # crops split at random drawn 3 times an image
    .venv/bin/python bench/robustness.py --flat 40  # 40 pictures of each flat kind (default 20)

Corpus, built here from files that ship inside installed packages (nothing is downloaded):
real photographs from PyWavelets' data folder (camera, ascent, aero) and, when scikit-image is
installed (a bench-only extra: `pip install scikit-image` into the venv; the pipeline never
imports it), the photographs of `skimage/data`; the largest (Hubble deep field) is cut into
four non-overlapping quarters instead of being used whole. Duplicates
(skimage's and pywt's cameraman) are dropped. A secondary set of synthetic posters
(`cordon_cli.samples.poster`) is reported separately.

For every image A of a set, the shared table holds A's PDQ (as `examine_bytes` computes it;
the "+stored" column also holds `variants.shared_variants` of A: its centre crops and masked
copies, as the shared side would store them with A's provenance, computed from A's JPEG as
`signals.shared_variant_signals` does). Every edit of A is encoded as JPEG and examined by
`chalicelib.signals.examine_bytes`, the pipeline's one door; its signals go through
`chalicelib.matching.find_matches` at the default policy's distance, and it is recalled when a
match names A. "PDQ" is the same with the upload's plain PDQ only. "through" names, for the
+stored table, the upload's variant of the first match naming A, and after ">" the stored
variant it met (if it was not A's own hash).

False matches: every upload (each original and each edited copy) against the shared hashes of
every *other* image; the smallest distance any of its signals reaches another image's hash is
the safety margin. Only PDQ hashes of quality >= 50 count, as in the pipeline.

Flat pictures (`cordon_cli.samples.FLAT_KINDS`, each seed a distinct picture): flags (2-4
stripes either way, some with a disc, a triangle or a canton), logos (shapes and a word on a
plain ground), linear gradients (two colours, any direction), blank canvases (white, black,
grey, colours) and screenshots of text. The flags and logos of PDQ quality >= 50 get the same
table of edits as the photographs (what the information gate, `chalicelib.information`, costs
them). Then the table of unrelated images: every photograph, poster and flat picture shared
as a confirmation shares it (the file: PNG for graphics and text, JPEG for photographs; its
usable exact, PDQ and pHash signals and its stored variants), every one uploaded as the file,
as JPEG q80, and edited (`UNRELATED_EDITS`), and for each kind of pair (photo, poster,
graphic, text) the closest distance between an upload's signal and an unrelated image's
shared hash, by upload variant and stored variant (families: tiles, anchored windows...),
the closest pHash, and the false matches: uploads that `find_matches` and `policy.decide`
(default policy) judge REVIEW or more because of an image they do not show.

Timing: the variants' added time per 1024x768 JPEG, decode excluded, median over distinct
pictures hashed once each (each brings new region sizes, so operator caches are not
flattered), with OpenBLAS on one thread (a Lambda below 1,769 MB has one vCPU; several BLAS
threads on small matrices only add waiting, badly so on a loaded machine). The machine's load
is printed with it, and the time of the upload's own PDQ measured alongside as the reference:
on a shared machine, compare figures from the same run only.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import importlib.util
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

from chalicelib import pdq, variants
from chalicelib.index import HammingIndex
from chalicelib.matching import find_matches
from chalicelib.models import Action, Examination, HashRecord, Match, Policy, Signal
from chalicelib.policy import decide
from chalicelib.signals import PDQ, examine_bytes, shared_variant_signals, usable
from chalicelib.signals.media import decode_image
from cordon_cli import samples

MAX_PIXELS = 10**8
DISTANCE = PDQ.max_distance
SKIMAGE_PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "ihc",
    "microaneurysms",
    "moon",
    "motorcycle_left",  # motorcycle_right is the other eye of a stereo pair: left out
    "page",
    "retina",
    "rocket",
    "text",
)
# The retina photograph is kept whole: its quarters are quarter discs on black, each the mirror
# image or a quarter turn of another, so they match each other through the dihedral variants
# (and 11 times even through plain PDQ): the same picture, not different ones.
SPLIT_INTO_QUARTERS = ("hubble_deep_field",)
PYWT_PHOTOS = ("camera", "ascent", "aero")


# -- corpus -----------------------------------------------------------------------------------


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    return Path(spec.origin).parent if spec and spec.origin else None


def photographs() -> dict[str, Image.Image]:
    """Every photograph found in installed packages, RGB, duplicates dropped."""
    found: dict[str, Image.Image] = {}
    pywt_dir = _package_dir("pywt")
    if pywt_dir:
        for name in PYWT_PHOTOS:
            path = pywt_dir / "data" / f"{name}.npz"
            if path.exists():
                found[f"pywt-{name}"] = Image.fromarray(np.load(path)["data"]).convert("RGB")
    skimage_dir = _package_dir("skimage")
    if skimage_dir:
        data = skimage_dir / "data"
        for name in SKIMAGE_PHOTOS:
            path = next(iter(sorted(data.glob(f"{name}.*"))), None)
            if path:
                found[f"skimage-{name}"] = Image.open(path).convert("RGB")
        for name in SPLIT_INTO_QUARTERS:
            path = next(iter(sorted(data.glob(f"{name}.*"))), None)
            if path is None:
                continue
            whole = Image.open(path).convert("RGB")
            w, h = whole.size
            for r in range(2):
                for c in range(2):
                    box = (c * w // 2, r * h // 2, (c + 1) * w // 2, (r + 1) * h // 2)
                    found[f"skimage-{name}-q{r}{c}"] = whole.crop(box)
    unique: dict[str, Image.Image] = {}
    seen: set[bytes] = set()
    for name, image in found.items():
        digest = np.asarray(image).tobytes()
        if digest not in seen:
            seen.add(digest)
            unique[name] = image
    return unique


def posters(count: int) -> dict[str, Image.Image]:
    return {f"poster-{seed}": samples.poster(seed) for seed in range(1000, 1000 + count)}


# -- edits ------------------------------------------------------------------------------------


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()


def resize(scale: float) -> Callable[[Image.Image], Image.Image]:
    return lambda im: im.resize(
        (max(8, round(im.width * scale)), max(8, round(im.height * scale))), Image.LANCZOS
    )


def border(share: float, colour: tuple[int, int, int]) -> Callable[[Image.Image], Image.Image]:
    """A frame adding `share` of the width and the height, half on each side."""

    def edit(im: Image.Image) -> Image.Image:
        dx, dy = round(im.width * share / 2), round(im.height * share / 2)
        return ImageOps.expand(im, (dx, dy, dx, dy), fill=colour)

    return edit


def letterbox(share: float) -> Callable[[Image.Image], Image.Image]:
    def edit(im: Image.Image) -> Image.Image:
        dy = round(im.height * share / 2)
        return ImageOps.expand(im, (0, dy, 0, dy), fill=(0, 0, 0))

    return edit


def caption(share: float, *, over: bool, top: bool = False) -> Callable[[Image.Image], Image.Image]:
    """A caption bar of `share` of the height: added to the canvas, or pasted over the picture."""

    def edit(im: Image.Image) -> Image.Image:
        bar = max(4, round(im.height * share))
        if over:
            out = im.copy()
            y0 = 0 if top else im.height - bar
        else:
            out = Image.new("RGB", (im.width, im.height + bar), (255, 255, 255))
            out.paste(im, (0, bar if top else 0))
            y0 = 0 if top else im.height
        draw = ImageDraw.Draw(out)
        fill, ink = ((15, 15, 15), (255, 255, 255)) if over else ((255, 255, 255), (0, 0, 0))
        draw.rectangle((0, y0, out.width, y0 + bar), fill=fill)
        draw.text(
            (bar // 3, y0 + bar // 5), "SHARE BEFORE THEY DELETE", fill=ink, font=_font(bar // 2)
        )
        return out

    return edit


def crop(share: float, *, split: str) -> Callable[[Image.Image, int], Image.Image]:
    """Remove `share` of the width and of the height: centred, or split at random."""

    def edit(im: Image.Image, seed: int) -> Image.Image:
        if split == "centre":
            a, b = 0.5, 0.5
        else:
            a, b = np.random.default_rng(seed).uniform(0, 1, 2)
        dx, dy = im.width * share, im.height * share
        left, top = round(dx * a), round(dy * b)
        return im.crop((left, top, im.width - round(dx - left), im.height - round(dy - top)))

    return edit


def watermark(im: Image.Image) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    size = max(10, im.height // 12)
    draw.text(
        (im.width // 20, im.height // 2), "@channel_name", fill=(255, 255, 255), font=_font(size)
    )
    return out


def collage(image: Image.Image, others: list[Image.Image], slot: int, gutter: int) -> Image.Image:
    """`image` in slot `slot` of a 2x2 collage of 640x480 tiles, `gutter` pixels apart."""
    tw, th = 320, 240
    canvas = Image.new("RGB", (2 * tw + gutter, 2 * th + gutter), (255, 255, 255))
    pictures = [*others[:slot], image, *others[slot:]][:4]
    for index, picture in enumerate(pictures):
        r, c = divmod(index, 2)
        canvas.paste(
            picture.resize((tw, th), Image.LANCZOS), (c * (tw + gutter), r * (th + gutter))
        )
    return canvas


def _ignore_seed(edit: Callable[[Image.Image], Image.Image]) -> Callable[..., Image.Image]:
    return lambda image, seed: edit(image)


def edits() -> dict[str, Callable[..., Image.Image]]:
    """name -> edit(image, seed) (ordinary ones first, then those the variants are for)."""
    plain = {
        "resize 50%": resize(0.5),
        "resize 25%": resize(0.25),
        "blur r=2": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
        "brightness +30%": lambda im: ImageEnhance.Brightness(im).enhance(1.3),
        "greyscale": lambda im: im.convert("L").convert("RGB"),
        "watermark text": watermark,
        "mirror": ImageOps.mirror,
        "rotate 90": lambda im: im.rotate(90, expand=True),
        "rotate 180": lambda im: im.rotate(180),
        "rotate 270": lambda im: im.rotate(270, expand=True),
        "mirror + resize 50%": lambda im: resize(0.5)(ImageOps.mirror(im)),
        "border 5% black": border(0.05, (0, 0, 0)),
        "border 10% white": border(0.10, (255, 255, 255)),
        "border 15% red": border(0.15, (200, 30, 40)),
        "letterbox 15%": letterbox(0.15),
        "caption added 10% bottom": caption(0.10, over=False),
        "caption added 15% top": caption(0.15, over=False, top=True),
        "caption over 6% bottom": caption(0.06, over=True),
        "caption over 10% bottom": caption(0.10, over=True),
        "caption over 15% bottom": caption(0.15, over=True),
        # One geometric and one framing edit together, and colours inverted.
        "mirror + border 10% black": lambda im: border(0.10, (0, 0, 0))(ImageOps.mirror(im)),
        "rotate 90 + letterbox 15%": lambda im: letterbox(0.15)(im.rotate(90, expand=True)),
        "rotate 180 + caption added 10% bottom": lambda im: caption(0.10, over=False)(
            im.rotate(180)
        ),
        "caption added 15% top + rotate 270": lambda im: caption(0.15, over=False, top=True)(
            im
        ).rotate(270, expand=True),
        "inverted": ImageOps.invert,
        "inverted + mirror": lambda im: ImageOps.invert(ImageOps.mirror(im)),
    }
    out: dict[str, Callable[..., Image.Image]] = {
        name: _ignore_seed(f) for name, f in plain.items()
    }
    out["JPEG quality 35"] = lambda im, seed: im  # encoded at 35 below
    for share in (0.02, 0.05, 0.10):
        out[f"crop {share:.0%} centre"] = crop(share, split="centre")
        out[f"crop {share:.0%} random sides"] = crop(share, split="random")
    return out


COLLAGE_EDITS = ("2x2 collage tile", "2x2 collage tile, 16px gutters")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


# -- matching ---------------------------------------------------------------------------------


class Shared:
    """The shared table of one set: each image's PDQ if usable, optionally with its stored
    variants."""

    def __init__(self, images: dict[str, Image.Image], *, stored: bool) -> None:
        self.owner: dict[str, str] = {}
        self.original: dict[str, str] = {}
        self.stored_variant: dict[str, str] = {}
        for name, image in images.items():
            data = jpeg(image, 95)
            signal = examine_bytes(data, MAX_PIXELS).signal("pdq")
            assert signal is not None
            self.original[name] = signal.value
            # As a confirmation shares: a hash too flat to match on (quality < 50) is not.
            if PDQ.usable(signal):
                self.owner[signal.value] = name
            if stored:
                for extra in shared_variant_signals(data, MAX_PIXELS):
                    self.owner.setdefault(extra.value, name)
                    self.stored_variant.setdefault(extra.value, extra.variant)
        self.index = HammingIndex(pdq.PDQ_BITS)
        self.index.add(self.owner)
        self.records = {("pdq", v): HashRecord("pdq", v, (n,)) for v, n in self.owner.items()}

    def through(self, match: Match) -> str:
        """The variant a match went through: the upload's, and the stored one's if any."""
        stored = self.stored_variant.get(match.matched_value)
        return f"{match.variant}>{stored}" if stored else match.variant

    def lookup(self, keys):
        return {k: self.records[k] for k in keys if k in self.records}

    def matched(self, found: list[Signal]) -> set[str]:
        return {
            self.owner[m.matched_value]
            for m in find_matches(
                found, self.lookup, {PDQ.name: self.index}.get, {PDQ.name: DISTANCE}
            )
        }

    def nearest_other(self, found: list[Signal], shown: set[str]) -> int:
        usable = [s for s in found if s.type == PDQ.name and PDQ.usable(s)]
        best = pdq.PDQ_BITS
        for value, owner in self.owner.items():
            if owner not in shown:
                for signal in usable:
                    best = min(best, pdq.hamming_hex(signal.value, value))
        return best


def _quality(image: Image.Image) -> int:
    signal = examine_bytes(jpeg(image, 95), MAX_PIXELS).signal("pdq")
    return signal.quality or 0 if signal else 0


def plain_pdq(found: list[Signal]) -> list[Signal]:
    return [s for s in found if s.type == "pdq" and s.variant == variants.ORIGINAL]


def evaluate(title: str, images: dict[str, Image.Image], seeds: int = 1) -> None:
    names = list(images)
    shared = Shared(images, stored=False)
    with_crops = Shared(images, stored=True)
    usable = [
        n
        for n in names
        if PDQ.usable(examine_bytes(jpeg(images[n], 95), MAX_PIXELS).signal(PDQ.name))  # type: ignore[arg-type]
    ]
    print(
        f"\n## {title}: {len(names)} images, {len(usable)} of PDQ quality >= 50 (counted); "
        f"random edits drawn {seeds} time(s) an image\n"
    )
    print(f"{'edit':<34} {'PDQ':>6} {'Cordon':>7} {'+stored':>7}  through (+stored)")
    # Each upload with the names of the images it shows (a collage shows three others).
    uploads: dict[str, list[tuple[list[Signal], set[str]]]] = {n: [] for n in names}
    table = edits()
    for edit_name in [*table, *COLLAGE_EDITS]:
        hits = {"pdq": 0, "cordon": 0, "crops": 0}
        via: dict[str, int] = {}
        # Edits drawn at random (crops split at random) are drawn `seeds` times an image.
        repeats = seeds if "random" in edit_name else 1
        trials = [(k + 1000 * r, name) for r in range(repeats) for k, name in enumerate(usable)]
        for seed, name in trials:
            image = images[name]
            shown = {name}
            if edit_name in COLLAGE_EDITS:
                other_names = [o for o in names if o != name][seed % 5 : seed % 5 + 3]
                shown.update(other_names)
                others = [images[o] for o in other_names]
                edited = collage(image, others, seed % 4, 16 if "gutter" in edit_name else 0)
            else:
                edited = table[edit_name](image, seed)
            quality = 35 if edit_name == "JPEG quality 35" else 90
            found = list(examine_bytes(jpeg(edited, quality), MAX_PIXELS).signals)
            uploads[name].append((found, shown))
            hits["pdq"] += name in shared.matched(plain_pdq(found))
            hits["cordon"] += name in shared.matched(found)
            # The first (strongest) match naming the image, through which variants it went.
            first = next(
                (
                    m
                    for m in find_matches(
                        found,
                        with_crops.lookup,
                        {PDQ.name: with_crops.index}.get,
                        {PDQ.name: DISTANCE},
                    )
                    if with_crops.owner[m.matched_value] == name
                ),
                None,
            )
            if first is not None:
                hits["crops"] += 1
                way = with_crops.through(first)
                via[way] = via.get(way, 0) + 1
        n = len(trials)
        ways = ", ".join(f"{k} {v}" for k, v in sorted(via.items(), key=lambda kv: -kv[1]))
        print(
            f"{edit_name:<34} {hits['pdq'] / n:>6.2f} {hits['cordon'] / n:>7.2f} "
            f"{hits['crops'] / n:>7.2f}  {ways}"
        )
    # False matches: every upload, original or edited, against every other image's hashes.
    false_plain = false_cordon = false_crops = pairs = 0
    margin_plain = margin_cordon = margin_crops = pdq.PDQ_BITS
    for name in names:
        original = list(examine_bytes(jpeg(images[name], 90), MAX_PIXELS).signals)
        for found, shown in [(original, {name}), *uploads[name]]:
            pairs += len(names) - len(shown)
            false_plain += len(shared.matched(plain_pdq(found)) - shown)
            false_cordon += len(shared.matched(found) - shown)
            false_crops += len(with_crops.matched(found) - shown)
            margin_plain = min(margin_plain, shared.nearest_other(plain_pdq(found), shown))
            margin_cordon = min(margin_cordon, shared.nearest_other(found, shown))
            margin_crops = min(margin_crops, with_crops.nearest_other(found, shown))
    originals = [with_crops.original[n] for n in usable]
    closest = min(
        pdq.hamming_hex(a, b) for i, a in enumerate(originals) for b in originals[i + 1 :]
    )
    print(
        f"\nfalse matches over {pairs:,} (upload, image it does not show) pairs: "
        f"PDQ {false_plain} ({false_plain / pairs:.4%}), Cordon {false_cordon} "
        f"({false_cordon / pairs:.4%}), +stored {false_crops} ({false_crops / pairs:.4%})"
    )
    print(
        f"smallest distance between two different usable originals (plain PDQ): {closest} bits; "
        f"nearest any upload's signal came to another image's shared hash: PDQ {margin_plain}, "
        f"Cordon {margin_cordon}, +stored {margin_crops} (threshold {DISTANCE})"
    )


# -- false matches between unrelated images of every kind -------------------------------------

KINDS = ("photo", "poster", "graphic", "text")
PAIR_KINDS = [f"{a}-{b}" for i, a in enumerate(KINDS) for b in KINDS[i:]]
GRAPHIC_KINDS = ("flag", "logo", "gradient", "blank")
# What uploaders send of every image in the false-match table: the file (PNG for graphics and
# text, which is how they travel; JPEG for photographs), a re-encode, and the edits the
# variants exist for.
UNRELATED_EDITS = (
    "file",
    "JPEG quality 80",
    "mirror",
    "rotate 90",
    "crop 5% random sides",
    "border 10% white",
    "caption over 10% bottom",
)


def flat_pictures(count: int) -> dict[str, tuple[str, Image.Image]]:
    """`count` distinct pictures of each flat kind (`cordon_cli.samples.FLAT_KINDS`), by name,
    each with the kind it counts as in the table ("graphic" or "text")."""
    return {
        f"{kind}-{seed}": ("text" if kind == "text" else "graphic", make(seed))
        for kind, make in samples.FLAT_KINDS.items()
        for seed in range(1000, 1000 + count)
    }


def _shared_file(kind: str, image: Image.Image) -> bytes:
    return samples.png(image) if kind in ("graphic", "text") else jpeg(image, 95)


def _family(variant: str) -> str:
    """A variant's family: `tile-0-1` and `trimmed-tile-1-1` are tiles, `anchor-3` and the
    stored `anchor-5-2` anchored windows, `crop-7.5` a stored crop..."""
    if variant == variants.ORIGINAL:
        return "own"
    for prefix, family in (
        ("trimmed-tile-", "tile"),
        ("tile-", "tile"),
        ("region-", "region"),
        ("anchor-", "anchor"),
        ("crop-", "crop"),
        ("enlarged-", "enlarged"),
        ("caption-", "caption"),
        ("masked-", "masked"),
        ("rot", "rotation"),
    ):
        if variant.startswith(prefix):
            return family
    return variant


def _bits(values: list[str], width: int) -> np.ndarray:
    """Hex hashes as rows of uint64 words, for XOR and popcount."""
    words = width // 64
    return np.array(
        [[int(v[16 * w : 16 * w + 16], 16) for w in range(words)] for v in values],
        dtype=np.uint64,
    ).reshape(len(values), words)


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.bitwise_count(a[:, None, :] ^ b[None, :, :]).sum(axis=2)


class SharedAll:
    """Every image of the table shared as a confirmation shares it: its usable signals of
    every type (exact hashes, PDQ, pHash) and its stored variants, each hash with the images
    that own it (unrelated flat pictures can share one: every blank canvas has one pHash)."""

    def __init__(self, images: dict[str, tuple[str, Image.Image]]) -> None:
        self.kind = {name: kind for name, (kind, _) in images.items()}
        self.owners: dict[tuple[str, str], set[str]] = {}
        self.records: dict[tuple[str, str], HashRecord] = {}
        pdq_rows: list[tuple[str, str, str]] = []  # value, owner, family
        phash_rows: list[tuple[str, str]] = []
        for name, (kind, image) in images.items():
            data = _shared_file(kind, image)
            own_pdq = None
            for signal in examine_bytes(data, MAX_PIXELS).signals:
                if signal.variant != variants.ORIGINAL or not usable(signal):
                    continue
                self._add(HashRecord(signal.type, signal.value, (name,)), name)
                if signal.type == PDQ.name:
                    own_pdq = signal.value
                    pdq_rows.append((signal.value, name, "own"))
                elif signal.type == "phash":
                    phash_rows.append((signal.value, name))
            for extra in shared_variant_signals(data, MAX_PIXELS):
                if extra.value == own_pdq:
                    continue
                record = HashRecord(
                    PDQ.name, extra.value, (name,), variant=extra.variant, variant_of=own_pdq
                )
                self._add(record, name)
                pdq_rows.append((extra.value, name, _family(extra.variant)))
        self.index = HammingIndex(pdq.PDQ_BITS)
        self.index.add({v for (t, v) in self.records if t == PDQ.name})
        self.pdq_bits = _bits([v for v, _, _ in pdq_rows], pdq.PDQ_BITS)
        self.pdq_owner = np.array([o for _, o, _ in pdq_rows])
        self.pdq_family = np.array([f for _, _, f in pdq_rows])
        self.phash_bits = _bits([v for v, _ in phash_rows], 64)
        self.phash_owner = np.array([o for _, o in phash_rows])

    def _add(self, record: HashRecord, owner: str) -> None:
        key = (record.signal_type, record.value)
        self.owners.setdefault(key, set()).add(owner)
        self.records.setdefault(key, record)

    def lookup(self, keys):
        return {k: self.records[k] for k in keys if k in self.records}

    def false_matches(self, examination: Examination, shown: set[str]) -> set[str]:
        """The images not shown whose shared hashes make the upload's verdict REVIEW or more,
        judged image by image as the pipeline judges an upload (default policy)."""
        found = find_matches(
            examination.signals, self.lookup, {PDQ.name: self.index}.get, {PDQ.name: DISTANCE}
        )
        by_image: dict[str, list[Match]] = {}
        for match in found:
            for owner in self.owners[(match.signal_type, match.matched_value)] - shown:
                by_image.setdefault(owner, []).append(match)
        return {
            owner
            for owner, matches in by_image.items()
            if decide(Policy(), examination, matches).action is not Action.ALLOW
        }


def unrelated(images: dict[str, tuple[str, Image.Image]], edits_used: tuple[str, ...]) -> None:
    """The closest any upload comes to an unrelated image, for each kind of pair and each
    variant, and the false matches (REVIEW or more) among them."""
    shared = SharedAll(images)
    table = edits()
    closest: dict[tuple[str, str], int] = {}  # (upload family > shared family, pair) -> bits
    phash_closest: dict[str, int] = {}
    false: dict[str, int] = dict.fromkeys(PAIR_KINDS, 0)
    uploads = pairs = 0
    for name, (kind, image) in images.items():
        others = shared.pdq_owner != name
        pair_of = {o: "-".join(sorted((kind, k), key=KINDS.index)) for o, k in shared.kind.items()}
        pdq_pairs = np.array([pair_of[o] for o in shared.pdq_owner])
        phash_pairs = np.array([pair_of[o] for o in shared.phash_owner])
        for edit in edits_used:
            if edit == "file":
                data = _shared_file(kind, image)
            else:
                quality = 80 if edit == "JPEG quality 80" else 90
                edited = image if edit == "JPEG quality 80" else table[edit](image, 0)
                data = jpeg(edited, quality)
            examination = examine_bytes(data, MAX_PIXELS)
            uploads += 1
            pairs += len(images) - 1
            for owner in shared.false_matches(examination, {name}):
                false[pair_of[owner]] += 1
            mine = [s for s in examination.signals if s.type == PDQ.name and PDQ.usable(s)]
            if mine:
                near = _distances(_bits([s.value for s in mine], pdq.PDQ_BITS), shared.pdq_bits)
                for row, signal in enumerate(mine):
                    for pair in set(pdq_pairs[others]):
                        for family in set(shared.pdq_family[others & (pdq_pairs == pair)]):
                            cols = others & (pdq_pairs == pair) & (shared.pdq_family == family)
                            key = (f"{_family(signal.variant)} > {family}", pair)
                            closest[key] = min(closest.get(key, 256), int(near[row, cols].min()))
            phash = examination.signal("phash")
            if phash is not None and len(shared.phash_bits):
                near = _distances(_bits([phash.value], 64), shared.phash_bits)[0]
                for pair in set(phash_pairs):
                    cols = (phash_pairs == pair) & (shared.phash_owner != name)
                    if cols.any():
                        phash_closest[pair] = min(
                            phash_closest.get(pair, 64), int(near[cols].min())
                        )
    counts = {k: sum(1 for n in images if shared.kind[n] == k) for k in KINDS}
    print(
        f"\n## Unrelated images: {', '.join(f'{v} {k}' for k, v in counts.items())} "
        f"(graphics: {', '.join(GRAPHIC_KINDS)}); each uploaded {len(edits_used)} ways "
        f"({', '.join(edits_used)}): {uploads:,} uploads, {pairs:,} (upload, unrelated image) "
        "pairs\n"
    )
    print(
        "Closest distance between an upload's signal and an unrelated image's shared hash, in "
        f"bits (PDQ of 256: matched within {DISTANCE}; pHash of 64: only confirms), by upload "
        "variant > what the shared side stored, and by kind of pair. '-': no such pair.\n"
    )
    short = {pair: "-".join(k[:2] for k in pair.split("-")) for pair in PAIR_KINDS}
    print(f"{'variant > stored':<22}" + "".join(f"{short[p]:>7}" for p in PAIR_KINDS))

    def line(label: str, cells: list[object]) -> None:
        print(f"{label:<22}" + "".join(f"{'-' if c is None else c:>7}" for c in cells))

    rows = sorted({row for row, _ in closest}, key=lambda r: (not r.startswith("own >"), r))
    for row in rows:
        line(row, [closest.get((row, pair)) for pair in PAIR_KINDS])
    line(
        "closest PDQ, any",
        [
            min((v for (_, p), v in closest.items() if p == pair), default=None)
            for pair in PAIR_KINDS
        ],
    )
    line("pHash own > own", [phash_closest.get(pair) for pair in PAIR_KINDS])
    line("false matches", [false[pair] for pair in PAIR_KINDS])
    print("(ph photo, po poster, gr graphic, te text)")
    print(
        f"\nfalse matches (verdict REVIEW or more under the default policy, from an image the "
        f"upload does not show): {sum(false.values())} of {pairs:,} pairs"
    )


def timing(pictures: list[Image.Image], passes: int) -> None:
    """The variants' added time over distinct 1024x768 JPEGs of `pictures`."""
    datas = [jpeg(p.resize((1024, 768), Image.LANCZOS), 90) for p in pictures]
    decoded = [decode_image(data, MAX_PIXELS) for data in datas]
    add, whole, shared_ms, counts, own = [], [], [], [], []
    for _ in range(passes):
        for data, one in zip(datas, decoded, strict=True):
            start = time.perf_counter()
            PDQ.hash_image(one)
            own.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            found = variants.variant_signals(one.image, one.full_size)
            add.append((time.perf_counter() - start) * 1e3)
            counts.append(len(found))
            start = time.perf_counter()
            examine_bytes(data, MAX_PIXELS)
            whole.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            variants.shared_variants(one.image, one.full_size)
            shared_ms.append((time.perf_counter() - start) * 1e3)
    first = decoded[0].image
    print(
        f"\ntime the variants add per 1024x768 JPEG ({len(datas)} distinct pictures x {passes}, "
        f"decoded {first.size[0]}x{first.size[1]} {first.mode}; load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): median "
        f"{statistics.median(add):.2f} ms, p90 {np.percentile(add, 90):.2f} ms "
        f"({statistics.median(add) / statistics.median(own):.1f}x the upload's own PDQ, "
        f"{statistics.median(own):.2f} ms), median "
        f"{statistics.median(counts):.0f} variant hashes (so twice as many more index "
        f"queries, with their complements); whole "
        f"examine_bytes median {statistics.median(whole):.2f} ms; shared-side variants "
        f"{statistics.median(shared_ms):.2f} ms per shared image"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="8 photos, 8 posters, 4 pictures of each flat kind"
    )
    parser.add_argument("--posters", type=int, default=30, help="synthetic posters (default 30)")
    parser.add_argument(
        "--seeds", type=int, default=1, help="random draws an image of the random edits (default 1)"
    )
    parser.add_argument(
        "--flat", type=int, default=20, help="pictures of each flat kind (default 20)"
    )
    args = parser.parse_args(argv)
    photos = photographs()
    if not photos:
        print("no photographs found in installed packages (PyWavelets missing?)")
        return 1
    if args.quick:
        photos = dict(list(photos.items())[:8])
    sources = sorted({n.split("-")[0] for n in photos})
    print(f"# Robustness of matching (threshold {DISTANCE} of 256 bits)")
    print(
        f"photographs from {', '.join(sources)}; "
        f"scikit-image installed: {_package_dir('skimage') is not None}"
    )
    evaluate("real photographs", photos, args.seeds)
    evaluate("synthetic posters", posters(8 if args.quick else args.posters), args.seeds)
    flats = flat_pictures(4 if args.quick else args.flat)
    matched = {n: im for n, (kind, im) in flats.items() if n.startswith(("flag-", "logo-"))}
    evaluate("flat graphics (flags, logos)", matched, args.seeds)
    table = {
        **{n: ("photo", im) for n, im in photos.items()},
        **{n: ("poster", im) for n, im in posters(8 if args.quick else args.posters).items()},
        **flats,
    }
    unrelated(table, UNRELATED_EDITS[:3] if args.quick else UNRELATED_EDITS)
    timing([*photos.values(), *posters(8 if args.quick else 40).values()], 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
