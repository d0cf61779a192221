"""`bench/robustness.py`'s table of unrelated images runs, on a tiny corpus (the bench itself
is not part of the test suite: it prints figures)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from cordon_cli import samples

BENCH = Path(__file__).resolve().parents[2] / "bench" / "robustness.py"


@pytest.fixture(scope="module")
def robustness():
    spec = importlib.util.spec_from_file_location("robustness", BENCH)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_unrelated_table_prints_every_kind_of_pair_and_no_false_match(robustness, capsys):
    # GIVEN two posters (one counted as a photograph), blank canvases of one pHash, a
    # vertical and a horizontal tricolour (which matched through a turn before the
    # information gate), and a text screenshot
    images = {
        "poster-a": ("poster", samples.poster(1001)),
        "photo-b": ("photo", samples.poster(1004)),
        "blank-white": ("graphic", samples.blank(1000)),
        "blank-grey": ("graphic", samples.blank(1002)),
        "flag-a": ("graphic", samples.flag(1024)),
        "flag-b": ("graphic", samples.flag(1028)),
        "text-a": ("text", samples.text_screenshot(1000)),
    }
    # WHEN the table is made with two ways of uploading each
    robustness.unrelated(images, ("file", "rotate 90"))
    out = capsys.readouterr().out
    # THEN it names every kind of pair, and no upload is judged REVIEW or more for an image
    # it does not show
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("variant > stored"))
    assert header.split()[3:] == [
        "ph-ph", "ph-po", "ph-gr", "ph-te", "po-po", "po-gr", "po-te", "gr-gr", "gr-te", "te-te"
    ]  # fmt: skip
    assert "own > own" in out and "pHash own > own" in out
    false_row = next(line for line in lines if line.startswith("false matches  "))
    assert false_row.split()[2:] == ["0"] * 10
    assert "0 of 84 pairs" in out
