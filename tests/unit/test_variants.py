"""Match variants (chalicelib.variants): each edit they exist for, on real photographs (those
PyWavelets ships) and on synthetic posters, matches its original through the expected variant;
unrelated images never match, through any variant; a variant-only match is REVIEW."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from chalicelib import variants
from chalicelib.index import HammingIndex
from chalicelib.matching import find_matches
from chalicelib.models import Action, HashRecord, Match, Policy, Signal
from chalicelib.pdq import DEFAULT_MATCH_DISTANCE, hamming_hex
from chalicelib.policy import decide
from chalicelib.signals import examine_bytes
from cordon_cli import samples

MAX_PIXELS = 10**8
_PYWT = importlib.util.find_spec("pywt")
PYWT_DATA = Path(_PYWT.origin).parent / "data" if _PYWT and _PYWT.origin else None


def photos() -> dict[str, Image.Image]:
    found = {}
    for name in ("camera", "ascent", "aero"):
        path = PYWT_DATA / f"{name}.npz" if PYWT_DATA else None
        if path and path.exists():
            found[name] = Image.fromarray(np.load(path)["data"]).convert("RGB")
    return found


PHOTOS = photos()
POSTERS = {f"poster-{seed}": samples.poster(seed) for seed in samples.KNOWN_BAD_SEEDS}
IMAGES = {**PHOTOS, **POSTERS}
needs_photos = pytest.mark.skipif(not PHOTOS, reason="PyWavelets' photographs not installed")


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def signals_of(image: Image.Image) -> list[Signal]:
    return list(examine_bytes(jpeg(image), MAX_PIXELS).signals)


def pdq_of(image: Image.Image) -> str:
    return next(s.value for s in signals_of(image) if s.type == "pdq")


def matches(shared: Image.Image, upload: Image.Image) -> list[Match]:
    value = pdq_of(shared)
    index = HammingIndex(256)
    index.add([value])
    record = HashRecord("pdq", value, ("test",))

    def lookup(keys):
        return {k: record for k in keys if k == ("pdq", value)}

    return find_matches(signals_of(upload), lookup, index, DEFAULT_MATCH_DISTANCE)


# ---------------------------------------------------------------- edits


def bordered(image: Image.Image) -> Image.Image:
    dx, dy = image.width // 14, image.height // 14  # about 15 % of each side added
    return ImageOps.expand(image, (dx, dy, dx, dy), fill=(30, 140, 60))


def captioned(image: Image.Image) -> Image.Image:
    """A white caption band of 12 % added above the picture, black text on it."""
    bar = image.height * 12 // 100
    out = Image.new("RGB", (image.width, image.height + bar), (255, 255, 255))
    out.paste(image, (0, bar))
    ImageDraw.Draw(out).text((bar // 3, bar // 3), "SHARE BEFORE THEY DELETE", fill=(0, 0, 0))
    return out


def collage_tile(image: Image.Image, others: list[Image.Image]) -> Image.Image:
    """`image` at the bottom right of a 2x2 collage of three other pictures."""
    canvas = Image.new("RGB", (640, 480))
    for index, picture in enumerate([*others[:3], image]):
        r, c = divmod(index, 2)
        canvas.paste(picture.resize((320, 240), Image.LANCZOS), (c * 320, r * 240))
    return canvas


def others_than(name: str) -> list[Image.Image]:
    return [image for other, image in POSTERS.items() if other != name][:3]


EDITS = {
    "mirror": (ImageOps.mirror, {"mirror"}),
    "rotate 90": (lambda im: im.rotate(90, expand=True), {"rot90"}),
    "rotate 180": (lambda im: im.rotate(180), {"rot180"}),
    "rotate 270": (lambda im: im.rotate(270, expand=True), {"rot270"}),
    "border": (bordered, {"trimmed"}),
    "caption": (captioned, {"caption-top"}),
}


@pytest.mark.parametrize("name", list(IMAGES))
@pytest.mark.parametrize("edit", list(EDITS))
def test_edited_copy_matches_through_the_expected_variant(name: str, edit: str):
    # GIVEN a shared image and a copy edited the way uploaders do
    apply, expected = EDITS[edit]
    # WHEN the copy is examined and matched
    found = matches(IMAGES[name], apply(IMAGES[name]))
    # THEN it matches within the distance, through the variant that undoes the edit
    assert found, f"{edit} of {name} did not match"
    assert found[0].variant in expected
    assert found[0].distance <= DEFAULT_MATCH_DISTANCE


@pytest.mark.parametrize("name", list(IMAGES))
def test_collage_tile_matches_through_a_tile(name: str):
    found = matches(IMAGES[name], collage_tile(IMAGES[name], others_than(name)))
    assert found and found[0].variant.startswith(("tile-", "region-"))


@pytest.mark.parametrize("name", list(IMAGES))
def test_crop_of_8_percent_matches_a_stored_centre_crop(name: str):
    # GIVEN the shared side stores the image's centre crops (shared_variants)
    image = IMAGES[name]
    stored = {s.variant: s.value for s in variants.shared_variants(image)}
    assert set(stored) == {"crop-4", "crop-8"}
    # WHEN a copy cropped by 8 % of each side (4 % a side) is uploaded
    dx, dy = round(image.width * 0.04), round(image.height * 0.04)
    upload = pdq_of(image.crop((dx, dy, image.width - dx, image.height - dy)))
    # THEN it is far from the whole picture's hash but within the distance of a stored crop
    assert min(hamming_hex(upload, v) for v in stored.values()) <= DEFAULT_MATCH_DISTANCE


def test_unrelated_images_never_match_through_any_variant():
    # GIVEN every image, shared, and every image and edited copy uploaded
    names = list(IMAGES)
    for shared in names:
        for upload in names:
            if upload == shared:
                continue
            for edit, (apply, _) in EDITS.items():
                # THEN no upload of another image matches, whatever its variants
                assert not matches(IMAGES[shared], apply(IMAGES[upload])), (shared, upload, edit)


@needs_photos
def test_photos_are_far_apart_through_every_variant():
    signals = {name: signals_of(image) for name, image in PHOTOS.items()}
    for a, found in signals.items():
        shared = next(s.value for s in found if s.type == "pdq")
        for b, other in signals.items():
            if a != b:
                nearest = min(hamming_hex(shared, s.value) for s in other if s.type == "pdq")
                assert nearest > 2 * DEFAULT_MATCH_DISTANCE


def test_variants_come_after_the_image_s_own_signals_and_name_themselves():
    found = signals_of(POSTERS["poster-1001"])
    assert [s.type for s in found[:4]] == ["sha256", "md5", "pdq", "phash"]
    assert all(s.variant == "original" for s in found[:4])
    extra = found[4:]
    assert extra and all(s.type == "pdq" and s.variant != "original" for s in extra)
    assert {"mirror", "rot90", "rot180", "rot270"} <= {s.variant for s in extra}
    assert all((s.quality or 0) >= 50 for s in extra)


def test_flat_image_gets_no_variants():
    flat = Image.new("RGB", (300, 200), (120, 120, 120))
    assert variants.variant_signals(flat) == []


def test_trim_box_finds_borders_of_any_colour():
    grey = np.full((100, 120), 200, dtype=np.float32)
    grey[10:80, 5:110] = np.random.default_rng(0).uniform(0, 255, (70, 105))
    assert variants.trim_box(grey, (0, 100, 0, 120)) == (10, 80, 5, 110)


# ---------------------------------------------------------------- policy


def test_match_found_only_through_a_variant_is_review_and_names_it():
    image = POSTERS["poster-1001"]
    upload = ImageOps.mirror(image)
    examination = examine_bytes(jpeg(upload), MAX_PIXELS)
    found = matches(image, upload)
    verdict = decide(Policy(), examination, found)
    assert verdict.action is Action.REVIEW
    assert "mirror" in verdict.reasons[0]
    assert "found only through" in verdict.reasons[0]


def test_variant_action_follows_policy_but_never_exceeds_the_type_s_action():
    image = POSTERS["poster-1001"]
    upload = ImageOps.mirror(image)
    examination = examine_bytes(jpeg(upload), MAX_PIXELS)
    found = matches(image, upload)
    takedown = Policy(variant_action=Action.TAKEDOWN)
    assert decide(takedown, examination, found).action is Action.TAKEDOWN
    capped = Policy(variant_action=Action.TAKEDOWN, pdq_action=Action.REVIEW)
    assert decide(capped, examination, found).action is Action.REVIEW


def test_altered_copy_matching_as_uploaded_stays_takedown_even_if_a_variant_is_nearer():
    # GIVEN a match reported through a variant, while the image's own PDQ is within reach too
    image = POSTERS["poster-1001"]
    upload = samples.captioned(image, 0.06)
    examination = examine_bytes(jpeg(upload), MAX_PIXELS)
    own = examination.signal("pdq")
    shared = pdq_of(image)
    assert hamming_hex(own.value, shared) <= DEFAULT_MATCH_DISTANCE
    via_variant = Match("pdq", "0" * 64, shared, 3, variant="caption-bottom")
    verdict = decide(Policy(), examination, [via_variant])
    # THEN the match is the image's own: TAKEDOWN, and the reason says both
    assert verdict.action is Action.TAKEDOWN
    assert "within the threshold too" in verdict.reasons[0]


def test_policy_variant_action_round_trips():
    rules = Policy(variant_action=Action.ALLOW)
    assert Policy.from_dict(rules.to_dict()) == rules
    assert Policy.from_dict({"variant_action": "takedown"}).variant_action is Action.TAKEDOWN
