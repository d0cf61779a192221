"""How much of a picture there is to match on: the gate in front of match variants.

PDQ's quality (the sum of the buffer's gradients) says whether a hash is worth matching, but
flat graphics pass it on their hard edges alone and still say little: a tile, a masked copy or
a turn of a striped flag, a window around one shape of a logo, hash alike across unrelated
flags and logos (down to 0 bits apart, measured with `bench/robustness.py`). Two things make
a buffer too poor for a variant's hash, each measured on what PDQ already computes:

- most of it is flat: more than `MAX_FLAT_SHARE` of its 64x64 cells step by at most
  `FLAT_STEP` grey levels to their right and lower neighbours. Its hash then says where a few
  shapes are, which many unrelated graphics share.
- few bits are decided by the picture: fewer than `MIN_DECIDED` of the 256 DCT coefficients
  lie more than `DECIDED_MARGIN` from their median. A picture that changes along one axis
  only (stripes, a straight gradient) has every coefficient zero but for float rounding, which
  then sets the bits alike for unrelated pictures.

Variants and stored variants that fail are not used (`chalicelib.variants`,
`chalicelib.anchored`); the image's own PDQ keeps PDQ's quality rule, so a known graphic still
matches its copies. Pure: numpy only.
"""

from __future__ import annotations

import numpy as np

# Neighbouring cells of PDQ's blurred 64x64 buffer within this many grey levels are "flat".
FLAT_STEP = 0.5
# Measured on the variants' and stored variants' buffers (bench/robustness.py's photographs
# and 30 pictures of each generated kind, as PNG and JPEG: 800 photograph, 1,400 poster, 800
# flag, 2,200 logo and 2,600 text-screenshot buffers of PDQ quality >= 50): photographs
# at most 0.35 flat, noisy posters 0.44, screenshots of text 0.40-0.96 (median 0.67), logos
# 0.70-0.96 (median 0.88), flags 0.86-0.98; every false match between unrelated graphics was
# between buffers over 0.88 (or with no coefficient decided).
MAX_FLAT_SHARE = 0.8
# A coefficient decided by the picture lies further than this from the median: float rounding
# moves coefficients by under 0.01, and a pattern of one grey level's amplitude makes about 32.
DECIDED_MARGIN = 1.0
# Photographs' variants have 213 or more such coefficients; a striped flag has none.
MIN_DECIDED = 128


def flat_shares(buffers: np.ndarray) -> np.ndarray:
    """The share of each 64x64 buffer's cells (k x 64 x 64) that differ by at most
    `FLAT_STEP` from both their right and their lower neighbour."""
    down = np.abs(np.diff(buffers, axis=1))[:, :, :-1] <= FLAT_STEP
    right = np.abs(np.diff(buffers, axis=2))[:, :-1, :] <= FLAT_STEP
    return (down & right).mean(axis=(1, 2))


def decided_counts(blocks: np.ndarray) -> np.ndarray:
    """How many coefficients of each 16x16 DCT block (k x 16 x 16) lie further than
    `DECIDED_MARGIN` from the block's lower median (the value PDQ's bits are cut at)."""
    flat = blocks.reshape(len(blocks), -1)
    median = np.partition(flat, flat.shape[1] // 2 - 1, axis=1)[:, flat.shape[1] // 2 - 1]
    return np.count_nonzero(np.abs(flat - median[:, None]) > DECIDED_MARGIN, axis=1)


def informative(buffers: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """Which buffers (k x 64 x 64), with their DCT blocks (k x 16 x 16), hold enough of a
    picture for a variant's hash: not mostly flat, and with most bits decided by the picture."""
    if not len(buffers):
        return np.zeros(0, dtype=bool)
    return (flat_shares(buffers) <= MAX_FLAT_SHARE) & (decided_counts(blocks) >= MIN_DECIDED)
