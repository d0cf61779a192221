"""Pure-numpy PDQ perceptual image hash, compatible with Meta's reference.

The reference implementation (the ``pdqhash`` package, a wrapper around
Meta's C++ in facebook/ThreatExchange ``pdq/cpp``) ships only as source and
needs a compiler, which the Lambda packaging does not have. This module
reproduces the same algorithm with numpy only; decoding the image (Pillow)
is the caller's job.

Pipeline, as in the reference:

1. Luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` as float.
2. "Jarosz" tent filter: two rounds of a 1-D box filter along rows, then
   along columns. The window along an axis of length ``n`` is
   ``(n + 127) // 128`` (half of ``n / 64``, rounded up, because two passes
   compose into a tent spanning about one output cell).
3. Decimation to 64x64 by sampling the blurred image at the cell centres.
4. Quality from the sum of quantised neighbour gradients of the 64x64 image.
5. The 16x16 lowest non-DC coefficients of the 2-D DCT-II of the 64x64 image.
6. Bit set where the coefficient is strictly greater than the median.

Steps 2-3 are done without blurring the full image: the filters are linear
and separable, and only 64 rows and 64 columns of the blurred image are ever
sampled, so we build the two 64xN "blur then sample" operators directly and
apply them with two matrix products. That is mathematically the same as the
reference (only float rounding differs) and costs one pass over the image.

Rounding decides the bits of coefficients that are zero in exact arithmetic,
which flat graphics have by the dozen: when too many coefficients sit near the
median, `pdq_from_rgb` hashes with `reference_hash`, which repeats the
reference's float32 arithmetic step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

PDQ_BITS = 256
# Meta's guidance: hashes below this quality are unreliable for matching.
MIN_QUALITY = 50
# Meta's recommended match threshold for PDQ (distance <= 31 of 256 bits).
DEFAULT_MATCH_DISTANCE = 31

_OUT = 64  # side of the downsampled image
_DCT_N = 16  # side of the kept DCT block
# The reference refuses to hash anything smaller than this on either side.
_MIN_DIM = 5

_LUMA_COEFFS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_EMPTY_HEX = "0" * (PDQ_BITS // 4)
# An operator as taps (see `taps`): input indices and weights, each 64 x K.
Taps = tuple[np.ndarray, np.ndarray]
# Size of the float block converted at a time by _reduce_rows.
_BLOCK_BYTES = 6 * 1024 * 1024
# Largest gather (values) _downsample makes at once; beyond it, _reduce_rows.
_TAPS_MAX_VALUES = 4 * 1024 * 1024


def _window_size(n: int) -> int:
    # Same integer formula as the reference: ceil(n / (2 * 64)).
    return (n + 2 * _OUT - 1) // (2 * _OUT)


def _box_extents(w: int) -> tuple[int, int]:
    """How far a box window of width ``w`` reaches (left, right) of its centre.

    The reference centres its running window so that for even ``w`` the extra
    tap is on the right: 7 -> (3, 3), 8 -> (3, 4), 2 -> (0, 1), 1 -> (0, 0).
    Near the edges the window is clipped and averaged over the taps that
    remain (no padding), which the operators below reproduce.
    """
    right = (w + 2) // 2 - 1
    return w - 1 - right, right


def _tents(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 64 tents of `_sample_operator(n)` in band form.

    Returns each tent's first and last input index (support_lo, support_hi) and its weights
    from support_lo on, a 64 x band float32 array (zero past support_hi). Built tent by tent,
    in a dozen numpy calls, where a dense 64 x n pass would cost a millisecond or more per new
    size, which the match variants' regions of every size would pay.
    """
    w = _window_size(n)
    left, right = _box_extents(w)
    # Box i averages inputs [i - left, i + right], clipped: 1 / count_i each. Prefix sums of
    # 1 / count_i turn any sum of them over a range of boxes into one subtraction.
    idx = np.arange(n)
    inv_count = 1.0 / (np.minimum(idx + right, n - 1) - np.maximum(idx - left, 0) + 1)
    prefix = np.concatenate([[0.0], np.cumsum(inv_count)])

    # Sample at cell centres: floor((k + 0.5) * n / 64), as the reference.
    samples = ((np.arange(_OUT) + 0.5) * n / _OUT).astype(np.int64)
    first_lo = np.maximum(samples - left, 0)
    first_hi = np.minimum(samples + right, n - 1)
    # Support of each tent, straight from the window arithmetic rather than
    # from testing for zeros.
    support_lo = np.maximum(first_lo - left, 0)
    support_hi = np.minimum(first_hi + right, n - 1)

    # Row k of E @ B is box s_k: 1 / count_s on boxes i in [first_lo, first_hi]. Input j then
    # gets 1 / count_s times the sum of 1 / count_i over those boxes i that reach j, i.e.
    # i in [j - right, j + left]: one prefix-sum difference per weight of the tent's band.
    band = int((support_hi - support_lo).max()) + 1
    j = support_lo[:, None] + np.arange(band)
    first = np.maximum(first_lo[:, None], j - right)
    last = np.minimum(first_hi[:, None], j + left)
    inside = (last >= first) & (j <= support_hi[:, None])
    sums = prefix[np.minimum(last, n - 1) + 1] - prefix[np.clip(first, 0, n - 1)]
    values = np.where(inside, sums * inv_count[samples][:, None], 0.0).astype(np.float32)
    return support_lo, support_hi, values


