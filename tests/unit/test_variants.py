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

from chalicelib import anchored, pdq, variants
from chalicelib.index import HammingIndex
from chalicelib.matching import find_matches, with_complements
from chalicelib.models import Action, HashRecord, Match, Policy, Signal
from chalicelib.pdq import DEFAULT_MATCH_DISTANCE, hamming_hex
from chalicelib.policy import decide
from chalicelib.signals import examine_bytes, shared_variant_signals, usable
from chalicelib.variants import ORIGINAL
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
# What the shared side stores of an image large enough: centre crops and masked copies.
STORED_VARIANTS = {"crop-2.5", "crop-5", "crop-7.5", "crop-10", "masked-top", "masked-bottom"}
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

    return find_matches(
        signals_of(upload), lookup, {"pdq": index}.get, {"pdq": DEFAULT_MATCH_DISTANCE}
    )


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
    # A turn and a framing edit together, and colours inverted (alone and with a turn).
    "mirror + border": (
        lambda im: bordered(ImageOps.mirror(im)),
        {"trimmed+mirror", "trimmed-even+mirror"},
    ),
    "rotate 90 + caption": (
        lambda im: captioned(im.rotate(90, expand=True)),
        {"caption-top+rot90"},
    ),
    "caption + rotate 270": (
        lambda im: captioned(im).rotate(270, expand=True),
        {"caption-right+rot270"},
    ),
    "inverted": (ImageOps.invert, {"inverted"}),
    "inverted + rotate 180": (lambda im: ImageOps.invert(im.rotate(180)), {"inverted+rot180"}),
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


def stored_of(image: Image.Image) -> dict[str, str]:
    """The variants the shared side stores for `image`, decoded as an upload would be."""
    return {s.variant: s.value for s in shared_variant_signals(jpeg(image), MAX_PIXELS)}


def nearest(values: dict[str, str], found: list[Signal]) -> tuple[int, str, str]:
    """(distance, upload variant, stored variant) of the closest pair, the complements the
    matcher looks up included (256 bits when no signal is usable)."""
    return min(
        (
            (hamming_hex(s.value, v), s.variant, name)
            for s in with_complements(found)
            if s.type == "pdq" and (s.quality or 0) >= 50
            for name, v in values.items()
        ),
        default=(256, "", ""),
    )


@pytest.mark.parametrize("name", list(IMAGES))
def test_centre_crop_of_10_percent_matches_a_stored_centre_crop(name: str):
    # GIVEN the shared side stores the image's centre crops and masked copies
    image = IMAGES[name]
    stored = stored_of(image)
    assert {k for k in stored if not k.startswith("anchor-")} == STORED_VARIANTS
    # WHEN a copy cropped by 10 % of each side (5 % a side) is uploaded
    dx, dy = round(image.width * 0.05), round(image.height * 0.05)
    upload = signals_of(image.crop((dx, dy, image.width - dx, image.height - dy)))
    # THEN it is far from the whole picture's hash but within the distance of a stored crop
    assert hamming_hex(upload[2].value, pdq_of(image)) > DEFAULT_MATCH_DISTANCE
    distance, _, via = nearest({k: v for k, v in stored.items() if k.startswith("crop")}, upload)
    assert distance <= DEFAULT_MATCH_DISTANCE, (distance, via)


UNEVEN_SPLITS = {
    "all from left and top": (0.0, 0.0),
    "all from right and bottom": (1.0, 1.0),
    "all from right and top": (1.0, 0.0),
    "30/70 and 70/30": (0.3, 0.7),
    "70/30 and 20/80": (0.7, 0.2),
}


@needs_photos
@pytest.mark.parametrize("split", list(UNEVEN_SPLITS))
@pytest.mark.parametrize("name", list(PHOTOS))
def test_crop_split_unevenly_meets_a_stored_anchored_window(name: str, split: str):
    # GIVEN the shared side stores the photograph's anchored windows beside its crops
    image = PHOTOS[name]
    stored = stored_of(image)
    anchors = {k: v for k, v in stored.items() if k.startswith("anchor-")}
    framed = {k: v for k, v in stored.items() if k not in anchors}
    # WHEN a copy with 10 % of each axis cut, split unevenly between sides, is uploaded
    left_share, top_share = UNEVEN_SPLITS[split]
    dx, dy = image.width * 0.10, image.height * 0.10
    left, top = round(dx * left_share), round(dy * top_share)
    right, bottom = image.width - round(dx - left), image.height - round(dy - top)
    upload = signals_of(image.crop((left, top, right, bottom)))
    # THEN nothing hashed from the frame comes near (the picture moved in it), but one of the
    # upload's anchored windows meets a stored one
    assert nearest({**framed, ORIGINAL: pdq_of(image)}, upload)[0] > DEFAULT_MATCH_DISTANCE
    distance, via, met = nearest(anchors, upload)
    assert distance <= DEFAULT_MATCH_DISTANCE, (distance, via, met)
    assert via.startswith("anchor-") and met.startswith("anchor-")


