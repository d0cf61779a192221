"""`cordon compare A B`: the answer, the exit code, the JSON, the argparse wiring."""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from cordon_cli import samples
from cordon_cli.compare import compare_bytes, register, render

BAD = samples.known_bad(1)[0]


def jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_resized_copy_matches_as_uploaded_and_is_takedown():
    result = compare_bytes(jpeg(BAD), jpeg(samples.resized(BAD)))
    assert result.matched
    assert result.verdict.action.value == "TAKEDOWN"
    assert result.matches[0].variant == "original"
    # The nearest PDQ is the variant that hashes the copy as a 1/2 reduction: it undoes the
    # downscale, so it is at least as near as the image as uploaded
    assert result.nearest is not None and result.nearest[0] == "enlarged-2"


def test_mirrored_copy_matches_through_mirror_and_is_review():
    result = compare_bytes(jpeg(BAD), jpeg(ImageOps.mirror(BAD)))
    assert result.matched
    assert result.matches[0].variant == "mirror"
    assert result.verdict.action.value == "REVIEW"
    assert any("mirror" in reason for reason in result.verdict.reasons)


@pytest.mark.parametrize(
    ("edit", "variant"),
    [
        (lambda im: ImageOps.expand(ImageOps.mirror(im), 40, fill=(0, 0, 0)), "trimmed+mirror"),
        (ImageOps.invert, "inverted"),
    ],
    ids=["mirrored-with-a-black-border", "inverted"],
)
def test_composed_edit_and_inverted_copy_match_and_say_through_what(
    edit: Callable[[Image.Image], Image.Image], variant: str
):
    # GIVEN a copy mirrored and then framed in black, or inverted (issue 15: NO MATCH,
    # nearest 116 bits)
    result = compare_bytes(jpeg(BAD), jpeg(edit(BAD)))
    # THEN it matches through the variant that undoes the edits, which is also the nearest
    assert result.matched and result.matches[0].variant == variant
    assert result.verdict.action.value == "REVIEW"
    assert result.nearest is not None and result.nearest[0] == variant
    assert result.nearest[1] <= 31
    assert variant in render(result)


def test_unrelated_image_does_not_match():
    result = compare_bytes(jpeg(BAD), jpeg(samples.clean(1)[0]))
    assert not result.matched
    assert result.verdict.action.value == "ALLOW"
    assert result.nearest is not None and result.nearest[1] > 31


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cordon")
    register(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.mark.parametrize(("upload", "code"), [("mirror", 0), ("clean", 1)])
def test_command_exit_code_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], upload: str, code: int
):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(jpeg(BAD))
    b.write_bytes(jpeg(ImageOps.mirror(BAD) if upload == "mirror" else samples.clean(1)[0]))
    args = parse(["compare", str(a), str(b), "--json"])
    assert args.func(args) == code
    report = json.loads(capsys.readouterr().out)
    assert report["match"] is (code == 0)
    if code == 0:
        assert report["matches"][0]["variant"] == "mirror"
        assert "mirrored" in report["matches"][0]["variant_meaning"]


def test_command_text_output_and_unreadable_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    a = tmp_path / "a.jpg"
    a.write_bytes(jpeg(BAD))
    args = parse(["compare", str(a), str(a)])
    assert args.func(args) == 0
    assert capsys.readouterr().out.startswith("MATCH")
    args = parse(["compare", str(a), str(tmp_path / "missing.jpg")])
    assert args.func(args) == 2


def test_stored_says_which_storable_variant_a_crop_reaches_without_changing_the_verdict():
    # GIVEN a copy cropped by 10 % of each side, which A's own hashes cannot match
    dx, dy = BAD.width // 20, BAD.height // 20
    cropped = BAD.crop((dx, dy, BAD.width - dx, BAD.height - dy))
    # WHEN compared with --stored
    result = compare_bytes(jpeg(BAD), jpeg(cropped), stored=True)
    # THEN the verdict is still that of A's own hashes, and the crop-10 variant is named
    assert not result.matched and result.verdict.action.value == "ALLOW"
    assert result.stored is not None
    assert result.stored[0][0] == "crop-10" and result.stored[0][2] <= 31
    report = result.to_dict()
    assert report["stored_variants_reached"][0]["stored_variant"] == "crop-10"


def test_stored_reaches_nothing_for_an_unrelated_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    a, b = tmp_path / "a.jpg", tmp_path / "b.jpg"
    a.write_bytes(jpeg(BAD))
    b.write_bytes(jpeg(samples.clean(1)[0]))
    args = parse(["compare", str(a), str(b), "--stored"])
    assert args.func(args) == 1
    assert "reaches none of A's storable variants" in capsys.readouterr().out