def _scatter(values: np.ndarray, start: np.ndarray, width: int) -> np.ndarray:
    """A dense 64 x width array with row k's `values` placed from column start[k] on."""
    rows, band = values.shape
    padded = np.zeros((rows, width + band), dtype=np.float32)
    padded[np.arange(rows)[:, None], start[:, None] + np.arange(band)] = values
    return padded[:, :width]


@lru_cache(maxsize=64)
def _sample_operator(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 64 x n matrix mapping a length-n signal to its 64 decimated samples.

    Equal to ``E @ B @ B`` where ``B`` is the reference's clipped box filter
    and ``E`` picks the sample positions, built tent by tent (`_tents`) without
    forming the n x n matrices. Also returns, per output row, the first and last
    input index with a non-zero weight (each row is one contiguous tent), so
    callers can skip the zeros. Cached because real traffic repeats a few sizes.
    """
    support_lo, support_hi, values = _tents(n)
    op = np.ascontiguousarray(_scatter(values, support_lo, n))
    for arr in (op, support_lo, support_hi):
        arr.setflags(write=False)  # shared through the cache
    return op, support_lo, support_hi


@lru_cache(maxsize=256)
def _reduced_operator(full: int, reduced: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Operator for an axis decoded at 1/s scale (e.g. a JPEG draft decode).

    A scaled JPEG decode (Pillow ``Image.draft``) gives pixel p roughly the
    mean of full-resolution pixels [s*p, s*p + s), with ``reduced =
    ceil(full / s)``. Summing the full-size tent weights over each such block
    makes the small image blur and sample like the full one would under the
    reference, instead of like a different, smaller image (whose tents and
    sample centres differ): this keeps 1/8-scale decodes within a couple of
    bits of the reference where hashing them naively costs up to ~12.
    Built from the tents' bands, never at full width; the match variants ask
    for a new size with almost every region, hence the larger cache.
    """
    scale = -(-full // reduced)
    if -(-full // scale) != reduced:
        raise ValueError(f"{reduced} is not an integer-factor reduction of {full}")
    support_lo, support_hi, values = _tents(full)
    block_lo, block_hi = support_lo // scale, support_hi // scale
    sums, _ = _block_sums(values, support_lo, scale)
    block_op = np.ascontiguousarray(_scatter(sums, block_lo, reduced))
    for arr in (block_op, block_lo, block_hi):
        arr.setflags(write=False)  # shared through the cache
    return block_op, block_lo, block_hi


def _block_sums(values: np.ndarray, support_lo: np.ndarray, scale: int) -> tuple[np.ndarray, int]:
    """Each tent's weights summed over blocks of `scale` inputs (a 1/scale reduction), from
    the tent's first block on: (64 x blocks sums, blocks)."""
    first_block = support_lo // scale
    last_block = (support_lo + values.shape[1] - 1) // scale
    blocks = int((last_block - first_block).max()) + 1
    aligned = _scatter(values, support_lo - first_block * scale, blocks * scale)
    return aligned.reshape(_OUT, blocks, scale).sum(axis=2), blocks


@lru_cache(maxsize=256)
def taps(full: int, actual: int) -> Taps:
    """`_operator(full, actual)` as taps: 64 x K input indices and their weights.

    Row k of the operator is one tent a few inputs wide, so ``op @ x`` equals
    ``(weights[:, :, None] * x[index]).sum(1)``: a gather of 64 K rows instead
    of a product with a 64 x n matrix that is nearly all zeros (2 to 3 times
    faster on the small regions the match variants hash). Built from the tents'
    bands, never as a dense matrix: the variants ask for a new size with almost
    every region. Unused taps have weight 0 and repeat the last index.
    """
    support_lo, support_hi, values = _tents(full)
    scale = 1
    if full != actual:
        scale = -(-full // actual)
        if -(-full // scale) != actual:
            raise ValueError(f"{actual} is not an integer-factor reduction of {full}")
        values, _ = _block_sums(values, support_lo, scale)
    first, last = support_lo // scale, support_hi // scale
    index = first[:, None] + np.arange(values.shape[1])
    weights = np.where(index <= last[:, None], values, 0).astype(np.float32)
    index = np.minimum(index, actual - 1)
    for arr in (index, weights):
        arr.setflags(write=False)  # shared through the cache
    return index, weights


@lru_cache(maxsize=1)
def _dct_matrix() -> np.ndarray:
    # Rows 1..16 of the orthonormal-scaled DCT-II basis for length 64; row 0
    # (the DC term) is skipped because it carries only mean brightness.
    i = np.arange(1, _DCT_N + 1)[:, None]
    j = np.arange(_OUT)[None, :]
    return np.sqrt(2.0 / _OUT) * np.cos(np.pi / (2 * _OUT) * i * (2 * j + 1))


def _reduce_rows(
    image: np.ndarray, op: np.ndarray, support_lo: np.ndarray, support_hi: np.ndarray
) -> np.ndarray:
    """``op @ image`` for a 2-D uint8 (or float) image, in row blocks.

    Converting the whole image to float at once would cost 4x its size in
    memory (about 144 MB for a 12 MP RGB photo, a lot for a Lambda); doing it
    a block of rows at a time keeps the temporaries cache-sized. Each block
    only touches the few output rows whose tent overlaps it, so the work is
    about one multiply-add per input value instead of 64.
    """
    rows, width = image.shape
    out = np.zeros((_OUT, width), dtype=np.float32)
    block = max(32, _BLOCK_BYTES // (4 * width))
    for r0 in range(0, rows, block):
        r1 = min(r0 + block, rows)
        s0 = int(np.searchsorted(support_hi, r0, side="left"))
        s1 = int(np.searchsorted(support_lo, r1, side="left"))
        chunk = image[r0:r1].astype(np.float32, copy=False)
        out[s0:s1] += op[s0:s1, r0:r1] @ chunk
    return out


def _operator(full: int, actual: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if full == actual:
        return _sample_operator(actual)
    return _reduced_operator(full, actual)


def _downsample(image: np.ndarray, full_shape: tuple[int, int]) -> np.ndarray:
    """Blur and decimate to 64x64; ``image`` is HxW luma or HxWx3 RGB."""
    rows, cols = image.shape[:2]
    # Shrink the height first, then the width. For RGB the colour channels
    # ride along as extra columns and are mixed into luma only once the image
    # is 64 rows tall; all three steps are linear, so the order is free.
    flat = image.reshape(rows, -1)
    row_index, row_weights = taps(full_shape[0], rows)
    if row_index.size * flat.shape[1] <= _TAPS_MAX_VALUES:
        # Small images (reduced JPEG decodes, most uploads): gather each output
        # row's few input rows, about 3 times faster than the block products.
        gathered = flat[row_index].astype(np.float32, copy=False)
        reduced = np.einsum("rk,rkc->rc", row_weights, gathered)
    else:
        # Large ones: block by block, so the float copy stays cache-sized.
        reduced = _reduce_rows(flat, *_operator(full_shape[0], rows))
    if image.ndim == 3:
        reduced = reduced.reshape(_OUT, cols, 3) @ _LUMA_COEFFS
    col_index, col_weights = taps(full_shape[1], cols)
    return np.einsum("ck,rck->rc", col_weights, reduced[:, col_index])


def _quality(buf: np.ndarray) -> int:
    """Reference quality metric on the 64x64 buffer (float32, truncating)."""
    return int(qualities(buf[None])[0])


def qualities(bufs: np.ndarray) -> np.ndarray:
    """`_quality` of a stack of 64x64 buffers (k x 64 x 64) at once: one pass of numpy calls
    for every variant of an upload instead of one per variant."""
    bufs = bufs.astype(np.float32, copy=False)
    hundred = np.float32(100)
    scale = np.float32(255)
    # The reference converts each scaled float difference to int, which
    # truncates toward zero, before taking the absolute value.
    dv = np.trunc((bufs[:, :-1, :] - bufs[:, 1:, :]) * hundred / scale)
    dh = np.trunc((bufs[:, :, :-1] - bufs[:, :, 1:]) * hundred / scale)
    gradient_sum = np.abs(dv).sum(axis=(1, 2), dtype=np.int64) + np.abs(dh).sum(
        axis=(1, 2), dtype=np.int64
    )
    return np.minimum(gradient_sum // 90, 100)


def dct_blocks(bufs: np.ndarray) -> np.ndarray:
    """The 16x16 PDQ DCT blocks (k x 16 x 16, float64) of a stack of 64x64 buffers."""
    dct = _dct_matrix()
    return dct @ bufs.astype(np.float64) @ dct.T


def hashes_of_blocks(blocks: np.ndarray) -> list[str]:
    """PDQ hex hashes of a stack of 16x16 DCT blocks: a bit is set where its coefficient is
    strictly above the block's lower median (the 128th smallest of 256), as in the reference,
    so ties with it stay 0.

    Formatted the way the reference and python-threatexchange do. Bit k is coefficient
    (k // 16, k % 16) of the block. The reference stores bit k in 16-bit word k // 16 at
    position k % 16 and prints the words from 15 down to 0 as ``%04hx``; python-threatexchange
    (threatexchange/signal_type/pdq/pdq_hasher.py) takes pdqhash's vector, which is already
    reversed (element 0 is bit 255), and reads it as one big-endian binary number. Both give
    the same string: the 256-bit integer sum(bit_k << k) as 64 lowercase hex digits, so the
    first digit holds bits 255..252 (DCT row 15, columns 15..12) and the last digit holds
    bits 3..0 (row 0, columns 3..0).
    """
    flat = blocks.reshape(len(blocks), PDQ_BITS)
    median = np.partition(flat, PDQ_BITS // 2 - 1, axis=1)[:, PDQ_BITS // 2 - 1]
    # Reversed so that bit k lands at position k of the 256-bit integer.
    packed = np.packbits((flat > median[:, None])[:, ::-1], axis=1)
    return [row.tobytes().hex() for row in packed]


def _as_image(rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(rgb)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"expected HxW or HxWx3 image, got shape {image.shape}")
    return image


def pdq_from_rgb(
    rgb: np.ndarray,
    *,
    full_shape: tuple[int, int] | None = None,
    exact_pixels: Callable[[], np.ndarray] | None = None,
) -> tuple[str, int]:
    """PDQ hash (64 lowercase hex chars) and quality (0..100) of an image.

    ``rgb`` is an HxWx3 RGB array (uint8 as decoded by Pillow) or an HxW
    greyscale array (luma, e.g. Pillow mode "L"). Images under 5 pixels on a
    side get the all-zero hash with quality 0, as in the reference.

    ``full_shape`` (rows, cols) says that ``rgb`` is a reduced-scale decode
    of a larger image, each side ``ceil(full / s)`` for an integer s, as
    Pillow's ``Image.draft()`` produces for JPEG. The hash then emulates the
    reference run on the full-size image, so big JPEGs need not be decoded
    at full size. Other resizes are rejected with ValueError.

    ``exact_pixels`` says that ``rgb`` only approximates the picture (a reduced or luma-only
    JPEG decode) and returns the full-size pixels the reference would be fed. It is called
    only for flat graphics (`_flat`), whose hard edges such a decode renders least well, and
    when the approximation cannot decide the hash (`_undecided`); photographs never pay it.
    """
    image = _as_image(rgb)
    if full_shape is None:
        full_shape = (image.shape[0], image.shape[1])
    full_shape = (int(full_shape[0]), int(full_shape[1]))
    if full_shape[0] < _MIN_DIM or full_shape[1] < _MIN_DIM:
        return _EMPTY_HEX, 0
    if not (0 < image.shape[0] <= full_shape[0] and 0 < image.shape[1] <= full_shape[1]):
        raise ValueError(f"image {image.shape[:2]} cannot be a reduction of {full_shape}")

    buf = _downsample(image, full_shape)
    block = dct_blocks(buf[None])[0]
    if exact_pixels is not None:
        if _undecided(block, _DECODE_MARGIN) > _MAX_UNDECIDED or _flat(image):
            pixels = _as_image(exact_pixels())
            if pixels.shape[:2] != full_shape:
                raise ValueError(f"exact pixels {pixels.shape[:2]} are not {full_shape}")
            return pdq_from_rgb(pixels)
    elif full_shape == image.shape[:2] and _undecided(block, _FLOAT_MARGIN) > _MAX_UNDECIDED:
        return reference_hash(image)
    return hashes_of_blocks(block[None])[0], _quality(buf)


# ------------------------------------------------------------ the reference, step by step
#
# On photographs the fast path above agrees with the reference to a bit or two. Flat graphics
# (stripes, symmetric logos, gradients) are another matter: many of their 256 coefficients are
# zero in exact arithmetic, so the median is zero too and those coefficients' bits are decided by
# the float32 rounding of the reference's own arithmetic (up to 254 bits on a striped flag). Only
# the same roundings give the same bits: the functions below redo every float32 operation the
# reference (facebook/ThreatExchange pdq/cpp, as wrapped by pdqhash) does, in its order.

# A fast-path coefficient this close to the median may fall on either side of it in the
# reference. Exact pixels: the fast path differs from the reference by float rounding only (at
# most 0.008 measured on 710 PNG graphics and photographs, up to 8000x6000 on a few), so a bit
# can differ only within twice that. Approximate ones (JPEG's reduced luma decode) differ by up
# to a few units, but on photographs few coefficients sit this close to the median (none of 230
# JPEG photographs had more than 6), and graphics that pass have their bits decided away from it.
_FLOAT_MARGIN = 0.03
_DECODE_MARGIN = 0.2
# More undecided coefficients than this and the hash is computed the reference's way.
_MAX_UNDECIDED = 6
# An approximate decode in which more than this share of pixels equal their right and lower
# neighbours is a flat graphic: JPEG's reduced decode errs most on the hard edges between flat
# areas (text and line art up to 10 bits from the reference, with few coefficients near the
# median), so such a picture is decoded whole. Photographs measured at most 0.46 (a rocket
# against the sky, 23 photographs at three sizes), generated graphics 0.9 in the median.
_FLAT_SHARE = 0.6
_REFERENCE_LUMA = (0.299, 0.587, 0.114)
# Rows of luma converted at a time (float64 temporaries, as pdqhash's numpy does).
_LUMA_BLOCK_ROWS = 128


def _undecided(block: np.ndarray, margin: float) -> int:
    """How many coefficients of a 16x16 block lie within `margin` of its (lower) median."""
    flat = block.reshape(PDQ_BITS)
    median = np.partition(flat, PDQ_BITS // 2 - 1)[PDQ_BITS // 2 - 1]
    return int(np.count_nonzero(np.abs(flat - median) <= margin))


def _flat(image: np.ndarray) -> bool:
    """Whether more than `_FLAT_SHARE` of the pixels equal their right and lower neighbours
    (in the green channel of RGB, which carries most of the luma)."""
    plane = image if image.ndim == 2 else image[:, :, 1]
    corner = plane[:-1, :-1]
    same = (corner == plane[1:, :-1]) & (corner == plane[:-1, 1:])
    return same.size > 0 and float(same.mean()) > _FLAT_SHARE


def _reference_luma(image: np.ndarray) -> np.ndarray:
    """Luma as pdqhash makes it (float32): the channels times 0.299, 0.587, 0.114 summed in
    float64, then rounded to float32. Greyscale is taken as the three equal channels it
    stands for, whose luma is the value itself."""
    if image.ndim == 2:
        return image.astype(np.float32)
    rows, cols = image.shape[:2]
    out = np.empty((rows, cols), dtype=np.float32)
    r_coeff, g_coeff, b_coeff = _REFERENCE_LUMA
    for r0 in range(0, rows, _LUMA_BLOCK_ROWS):
        block = image[r0 : r0 + _LUMA_BLOCK_ROWS]
        luma = block[:, :, 0] * r_coeff
        luma += block[:, :, 1] * g_coeff
        luma += block[:, :, 2] * b_coeff
        out[r0 : r0 + len(block)] = luma
    return out


def _running_box(x: np.ndarray, window: int, keep: np.ndarray | None = None) -> np.ndarray:
    """The reference's box filter along axis 0 of `x` (float32, n x m), as it runs.

    One float32 running sum per column: the first inputs added, then each step adds the
    input entering the window and subtracts the one leaving it, and each output is the sum
    divided by the number of inputs in the clipped window. Each step is one numpy operation
    on a whole row of sums, so the roundings are the reference's. Only the outputs at
    positions `keep` are formed when given (their order is kept).
    """
    n = x.shape[0]
    half = (window + 2) // 2
    # Samples repeat on axes shorter than 64: each distinct position is formed once.
    wanted, repeats = np.unique(np.arange(n) if keep is None else keep, return_inverse=True)
    slot = np.full(n, -1)
    slot[wanted] = np.arange(len(wanted))
    out = np.empty((len(wanted), *x.shape[1:]), dtype=np.float32)
    total = np.zeros(x.shape[1:], dtype=np.float32)
    counts = np.arange(window + 1, dtype=np.float32)

    def emit(position: int, count: int) -> None:
        if slot[position] >= 0:
            np.divide(total, counts[count], out=out[slot[position]])

    for r in range(half - 1):
        total += x[r]
    for r in range(half - 1, window):
        total += x[r]
        emit(r - half + 1, r + 1)
    for r in range(window, n):
        total += x[r]
        total -= x[r - window]
        emit(r - half + 1, window)
    for k in range(half - 1):
        total -= x[n - window + k]
        emit(n - half + 1 + k, window - 1 - k)
    return out if keep is None else out[repeats]


@lru_cache(maxsize=1)
def _reference_dct_matrix() -> np.ndarray:
    # The reference's 16 x 64 float32 matrix: the scale factor rounded to float32 first,
    # times the cosine in double, rounded once more.
    scale = float(np.float32(np.sqrt(2.0 / _OUT)))
    i = np.arange(1, _DCT_N + 1)[:, None]
    j = np.arange(_OUT)[None, :]
    matrix = (scale * np.cos(np.pi / 2.0 / _OUT * i * (2 * j + 1))).astype(np.float32)
    matrix.setflags(write=False)
    return matrix


def _reference_dct(buf: np.ndarray) -> np.ndarray:
    """``D @ buf @ D.T`` in float32, each sum accumulated term by term in the reference's
    order (k = 0..63), each product rounded before it is added."""
    dct = _reference_dct_matrix()
    rows = np.zeros((_DCT_N, _OUT), dtype=np.float32)
    for k in range(_OUT):
        rows += dct[:, k : k + 1] * buf[k]
    block = np.zeros((_DCT_N, _DCT_N), dtype=np.float32)
    for k in range(_OUT):
        block += rows[:, k : k + 1] * dct[:, k]
    return block


def reference_buffer(rgb: np.ndarray) -> np.ndarray:
    """The reference's 64x64 float32 buffer of a full-size image, bit for bit: two rounds
    of box filters along rows then columns, sampled at the cell centres."""
    image = _as_image(rgb)
    rows, cols = image.shape[:2]
    luma = _reference_luma(image)
    if (rows, cols) == (_OUT, _OUT):
        # The reference hashes a 64x64 image as it is, unfiltered.
        return luma
    along_rows, along_cols = _window_size(cols), _window_size(rows)
    row_samples = ((np.arange(_OUT) + 0.5) * rows / _OUT).astype(np.int64)
    col_samples = ((np.arange(_OUT) + 0.5) * cols / _OUT).astype(np.int64)
    # Axis 0 is the filtered one throughout, so each step works on contiguous rows.
    once = _running_box(np.ascontiguousarray(luma.T), along_rows)  # cols x rows
    del luma  # full-size float32 arrays are let go as soon as they are used
    once = _running_box(np.ascontiguousarray(once.T), along_cols)  # rows x cols
    # The second round is needed at the sampled columns, then the sampled rows, only.
    twice = _running_box(np.ascontiguousarray(once.T), along_rows, col_samples)
    return _running_box(np.ascontiguousarray(twice.T), along_cols, row_samples)


def reference_hash(rgb: np.ndarray) -> tuple[str, int]:
    """`pdq_from_rgb` computed the reference's way throughout: equal to pdqhash bit for bit
    (hash and quality), at 10 to 30 times the fast path's cost."""
    image = _as_image(rgb)
    if image.shape[0] < _MIN_DIM or image.shape[1] < _MIN_DIM:
        return _EMPTY_HEX, 0
    buf = reference_buffer(image)
    return hashes_of_blocks(_reference_dct(buf)[None])[0], _quality(buf)


def hamming_hex(a: str, b: str) -> int:
    """Number of differing bits between two equal-length hex hashes."""
    if len(a) != len(b):
        raise ValueError("hashes must have the same length")
    return (int(a, 16) ^ int(b, 16)).bit_count()
