"""Evasions by format, through the real handler against moto: a truncated JPEG and an AVIF
of a known-bad photograph are taken down as the tenant's policy says, and an image Cordon
cannot decode is held for review instead of passing unseen."""

from __future__ import annotations

import pytest

from chalicelib.models import Action
from tests.conftest import World
from tests.unit.test_browser_formats import NAMES, encode, photo, shared_pdq

pytestmark = pytest.mark.skipif(not NAMES, reason="PyWavelets' photographs not installed")


def test_truncated_jpeg_and_avif_of_a_known_bad_photo_are_quarantined(world: World):
    # GIVEN a tenant, and the PDQ of a known-bad photograph in the shared table
    bad = photo(NAMES[0])
    world.tenant("alpha", "alpha-uploads")
    world.share("pdq", shared_pdq(bad), ("terrorist-propaganda",))
    jpeg = encode(bad, "JPEG", quality=90)
    # WHEN it is uploaded without its JPEG end marker, and as an AVIF
    refs = {
        "truncated": world.upload("alpha-uploads", "a/cut.jpg", jpeg[:-2]),
        "avif": world.upload("alpha-uploads", "a/photo.avif", encode(bad, "AVIF", quality=90)),
    }
    world.drain()
    # THEN both are taken down on the shared PDQ
    for name, ref in refs.items():
        case = world.case("alpha", ref)
        assert case is not None, name
        assert case["status"] == "quarantined", name
        assert case["verdict"]["action"] == "TAKEDOWN", name
        assert case["verdict"]["matches"][0]["signal_type"] == "pdq", name
        assert not world.exists("alpha-uploads", ref.key)


def test_heic_under_a_review_policy_is_held_for_review(world: World):
    bad = photo(NAMES[0])
    world.tenant("beta", "beta-uploads", pdq_action=Action.REVIEW)
    world.share("pdq", shared_pdq(bad))

    ref = world.upload("beta-uploads", "b/photo.heic", encode(bad, "HEIF", quality=90))
    world.drain()

    case = world.case("beta", ref)
    assert case is not None and case["status"] == "pending_review"


def test_undecodable_image_is_held_for_review_by_default(world: World):
    # GIVEN a PNG header with nothing drawable after it: a browser shows a broken image, and
    # Cordon cannot say what it is
    world.tenant("gamma", "gamma-uploads")

    ref = world.upload("gamma-uploads", "c/broken.png", encode(photo(NAMES[0]), "PNG")[:200])
    world.drain()

    case = world.case("gamma", ref)
    assert case is not None and case["status"] == "pending_review"
    assert case["verdict"]["action"] == "REVIEW"
    assert "nothing could be drawn" in case["verdict"]["reasons"][0]
