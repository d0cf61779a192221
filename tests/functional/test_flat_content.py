"""Flat pictures across tenants, against moto: unrelated flags, blank canvases, gradients and
logos that one tenant shares match nothing another uploads, while a shared logo still
catches its own re-encoded copy."""

from __future__ import annotations

from PIL import Image

from chalicelib import signals
from chalicelib.models import HashRecord
from cordon_cli import samples
from tests.conftest import World

MAX_PIXELS = 10**8


def share_as_confirmed(world: World, tenant: str, data: bytes) -> None:
    """What a reviewer's confirmation of `data` shares: its usable signals (exact hashes,
    PDQ, pHash) and its stored variants, each naming the image's PDQ."""
    own = [
        s
        for s in signals.examine_bytes(data, MAX_PIXELS).signals
        if s.variant == "original" and signals.usable(s)
    ]
    own_pdq = next((s.value for s in own if s.type == "pdq"), None)
    stored = [s for s in signals.shared_variant_signals(data, MAX_PIXELS) if s.value != own_pdq]
    world.cordon.hashes.put(
        [
            *(
                HashRecord(
                    s.type,
                    s.value,
                    ("terrorist-propaganda",),
                    source=tenant,
                    stored_variants=tuple(v.value for v in stored) if s.type == "pdq" else (),
                )
                for s in own
            ),
            *(
                HashRecord(
                    "pdq",
                    s.value,
                    ("terrorist-propaganda",),
                    source=tenant,
                    variant=s.variant,
                    variant_of=own_pdq,
                )
                for s in stored
            ),
        ]
    )


# (shared by alpha, uploaded by beta): different flags (one a quarter turn of a layout like
# the other's), blank grey and white, two gradients, two logos.
UNRELATED: list[tuple[Image.Image, Image.Image]] = [
    (samples.flag(1028), samples.flag(1024)),
    (samples.flag(1067), samples.flag(1002)),
    (samples.flag(1012), samples.flag(1021)),
    (samples.blank(1002), samples.blank(1000)),
    (samples.gradient(1000), samples.gradient(1001)),
    (samples.logo(1008), samples.logo(1023)),
]


def test_unrelated_flat_pictures_shared_by_one_tenant_match_nothing_another_uploads(
    world: World,
):
    # GIVEN alpha's confirmed flat pictures (as PNG, how graphics travel)
    world.tenant("alpha", "alpha-uploads")
    world.tenant("beta", "beta-uploads")
    for shared, _ in UNRELATED:
        share_as_confirmed(world, "alpha", samples.png(shared))
    # WHEN beta's users upload unrelated ones, as PNG and as JPEG
    refs = []
    for k, (_, upload) in enumerate(UNRELATED):
        refs.append(world.upload("beta-uploads", f"{k}.png", samples.png(upload)))
        refs.append(world.upload("beta-uploads", f"{k}.jpg", samples.jpeg(upload, 80)))
    world.drain()
    # THEN every one is allowed, matching nothing
    for ref in refs:
        case = world.case("beta", ref)
        assert case is not None, ref.key
        assert case["status"] == "allowed", (ref.key, case["verdict"]["reasons"])
        assert case["verdict"]["matches"] == []
        assert world.exists("beta-uploads", ref.key)


def test_a_shared_logo_still_catches_its_copies(world: World):
    # GIVEN alpha's confirmed propaganda logo
    world.tenant("alpha", "alpha-uploads")
    world.tenant("beta", "beta-uploads")
    logo = samples.logo(1009)
    share_as_confirmed(world, "alpha", samples.png(logo))
    # WHEN beta's users upload the same file, and the logo re-encoded as JPEG q80
    exact = world.upload("beta-uploads", "logo.png", samples.png(logo))
    copy = world.upload("beta-uploads", "logo.jpg", samples.jpeg(logo, 80))
    world.drain()
    # THEN both are taken down: the file by its exact hash, the copy by its own PDQ
    for ref, signal_type in ((exact, "sha256"), (copy, "pdq")):
        case = world.case("beta", ref)
        assert case is not None and case["status"] == "quarantined", ref.key
        assert any(
            m["signal_type"] == signal_type
            and m["variant"] == "original"
            and m["stored_variant"] == "original"
            for m in case["verdict"]["matches"]
        ), case["verdict"]["reasons"]
        assert not world.exists("beta-uploads", ref.key)