def test_anchored_windows_are_few_and_named():
    image = PHOTOS.get("camera", POSTERS["poster-1004"])
    uploaded = [s.variant for s in signals_of(image) if s.variant.startswith("anchor-")]
    stored = [k for k in stored_of(image) if k.startswith("anchor-")]
    assert 0 < len(uploaded) <= anchored.UPLOAD_WINDOWS
    assert 0 < len(stored) <= anchored.STORED_WINDOWS * len(anchored.CROP_SCALES)
    assert "distinctive spot" in variants.describe(uploaded[0])
    assert "scale of a" in variants.describe(stored[0])


@pytest.mark.parametrize("name", list(IMAGES))
@pytest.mark.parametrize("top", [False, True])
def test_caption_pasted_over_meets_the_stored_masked_copy(name: str, top: bool):
    # GIVEN a dark caption bar of 15 % of the height pasted over the picture (its pixels lost)
    image = IMAGES[name]
    upload = image.copy()
    bar = image.height * 15 // 100
    y0 = 0 if top else image.height - bar
    draw = ImageDraw.Draw(upload)
    draw.rectangle((0, y0, image.width, y0 + bar), fill=(12, 12, 12))
    draw.text((10, y0 + bar // 3), "SHARE BEFORE THEY DELETE", fill=(255, 255, 255))
    # WHEN the upload's masked variant meets the shared side's stored masked copy
    side = "masked-top" if top else "masked-bottom"
    distance, via, _ = nearest({side: stored_of(image)[side]}, signals_of(upload))
    # THEN they are within the distance: the rest of the picture is the same, in the same place
    assert distance <= DEFAULT_MATCH_DISTANCE
    assert via == side


@needs_photos
@pytest.mark.parametrize("name", list(PHOTOS))
def test_downscaled_copy_is_hashed_as_a_reduction_of_the_larger_picture(name: str):
    # GIVEN a 512x512 photograph downscaled to half its size
    image = PHOTOS[name]
    small = image.resize((image.width // 2, image.height // 2), Image.LANCZOS)
    found = {s.variant: s.value for s in signals_of(small) if s.type == "pdq"}
    # THEN it gets the enlarged variants, and the 2x one is nearer the original than the
    # upload's own hash (PDQ blurs a small picture less than the large one and aliases)
    assert {"enlarged-2", "enlarged-4"} <= set(found)
    shared = pdq_of(image)
    assert hamming_hex(found["enlarged-2"], shared) <= 8
    assert hamming_hex(found["enlarged-2"], shared) <= hamming_hex(found["original"], shared)


def test_large_upload_gets_no_enlarged_variants():
    found = signals_of(samples.poster(1001, (1024, 768)))
    assert not any(s.variant.startswith("enlarged") for s in found)


@needs_photos
@pytest.mark.parametrize("name", list(PHOTOS))
def test_frame_next_to_a_flat_edge_matches_through_the_even_trim(name: str):
    # GIVEN a photograph whose top is a flat grey as dark as a red frame (luma 82)
    image = PHOTOS[name].copy()
    ImageDraw.Draw(image).rectangle((0, 0, image.width, image.height // 10), fill=(82, 82, 82))
    # WHEN it is uploaded in a red frame: trimming runs on through the flat top
    framed = ImageOps.expand(image, (38, 38, 38, 38), fill=(200, 30, 40))
    found = matches(image, framed)
    # THEN the even cut (the smaller of opposite sides) still finds it
    assert found and found[0].variant == "trimmed-even"


@needs_photos
@pytest.mark.parametrize("name", list(PHOTOS))
def test_caption_added_under_a_flat_edge_is_cut_at_the_band(name: str):
    # GIVEN a photograph with a flat bottom, and a white caption band added below it
    image = PHOTOS[name].copy()
    h = image.height
    ImageDraw.Draw(image).rectangle((0, h - h // 8, image.width, h), fill=(240, 240, 240))
    bar = h // 10
    upload = Image.new("RGB", (image.width, h + bar), (255, 255, 255))
    upload.paste(image, (0, 0))
    ImageDraw.Draw(upload).text((10, h + bar // 3), "SHARE BEFORE THEY DELETE", fill=(0, 0, 0))
    # THEN the band is cut off, and only the band (not the flat rows above it)
    found = matches(image, upload)
    assert found and found[0].variant == "caption-bottom"


def test_unrelated_images_never_match_through_any_variant():
    # GIVEN every image shared, with the variants the shared side stores, and every image and
    # edited copy uploaded with its own variants
    stored = {name: {**stored_of(image), ORIGINAL: pdq_of(image)} for name, image in IMAGES.items()}
    uploads = {
        (name, edit): signals_of(apply(image))
        for name, image in IMAGES.items()
        for edit, (apply, _) in {**EDITS, "none": (lambda im: im, set())}.items()
    }
    for shared, values in stored.items():
        for (upload, edit), found in uploads.items():
            if upload != shared:
                # THEN no upload of another image comes within the distance of any of them
                distance = nearest(values, found)[0]
                assert distance > DEFAULT_MATCH_DISTANCE, (shared, upload, edit)


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


@pytest.mark.parametrize("name", ["poster-1001", *PHOTOS])
def test_one_pass_dihedral_buffers_equal_turning_the_picture(name: str):
    # GIVEN the work copy of a picture that is not square
    image = IMAGES[name]
    work = variants.Work.of(image.crop((0, 0, image.width, image.height * 3 // 4)))
    turned = work.dihedral_buffers()
    # THEN each buffer of the one pass is the buffer of the copy turned back by that turn
    for turn in variants.DIHEDRAL:
        block, _ = work.coefficients(work.whole, turn)
        np.testing.assert_allclose(pdq.dct_blocks(turned[turn][None])[0], block, atol=1e-2)
        assert (
            variants.hash_of(block) == pdq.hashes_of_blocks(pdq.dct_blocks(turned[turn][None]))[0]
        )


@pytest.mark.parametrize("name", ["poster-1001", *PHOTOS])
def test_one_pass_dihedral_buffers_of_a_box_equal_turning_the_box(name: str):
    # GIVEN a box inside a picture's work copy, off centre and not square
    work = variants.Work.of(IMAGES[name])
    rows, cols = work.grey.shape
    box = (rows // 10, rows - rows // 7, cols // 9, cols - cols // 5)
    turned = work.dihedral_buffers(box)
    # THEN each buffer is that of the box cut out and turned back, as its own picture
    for turn in [ORIGINAL, *variants.DIHEDRAL]:
        block, _ = work.coefficients(box, None if turn == ORIGINAL else turn)
        np.testing.assert_allclose(pdq.dct_blocks(turned[turn][None])[0], block, atol=1e-2)


def test_framed_upload_gets_the_turns_of_its_framed_picture():
    # GIVEN a poster in a frame
    found = {s.variant for s in variants.variant_signals(bordered(POSTERS["poster-1001"]))}
    # THEN the trimmed picture is hashed as it is and turned back by each transform
    assert {"trimmed", *(f"trimmed+{turn}" for turn in variants.DIHEDRAL)} <= found


def test_each_pdq_signal_is_also_looked_up_as_its_complement():
    # GIVEN an upload's PDQ, one of its variants, a PDQ too flat to match, and exact hashes
    signals = [
        Signal("sha256", "ab" * 32),
        Signal("pdq", "0f" * 32, quality=90),
        Signal("pdq", "f0" * 32, quality=80, variant="trimmed+mirror"),
        Signal("phash", "0f" * 8),
    ]
    extra = with_complements(signals)[len(signals) :]
    # THEN only the PDQ signals get a complement, named as the inverted variant of theirs
    assert [(s.value, s.variant, s.quality) for s in extra] == [
        ("f0" * 32, "inverted", 90),
        ("0f" * 32, "inverted+trimmed+mirror", 80),
    ]
    assert "colours inverted" in variants.describe("inverted+trimmed+mirror")
    assert variants.describe("trimmed+mirror").endswith("then the image mirrored left to right")


def test_inverted_copy_matches_through_the_complement_and_is_review():
    # GIVEN a shared photograph-like poster, and its colour-inverted copy uploaded
    image = POSTERS["poster-1004"]
    upload = ImageOps.invert(image)
    examination = examine_bytes(jpeg(upload), MAX_PIXELS)
    own = examination.signal("pdq")
    assert own is not None and hamming_hex(own.value, pdq_of(image)) > 200
    # WHEN it is matched
    found = matches(image, upload)
    # THEN it matches the shared hash through its complement: a variant match, REVIEW
    assert found and found[0].variant == "inverted" and found[0].distance <= 8
    verdict = decide(Policy(), examination, found)
    assert verdict.action is Action.REVIEW
    assert "inverted" in verdict.reasons[0] and "found only through" in verdict.reasons[0]


def low_information_images() -> dict[str, Image.Image]:
    """Near-blank pictures and bare shapes, whose complements could lie near anything."""
    size = (640, 480)
    found = {"white": Image.new("RGB", size, (255, 255, 255))}
    ramp = np.linspace(0, 255, size[0], dtype=np.float32)[None, :].repeat(size[1], axis=0)
    found["gradient"] = Image.fromarray(ramp.astype(np.uint8)).convert("RGB")
    noise = 128 + np.random.default_rng(1).normal(0, 3, (size[1], size[0]))
    found["faint noise"] = Image.fromarray(noise.clip(0, 255).astype(np.uint8)).convert("RGB")
    for name, box, shape in (
        ("dot", (280, 200, 360, 280), "ellipse"),
        ("half black", (0, 0, 320, 480), "rectangle"),
        ("top black", (0, 0, 640, 240), "rectangle"),
    ):
        picture = Image.new("RGB", size, (255, 255, 255))
        getattr(ImageDraw.Draw(picture), shape)(box, fill=(0, 0, 0))
        found[name] = picture
    text = Image.new("RGB", size, (255, 255, 255))
    ImageDraw.Draw(text).text((20, 20), "hello world", fill=(0, 0, 0))
    found["small text"] = text
    return found


def test_low_information_uploads_and_their_complements_match_no_shared_image():
    # GIVEN every image shared with the variants the shared side stores
    stored = [{**stored_of(image), ORIGINAL: pdq_of(image)} for image in IMAGES.values()]
    # WHEN near-blank pictures and bare shapes are uploaded
    for name, picture in low_information_images().items():
        found = signals_of(picture)
        # THEN none of their usable signals, nor any complement, comes within the distance
        for values in stored:
            assert nearest(values, found)[0] > DEFAULT_MATCH_DISTANCE, name


@pytest.mark.parametrize("name", ["poster-1001", *PHOTOS])
def test_masked_buffers_equal_hashing_the_painted_picture(name: str):
    # GIVEN a picture's work copy, and copies with 16 % painted in the mean of the rest
    work = variants.Work.of(IMAGES[name])
    rows = work.grey.shape[0]
    cut = round(rows * variants.MASK_SHARE)
    bottom, top = work.grey.copy(), work.grey.copy()
    bottom[rows - cut :] = work.grey[: rows - cut].mean()
    top[:cut] = work.grey[cut:].mean()
    # THEN the buffers built from the picture's own plus the change are those of the copies
    masked = work.masked_buffers(work.dihedral_buffers()[ORIGINAL])
    for side, painted in (("masked-bottom", bottom), ("masked-top", top)):
        direct = variants.Work(painted, work.scale).dihedral_buffers()[ORIGINAL]
        np.testing.assert_allclose(masked[side], direct, atol=1e-2)


def test_uniform_lines_agree_with_the_median_definition():
    # GIVEN lines that are flat, flat with a few outliers, noisy around a level, and random
    rng = np.random.default_rng(3)
    lines = rng.uniform(0, 255, (60, 200)).astype(np.float32)
    lines[:30] = 90 + rng.normal(0, 3, (30, 200))
    lines[15:30, :5] = 255  # 2.5 % outliers: still uniform
    lines[30:40] = 90 + rng.normal(0, 9, (10, 200))  # wider than the tolerance: not uniform
    # THEN the fast test says what the definition (97 % within 12 of the median) says
    median = np.median(lines, axis=1, keepdims=True)
    expected = (np.abs(lines - median) <= 12).mean(axis=1) >= 0.97
    assert expected[:30].all() and not expected[30:].any()
    np.testing.assert_array_equal(variants.uniform_lines(lines), expected)


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


@pytest.mark.parametrize(("shape", "sigma"), [((64, 85), 1.92), ((48, 64), 1.44), ((5, 7), 3.0)])
def test_anchored_blur_is_scipys_gaussian_filter(shape: tuple[int, int], sigma: float):
    from scipy import ndimage

    picture = np.random.default_rng(7).random(shape).astype(np.float32) * 255
    expected = ndimage.gaussian_filter(picture, sigma, truncate=2.5)
    assert np.abs(anchored._blur(picture, sigma) - expected).max() < 1e-3


# ---------------------------------------------------------------- flat content


def shared_side(data: bytes) -> dict[str, str]:
    """What sharing an image stores (its own usable PDQ, its stored variants), by variant."""
    own = examine_bytes(data, MAX_PIXELS).signal("pdq")
    stored = {s.variant: s.value for s in shared_variant_signals(data, MAX_PIXELS)}
    if own is not None and (own.quality or 0) >= pdq.MIN_QUALITY:
        stored[ORIGINAL] = own.value
    return stored


# Unrelated flat graphics that matched through variants before the information gate (each
# upload, then the shared image it came nearest, measured by bench/robustness.py): a vertical
# tricolour turned a quarter against a horizontal one's masked copy (0 bits), windows around
# one shape of two logos (8), two flags with a disc (30), two striped flags (30).
FLAT_PAIRS = [
    (samples.flag(1024), samples.flag(1028)),
    (samples.logo(1023), samples.logo(1008)),
    (samples.flag(1021), samples.flag(1012)),
    (samples.flag(1020), samples.flag(1006)),
]


@pytest.mark.parametrize(("upload", "shared"), FLAT_PAIRS)
def test_unrelated_flat_graphics_match_through_no_variant(upload: Image.Image, shared: Image.Image):
    # GIVEN a flat graphic shared with its stored variants, and an unrelated one uploaded
    stored = shared_side(jpeg(shared))
    found = signals_of(upload)
    # THEN none of the upload's signals comes within the distance of what was stored
    distance, through, met = nearest(stored, found)
    assert distance > DEFAULT_MATCH_DISTANCE, (through, met)


def test_a_striped_flag_keeps_its_own_hash_but_gets_no_variants():
    # GIVEN a striped flag of PDQ quality >= 50, whose DCT coefficients are all zero but for
    # rounding (it changes along one axis only)
    image = samples.flag(1024)
    found = signals_of(image)
    own = next(s for s in found if s.type == "pdq")
    assert (own.quality or 0) >= pdq.MIN_QUALITY
    # THEN its own PDQ is kept, while no variant or stored variant is made of it
    assert [s for s in found if s.variant != ORIGINAL] == []
    assert shared_variant_signals(jpeg(image), MAX_PIXELS) == []


@needs_photos
def test_a_photograph_pasted_on_a_blank_canvas_still_gets_its_trimmed_variant():
    # GIVEN a photograph in the middle of a white canvas four times its area (mostly flat)
    photo = PHOTOS["camera"].resize((320, 240))
    canvas = Image.new("RGB", (640, 480), (255, 255, 255))
    canvas.paste(photo, (160, 120))
    # THEN the trimmed picture is no flat region: it is hashed and matches the photograph
    found = matches(photo, canvas)
    assert found and found[0].variant.startswith("trimmed")


def shared_table(images: list[Image.Image]) -> tuple[dict, HammingIndex]:
    """The hash table holding what sharing `images` stores: each one's usable signals (the
    exact hashes, PDQ, pHash) and its stored variants."""
    records: dict[tuple[str, str], HashRecord] = {}
    for image in images:
        data = jpeg(image)
        for signal in examine_bytes(data, MAX_PIXELS).signals:
            if signal.variant == ORIGINAL and usable(signal):
                records[(signal.type, signal.value)] = HashRecord(signal.type, signal.value)
        for signal in shared_variant_signals(data, MAX_PIXELS):
            records[("pdq", signal.value)] = HashRecord("pdq", signal.value, variant="crop")
    index = HammingIndex(256)
    index.add(v for (t, v) in records if t == "pdq")
    return records, index


@pytest.mark.parametrize(
    ("upload", "shared"),
    [
        # one pHash for every blank canvas; two striped flags of one pHash
        (samples.blank(1000), samples.blank(1002)),
        (samples.flag(1002), samples.flag(1067)),
    ],
)
def test_flat_pictures_of_one_phash_do_not_match(upload: Image.Image, shared: Image.Image):
    # GIVEN a flat picture shared, and an unrelated one of the same pHash
    records, index = shared_table([shared])
    found = signals_of(upload)
    assert found[3].type == "phash" and ("phash", found[3].value) in records

    # THEN the upload matches nothing
    def lookup(keys):
        return {k: records[k] for k in keys if k in records}

    assert find_matches(found, lookup, {"pdq": index}.get, {"pdq": DEFAULT_MATCH_DISTANCE}) == []
