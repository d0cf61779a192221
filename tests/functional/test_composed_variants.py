"""Edits combined, through the real handler against moto: a known-bad photograph mirrored or
rotated and then framed (a black or white border, letterbox bands, a caption band), and its
colour-inverted copy, are each held for review or taken down as the tenant's policy says for
a match found through a variant; an inverted copy let through before its original was shared
is found by the retro-scan. On PyWavelets' photographs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image, ImageDraw, ImageOps

from chalicelib.models import Action, ObjectRef
from tests.conftest import World
from tests.functional.test_sharing import stream_runner
from tests.unit.test_browser_formats import NAMES, encode, photo, shared_pdq

pytestmark = pytest.mark.skipif(not NAMES, reason="PyWavelets' photographs not installed")

Edit = Callable[[Image.Image], Image.Image]


def border(colour: tuple[int, int, int]) -> Edit:
    def edit(image: Image.Image) -> Image.Image:
        dx, dy = image.width // 14, image.height // 14  # about 15 % of each side added
        return ImageOps.expand(image, (dx, dy, dx, dy), fill=colour)

    return edit


def letterbox(image: Image.Image) -> Image.Image:
    dy = round(image.height * 0.075)  # 15 % of the height added in black bands
    return ImageOps.expand(image, (0, dy, 0, dy), fill=(0, 0, 0))


def caption(image: Image.Image) -> Image.Image:
    """A white caption band of 12 % added above the picture, black text on it."""
    bar = image.height * 12 // 100
    out = Image.new("RGB", (image.width, image.height + bar), (255, 255, 255))
    out.paste(image, (0, bar))
    ImageDraw.Draw(out).text((bar // 3, bar // 3), "SHARE BEFORE THEY DELETE", fill=(0, 0, 0))
    return out


TURNS: dict[str, Edit] = {
    "mirror": ImageOps.mirror,
    "rot90": lambda im: im.rotate(90, expand=True),
    "rot180": lambda im: im.rotate(180),
    "rot270": lambda im: im.rotate(270, expand=True),
}
# Each framing edit, and the variant names that undo it.
FRAMINGS: dict[str, tuple[Edit, tuple[str, ...]]] = {
    "black border": (border((0, 0, 0)), ("trimmed", "trimmed-even")),
    "white border": (border((255, 255, 255)), ("trimmed", "trimmed-even")),
    "letterbox": (letterbox, ("trimmed", "trimmed-even")),
    "caption": (caption, ("caption-top",)),
}


def composed_edits() -> dict[str, tuple[Edit, set[str]]]:
    """name -> (edit, variants expected to find the original)."""
    edits: dict[str, tuple[Edit, set[str]]] = {}
    for turn, rotate in TURNS.items():
        for framing, (frame, undo) in FRAMINGS.items():
            edits[f"{turn} then {framing}"] = (
                lambda im, rotate=rotate, frame=frame: frame(rotate(im)),
                {f"{box}+{turn}" for box in undo},
            )
    # Captioned first and turned by a quarter after: the band ends up at a side.
    for turn, side in (("rot90", "left"), ("rot270", "right")):
        edits[f"caption then {turn}"] = (
            lambda im, rotate=TURNS[turn]: rotate(caption(im)),
            {f"caption-{side}+{turn}"},
        )
    edits["inverted"] = (ImageOps.invert, {"inverted"})
    edits["inverted and mirrored"] = (
        lambda im: ImageOps.invert(ImageOps.mirror(im)),
        {"inverted+mirror"},
    )
    return edits


EDITS = composed_edits()


def upload_all(world: World, bucket: str, image: Image.Image) -> dict[str, ObjectRef]:
    return {
        name: world.upload(bucket, f"u/{index}.jpg", encode(edit(image), "JPEG", quality=90))
        for index, (name, (edit, _)) in enumerate(EDITS.items())
    }


def outcome(world: World, tenant: str, ref: ObjectRef) -> tuple[str, str, bool, str]:
    """(case status, action, still in the bucket, variant of the first match)."""
    case = world.case(tenant, ref) or {"status": "no case", "verdict": {}}
    verdict = case.get("verdict") or {}
    found = verdict.get("matches") or [{}]
    return (
        case["status"],
        verdict.get("action", ""),
        world.exists(ref.bucket, ref.key),
        found[0].get("variant", "no match"),
    )


@pytest.mark.parametrize("name", NAMES)
def test_composed_edits_and_inverted_copies_are_held_for_review(world: World, name: str):
    # GIVEN a tenant with the default policy (a variant-only match is REVIEW), and the PDQ
    # of a known-bad photograph in the shared table
    bad = photo(name)
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", shared_pdq(bad), ("terrorist-propaganda",))
    # WHEN each combination of a turn and a framing edit, and the inverted copies, is uploaded
    refs = upload_all(world, "alpha-uploads", bad)
    world.drain()
    # THEN each is held for review (out of the bucket meanwhile), through the variant that
    # undoes both edits
    outcomes = {edit: outcome(world, "alpha", ref) for edit, ref in refs.items()}
    wrong = {
        edit: seen
        for edit, seen in outcomes.items()
        if seen[:3] != ("pending_review", "REVIEW", False) or seen[3] not in EDITS[edit][1]
    }
    assert not wrong, "\n".join(f"{edit}: {seen}" for edit, seen in wrong.items())


def test_composed_edits_are_taken_down_when_the_policy_says_so(world: World):
    # GIVEN a tenant whose policy takes variant matches down
    bad = photo(NAMES[0])
    world.tenant("beta", "beta-uploads", variant_action=Action.TAKEDOWN)
    world.share("pdq", shared_pdq(bad), ("terrorist-propaganda",))
    # WHEN the same edited copies are uploaded
    refs = upload_all(world, "beta-uploads", bad)
    world.drain()
    # THEN each is quarantined and gone from the tenant's bucket
    outcomes = {edit: outcome(world, "beta", ref) for edit, ref in refs.items()}
    wrong = {
        edit: seen
        for edit, seen in outcomes.items()
        if seen[:3] != ("quarantined", "TAKEDOWN", False) or seen[3] not in EDITS[edit][1]
    }
    assert not wrong, "\n".join(f"{edit}: {seen}" for edit, seen in wrong.items())


def test_inverted_copy_let_through_before_its_hash_was_shared_is_found_by_the_retro_scan(
    world: World,
):
    # GIVEN an inverted copy of a photograph, let through while nothing was shared (its case
    # keeps its own signals only: the retro-scan compares those)
    bad = photo(NAMES[0])
    world.tenant("alpha", "alpha-uploads")
    ref = world.upload("alpha-uploads", "old/inverted.jpg", encode(ImageOps.invert(bad), "JPEG"))
    world.drain()
    assert outcome(world, "alpha", ref)[0] == "allowed"
    runner = stream_runner(world)
    # WHEN the photograph's PDQ is shared, and the retro-scan runs on the stream
    world.share("pdq", shared_pdq(bad), ("terrorist-propaganda",))
    runner.poll_once()
    # THEN the copy is judged again and held for review, through the inverted variant
    assert outcome(world, "alpha", ref) == ("pending_review", "REVIEW", False, "inverted")
