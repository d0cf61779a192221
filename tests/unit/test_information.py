"""The information gate (chalicelib.information) on the buffers PDQ hashes."""

from __future__ import annotations

import numpy as np
from PIL import Image

from chalicelib import information, pdq, variants
from cordon_cli import samples


def measured(image: Image.Image) -> tuple[float, int]:
    """(flat share, decided coefficients) of the buffer the match variants hash the whole
    image from, checking `informative` agrees with the two thresholds."""
    work = variants.Work.of(image)
    buffer = work.buffers([work.whole])
    blocks = pdq.dct_blocks(buffer)
    flat, decided = information.flat_shares(buffer)[0], information.decided_counts(blocks)[0]
    expected = flat <= information.MAX_FLAT_SHARE and decided >= information.MIN_DECIDED
    assert information.informative(buffer, blocks)[0] == expected
    return float(flat), int(decided)


def test_a_picture_that_changes_along_one_axis_decides_no_bit():
    # Stripes across the whole picture: every coefficient PDQ keeps is zero but for rounding.
    _, decided = measured(samples.flag(1024))
    assert decided == 0


def test_a_logo_is_mostly_flat_and_a_poster_is_not():
    flat, _ = measured(samples.logo(1023))
    assert flat > information.MAX_FLAT_SHARE
    flat, decided = measured(samples.poster(1001))
    assert flat <= information.MAX_FLAT_SHARE and decided >= information.MIN_DECIDED


def test_no_buffers_none_informative():
    empty = np.zeros((0, 64, 64), dtype=np.float32)
    assert information.informative(empty, np.zeros((0, 16, 16))).shape == (0,)
