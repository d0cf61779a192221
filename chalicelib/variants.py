"""Match variants: the extra PDQ hashes that let an edited copy find its original.

Uploaders mirror or rotate a known image, add a border or a caption bar, crop a few percent or
paste it into a collage, precisely because plain PDQ misses all of these. This module undoes
what it can at query time: from one decoded upload it derives the hashes of

- its dihedral transforms (``mirror``, ``rot90``, ``rot180``, ``rot270``), hashed from the
  reduced copy turned back (a sign flip in the DCT block would be free, but PDQ samples its
  64x64 grid off-centre, so it lands 10 to 30 bits off where turning lands within a few);
- the picture with near-uniform borders of any colour trimmed (``trimmed``), and trimmed evenly
  on opposite sides (``trimmed-even``) where one side's trim ran on into a flat picture edge;
- the picture without a caption or logo band at the top or bottom (``caption-top``,
  ``caption-bottom``), or at a side (``caption-left``, ``caption-right``: a captioned copy
  turned by a quarter);
- the picture inside a frame or beside a caption turned back by each dihedral transform too
  (``trimmed+mirror``, ``caption-top+rot90`` ..: `FRAMES`), so one geometric and one framing
  edit together match as either alone does. Each box's five buffers come out of one product
  with the reversed operators, as the whole picture's do; flipping signs in the DCT block
  instead is exact only where PDQ's sampling of the box happens to be symmetric, and lands up
  to 28 bits off elsewhere (measured on PyWavelets' photographs framed at four sizes);
- the picture with a fixed share of its height painted over at the top or the bottom
  (``masked-top``, ``masked-bottom``), for captions pasted over the picture: they meet the
  shared side's stored masked copies;
- small pictures hashed as a 1/2 or 1/4 reduction of a larger one (``enlarged-2``,
  ``enlarged-4``), for downscaled copies;
- the four tiles of a 2x2 grid (``tile-0-0`` .. ``tile-1-1``) and the cells that uniform gutters
  divide it into (``region-0`` ..), each of these trimmed of its own borders;
- windows around the picture's most distinctive spots (``anchor-0`` ..), which a crop leaves
  in place (`chalicelib.anchored`).

An inverted copy (colours negated) needs no variant here: its PDQ is the complement of its
original's, so `chalicelib.matching` looks up the complement of every signal (``inverted``,
``inverted+mirror`` ..) in the same index query.

Crops cannot be undone from the upload (the removed pixels are gone), so crop tolerance is a
shared-side expansion: `shared_variants` gives the extra hashes to store for a shared image
(centre crops; the masked copies the upload's masked variants meet; and the anchored windows
the upload's meet, at the scale of each crop). PDQ of the whole frame tolerates well under
1 % of shift per side: crops split unevenly between sides are met through the anchored
windows only.

Everything runs on one greyscale copy reduced to about 200 pixels on the short side (Pillow's
box reduction); each region's hash emulates PDQ run on the full-size region (see
`chalicelib.pdq.pdq_from_rgb`'s ``full_shape``), and all buffers are hashed in one batch, so
the variants cost a few milliseconds whatever the upload's size. Pure: numpy and Pillow, no I/O.

Examples
--------
>>> from PIL import ImageOps
>>> from cordon_cli.samples import poster
>>> image = poster(1001)
>>> [s.variant for s in variant_signals(ImageOps.mirror(image))][:4]
['mirror', 'rot90', 'rot180', 'rot270']
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from PIL import Image

from chalicelib import anchored, information, pdq
from chalicelib.models import Signal

ORIGINAL = "original"
# An inverted copy's PDQ is the complement of its original's (inverting negates every DCT
# coefficient): `chalicelib.matching` looks up each signal's complement under this name.
INVERTED = "inverted"
PDQ_TYPE = "pdq"

# The reduced copy's short side is at least this many pixels: enough to place a border or a
# caption edge to within about half a percent, small enough to scan in well under a millisecond.
_WORK_SIDE = 192
# Grey levels within which two pixels count as "the same colour" (JPEG ringing stays inside).
_TOLERANCE = 12.0
# A border line: this share of its pixels within tolerance of its colour.
_UNIFORM_SHARE = 0.97
_PEEK_LINES = 4
# A caption band's rows: at least this share in the band's background colour (text is sparse),
# and its edge row nearly all background.
_CAPTION_ROW_SHARE = 0.3
_CAPTION_END_ROWS = 3  # the band ends where this many rows in a row are mostly not background
_CAPTION_EDGE_SHARE = 0.85
_CAPTION_MIN, _CAPTION_MAX = 0.02, 0.35
# Never trim more than this share of a side, and never keep a region smaller than this share
# of the picture's side (a few pixels hash to noise).
_TRIM_MAX = 0.45
_REGION_MIN = 0.2
# Gutters between collage cells: at most this many per axis are used.
_MAX_GUTTERS = 3
_GUTTER_MAX = 0.06  # widest gutter, as a share of the side
# Shared-side crops: total share of each side cut, split evenly. PDQ tolerates about 1.5 %
# of centre crop either way, so a 2.5 % grid covers centre crops up to about 11 %.
SHARED_CROPS = (0.025, 0.05, 0.075, 0.10)
# Share of the height masked at the top or the bottom, on both sides (see `masked_buffers`).
MASK_SHARE = 0.16
# Small uploads are also hashed as if they were a reduction by these factors of a larger
# picture, when their short side is below the factor's limit (see `Work.enlarged_buffer`).
ENLARGE = {2: 600, 4: 300}

# The dihedral transforms kept, as the turn that undoes each on the reduced copy: an upload
# turned anticlockwise by 90 degrees (Pillow's rotate(90)) is turned back by np.rot90(k=-1).
DIHEDRAL = {
    "mirror": lambda a: a[:, ::-1],
    "rot90": lambda a: np.rot90(a, -1),
    "rot180": lambda a: a[::-1, ::-1],
    "rot270": lambda a: np.rot90(a, 1),
}

# The boxes that normalise the picture's framing (a frame, a letterbox, a caption band cut
# off), each also hashed turned back by every one of `DIHEDRAL` (``trimmed+mirror`` ..).
FRAMES = (
    "trimmed",
    "trimmed-even",
    "caption-top",
    "caption-bottom",
    "caption-left",
    "caption-right",
)

Box = tuple[int, int, int, int]  # top, bottom, left, right: rows/columns [top:bottom, left:right]


@dataclass(frozen=True)
class Work:
    """The reduced greyscale copy every variant is computed from."""

    grey: np.ndarray  # float32, rows x cols
    scale: int  # each pixel of `grey` stands for scale x scale full-size pixels

    @classmethod
    def of(cls, image: Image.Image, full_size: tuple[int, int] | None = None) -> Work:
        """`image` (RGB or luma), itself maybe a reduced decode of a picture of `full_size`
        (width, height), as JPEG's draft mode gives."""
        drafted = max(1, round(full_size[0] / image.width)) if full_size else 1
        grey = _luma(image)
        scale = max(1, min(grey.size) // _WORK_SIDE)
        if scale > 1:
            grey = grey.reduce(scale)
        return cls(np.asarray(grey, dtype=np.float32), scale * drafted)

    @property
    def whole(self) -> Box:
        return (0, self.grey.shape[0], 0, self.grey.shape[1])

    def _taps(self, rows: int, cols: int) -> tuple[pdq.Taps, pdq.Taps]:
        # The taps that blur and sample a region as PDQ would the full-size region.
        return pdq.taps(rows * self.scale, rows), pdq.taps(cols * self.scale, cols)

    def buffers(self, boxes: list[Box]) -> np.ndarray:
        """PDQ's 64x64 buffers (k x 64 x 64) of the full-size regions under `boxes`."""
        out = np.empty((len(boxes), 64, 64), dtype=np.float32)
        for k, (top, bottom, left, right) in enumerate(boxes):
            row_taps, col_taps = self._taps(bottom - top, right - left)
            out[k] = _apply(self.grey[top:bottom, left:right], row_taps, col_taps)
        return out

    def dihedral_buffers(self, box: Box | None = None) -> dict[str, np.ndarray]:
        """The buffers of the region under `box` (the whole picture by default) as it is and
        turned back by each of `DIHEDRAL`.

        One pass: turning the picture is the same as reversing the operators that sample it,
        so the buffers of all five come out of one product with the operators stacked with
        their reverses (a quarter turn is a reversal and a transposition of the buffer).
        """
        top, bottom, left, right = box or self.whole
        region = self.grey[top:bottom, left:right]
        rows, cols = region.shape
        (row_index, row_weights), (col_index, col_weights) = self._taps(rows, cols)
        # A reversed operator reads input n - 1 - i where the operator reads i.
        both_rows = (
            np.concatenate([row_index, rows - 1 - row_index]),
            np.tile(row_weights, (2, 1)),
        )
        both_cols = (
            np.concatenate([col_index, cols - 1 - col_index]),
            np.tile(col_weights, (2, 1)),
        )
        both = _apply(region, both_rows, both_cols)
        straight, reversed_ = both[:64], both[64:]
        return {
            ORIGINAL: straight[:, :64],
            "mirror": straight[:, 64:],
            "rot90": reversed_[:, :64].T,
            "rot180": reversed_[:, 64:],
            "rot270": straight[:, 64:].T,
        }

    def masked_buffers(
        self, whole: np.ndarray | None = None, share: float = MASK_SHARE
    ) -> dict[str, np.ndarray]:
        """Buffers of the whole picture with `share` of its height at the bottom, or at the
        top, painted over in the mean grey of the rest.

        A caption bar pasted over a picture destroys what it covers, and the picture without
        the bar is a crop that lands 80 to 120 bits away. Painting over a fixed share instead,
        on both the shared side and the upload, leaves the two alike wherever the bar is no
        taller than that share: the rest of the picture is the same, in the same place, and
        the paint is computed from it (`shared_variants` stores the shared image's).

        `whole` is the picture's own buffer if already computed: the operators are linear, so
        each masked buffer is it plus the operators applied to the change in the painted rows
        only.
        """
        rows, cols = self.grey.shape
        cut = round(rows * share)
        if cut == 0 or cut >= rows:
            return {}
        if whole is None:
            whole = _apply(self.grey, *self._taps(rows, cols))
        row_op = pdq._operator(rows * self.scale, rows)[0]
        col_index, col_weights = pdq.taps(cols * self.scale, cols)
        out = {}
        for name, painted, rest in (
            ("masked-bottom", slice(rows - cut, rows), slice(0, rows - cut)),
            ("masked-top", slice(0, cut), slice(cut, rows)),
        ):
            change = self.grey[rest].mean() - self.grey[painted]
            reduced = row_op[:, painted] @ change
            out[name] = whole + np.einsum("ck,rck->rc", col_weights, reduced[:, col_index])
        return out

    def enlarged_buffer(self, factor: int) -> np.ndarray:
        """The buffer of the whole picture hashed as if it were a 1/`factor` reduction of a
        larger one.

        PDQ blurs in proportion to the picture's size, so a downscaled copy is blurred less
        than its original was and aliases: a 25 % copy lands up to 60 bits away. Hashed with
        the operators of the larger size (each pixel standing for a block, as for a reduced
        JPEG decode), it lands within a few bits for most pictures.
        """
        rows, cols = self.grey.shape
        row_taps = pdq.taps(rows * self.scale * factor, rows)
        col_taps = pdq.taps(cols * self.scale * factor, cols)
        return _apply(self.grey, row_taps, col_taps)

    def coefficients(self, box: Box, turn: str | None = None) -> tuple[np.ndarray, int]:
        """The 16x16 PDQ DCT block and the quality of the full-size region under `box`,
        turned back by the dihedral transform `turn` first if one is named (one at a time:
        for `cordon compare` and tests; `variant_signals` batches)."""
        top, bottom, left, right = box
        region = self.grey[top:bottom, left:right]
        if turn is not None:
            region = np.ascontiguousarray(DIHEDRAL[turn](region))
        buffer = _apply(region, *self._taps(*region.shape))[None]
        return pdq.dct_blocks(buffer)[0], int(pdq.qualities(buffer)[0])


def _apply(region: np.ndarray, row_taps: pdq.Taps, col_taps: pdq.Taps) -> np.ndarray:
    """``row_op @ region @ col_op.T`` from the operators' taps (see `chalicelib.pdq.taps`)."""
    (row_index, row_weights), (col_index, col_weights) = row_taps, col_taps
    reduced = np.einsum("rk,rkc->rc", row_weights, region[row_index])
    return np.einsum("ck,rck->rc", col_weights, reduced[:, col_index])


def hash_of(coefficients: np.ndarray) -> str:
    """PDQ's bits of a DCT block: set where the coefficient exceeds the (lower) median."""
    return pdq.hashes_of_blocks(coefficients[None])[0]


# -- finding the parts of a picture ------------------------------------------------------------


def _uniform_run(
    lines: np.ndarray, share: float = _UNIFORM_SHARE, colour: float | None = None
) -> int:
    """How many of `lines` (from the edge inward) are near-uniform in `colour`, by default
    the edge line's."""
    if lines.shape[0] == 0:
        return 0
    if colour is None:
        colour = _edge_colour(lines[0], share)
        if colour is None:
            return 0
    # Most pictures have no border: a look at the first few lines settles those.
    for count in (_PEEK_LINES, lines.shape[0]):
        close = (np.abs(lines[:count] - colour) <= _TOLERANCE).mean(axis=1)
        stop = np.flatnonzero(close < share)
        if stop.size:
            return int(stop[0])
    return lines.shape[0]


def _reach(share: float) -> float:
    """How far from a line's mean a `share` of it lies, at most, if that share lies within
    the tolerance of the line's median: the mean is within D = share T + (1 - share) 255 of
    the median, so those pixels are within T + D of the mean."""
    return _TOLERANCE + share * _TOLERANCE + (1 - share) * 255


def _edge_colour(line: np.ndarray, share: float) -> float | None:
    """The median colour of an edge line, or None when less than `share` of the line could
    be within tolerance of it (checked first, from the mean: most edges are not flat, and a
    median costs several times a mean)."""
    if (np.abs(line - line.mean()) <= _reach(share)).mean() < share:
        return None
    return float(np.median(line))


def uniform_lines(lines: np.ndarray) -> np.ndarray:
    """Which of `lines` (rows of a 2-D array) are near-uniform in their own median colour.

    Medians of every line are the costly part, so they are taken only for the lines that can
    pass. If a share p of a line lies within T of its median m, its mean lies within
    D = p T + (1 - p) 255 of m, so that share lies within T + D of the mean: lines with less
    than p there are not uniform, and a mean and a comparison settle most lines.
    """
    centre = lines.mean(axis=1, keepdims=True)
    near = (np.abs(lines - centre) <= _reach(_UNIFORM_SHARE)).mean(axis=1)
    candidates = np.flatnonzero(near >= _UNIFORM_SHARE)
    uniform = np.zeros(lines.shape[0], dtype=bool)
    if candidates.size:
        subset = lines[candidates]
        colour = np.median(subset, axis=1, keepdims=True)
        close = (np.abs(subset - colour) <= _TOLERANCE).mean(axis=1)
        uniform[candidates] = close >= _UNIFORM_SHARE
    return uniform


def trim_box(grey: np.ndarray, box: Box, sides: str = "tblr") -> Box:
    """`box` without near-uniform borders of any colour on its `sides` (t, b, l, r)."""
    top, bottom, left, right = box
    region = grey[top:bottom, left:right]
    rows, cols = region.shape
    max_rows, max_cols = int(rows * _TRIM_MAX), int(cols * _TRIM_MAX)
    cut_top = _uniform_run(region[:max_rows]) if "t" in sides else 0
    cut_bottom = _uniform_run(region[::-1][:max_rows]) if "b" in sides else 0
    cut_left = _uniform_run(region.T[:max_cols]) if "l" in sides else 0
    cut_right = _uniform_run(region.T[::-1][:max_cols]) if "r" in sides else 0
    return (top + cut_top, bottom - cut_bottom, left + cut_left, right - cut_right)


def _caption_height(lines: np.ndarray) -> int:
    """Height of a caption band (background plus sparse text) at the edge `lines` start from,
    with any rows of the band's colour right after it (its margin, blurred by JPEG)."""
    rows = lines.shape[0]
    colour = _edge_colour(lines[0], _CAPTION_EDGE_SHARE)
    if colour is None:
        return 0
    share = (np.abs(lines[: int(rows * _CAPTION_MAX) + 1] - colour) <= _TOLERANCE).mean(axis=1)
    if share[0] < _CAPTION_EDGE_SHARE:
        return 0
    content = share < _CAPTION_ROW_SHARE
    runs = np.convolve(content, np.ones(_CAPTION_END_ROWS), mode="valid") >= _CAPTION_END_ROWS
    stop = np.flatnonzero(runs)
    if not stop.size:
        return 0  # the band runs on past the largest caption: a flat picture, not a caption
    height = int(stop[0])
    # A band that is only uniform rows is a border, which trimming already handles.
    if height < rows * _CAPTION_MIN or share[:height].min() >= _UNIFORM_SHARE:
        return 0
    # Only rows of the band's own colour: trimming whatever is uniform there would eat into a
    # picture whose edge is flat (a sky, a poster's background).
    return height + _uniform_run(lines[height : int(rows * _TRIM_MAX)], colour=colour)


def caption_boxes(grey: np.ndarray, box: Box) -> dict[str, Box]:
    """`box` without a caption band at its top, at its bottom, and at its left or right (a
    captioned picture turned by a quarter), where there is one."""
    top, bottom, left, right = box
    region = grey[top:bottom, left:right]
    found: dict[str, Box] = {}
    for name, lines in (
        ("caption-top", region),
        ("caption-bottom", region[::-1]),
        ("caption-left", region.T),
        ("caption-right", region.T[::-1]),
    ):
        height = _caption_height(lines)
        if height:
            cut = {
                "caption-top": (top + height, bottom, left, right),
                "caption-bottom": (top, bottom - height, left, right),
                "caption-left": (top, bottom, left + height, right),
                "caption-right": (top, bottom, left, right - height),
            }
            found[name] = cut[name]
    return found


def _gutters(grey: np.ndarray, axis: int) -> list[int]:
    """Interior lines along `axis` that are uniform end to end (the gaps between cells)."""
    lines = grey if axis == 0 else grey.T
    n = lines.shape[0]
    lo, hi = int(n * _REGION_MIN), int(n * (1 - _REGION_MIN))
    uniform = np.zeros(n, dtype=bool)
    uniform[lo:hi] = uniform_lines(lines[lo:hi])
    cuts: list[int] = []
    index = lo
    while index < hi:
        if uniform[index]:
            end = index
            while end < hi and uniform[end]:
                end += 1
            # A gutter is a thin line; a wide flat band is a sky or a background, and cutting
            # there only adds hashes of half-pictures.
            if end - index <= n * _GUTTER_MAX:
                cuts.append((index + end) // 2)
            index = end
        index += 1
    return cuts[:_MAX_GUTTERS]


def _spans(cuts: list[int], start: int, stop: int) -> list[tuple[int, int]]:
    edges = [start, *(start + c for c in cuts), stop]
    return list(itertools.pairwise(edges))


def tile_boxes(grey: np.ndarray, box: Box) -> dict[str, Box]:
    """The 2x2 grid of `box`, and the cells uniform gutters divide it into (trimmed)."""
    top, bottom, left, right = box
    mid_row, mid_col = (top + bottom) // 2, (left + right) // 2
    tiles: dict[str, Box] = {}
    for r, (r0, r1) in enumerate(((top, mid_row), (mid_row, bottom))):
        for c, (c0, c1) in enumerate(((left, mid_col), (mid_col, right))):
            # Left untrimmed: a tile's edges are its picture's edges, and a flat sky there
            # would be trimmed away. Gutters are the business of the cells below.
            tiles[f"tile-{r}-{c}"] = (r0, r1, c0, c1)
    region = grey[top:bottom, left:right]
    row_cuts, col_cuts = _gutters(region, 0), _gutters(region, 1)
    if row_cuts or col_cuts:
        row_spans, col_spans = _spans(row_cuts, top, bottom), _spans(col_cuts, left, right)
        cells = []
        for i, (r0, r1) in enumerate(row_spans):
            for j, (c0, c1) in enumerate(col_spans):
                # Trim only the sides that face a gutter (the outer ones were trimmed with
                # the whole picture).
                sides = "".join(
                    side
                    for side, inner in (
                        ("t", i > 0),
                        ("b", i < len(row_spans) - 1),
                        ("l", j > 0),
                        ("r", j < len(col_spans) - 1),
                    )
                    if inner
                )
                cells.append(trim_box(grey, (r0, r1, c0, c1), sides))
        known = set(tiles.values())
        fresh = [cell for cell in cells if cell not in known]
        tiles.update({f"region-{i}": cell for i, cell in enumerate(fresh)})
    return tiles


# -- the signals ------------------------------------------------------------------------------


def _big_enough(box: Box, whole: Box) -> bool:
    rows, cols = box[1] - box[0], box[3] - box[2]
    return rows >= max(2, (whole[1] - whole[0]) * _REGION_MIN) and cols >= max(
        2, (whole[3] - whole[2]) * _REGION_MIN
    )


def _even(box: Box, whole: Box) -> Box:
    """`box` cut from `whole` by the smaller of the two cuts on each axis, on both sides."""
    rows = min(box[0] - whole[0], whole[1] - box[1])
    cols = min(box[2] - whole[2], whole[3] - box[3])
    return (whole[0] + rows, whole[1] - rows, whole[2] + cols, whole[3] - cols)


def _near(box: Box, other: Box) -> bool:
    return all(abs(a - b) <= 1 for a, b in zip(box, other, strict=True))


def region_boxes(work: Work) -> dict[str, Box]:
    """Every region of the upload worth hashing on its own, by variant name."""
    whole = work.whole
    boxes: dict[str, Box] = {}
    trimmed = trim_box(work.grey, whole)
    if trimmed != whole:
        boxes["trimmed"] = trimmed
        # Frames and letterboxes are added evenly; trimming ran on into the picture on the
        # side that cut more when the picture's own edge is flat and close to the frame's
        # grey (luma hides a red frame next to a grey sky): also hash the even cut.
        even = _even(trimmed, whole)
        if even != trimmed:
            boxes["trimmed-even"] = even
    # Captions are looked for on the whole picture (trimming first would cut a caption's
    # blank margin and leave its text at the edge).
    boxes.update(caption_boxes(work.grey, whole))
    # The 2x2 grid of the whole picture (trimming could cut a flat edge off one tile and
    # shift the grid), and of the trimmed one when a frame (all four sides) was cut off.
    boxes.update(tile_boxes(work.grey, whole))
    framed_all_round = all(a != b for a, b in zip(trimmed, whole, strict=True))
    if framed_all_round:
        framed = tile_boxes(work.grey, trimmed)
        boxes.update({f"trimmed-{k}": v for k, v in framed.items() if k.startswith("tile-")})
    return {name: box for name, box in boxes.items() if _big_enough(box, whole)}


def _luma(image: Image.Image) -> Image.Image:
    """The picture in grey, converted once for the work copy and the anchored windows alike."""
    return image if image.mode == "L" else image.convert("L")


def variant_signals(image: Image.Image, full_size: tuple[int, int] | None = None) -> list[Signal]:
    """PDQ signals of every variant of an upload (not of the upload as it is).

    `full_size` (width, height) says `image` is a reduced decode of a larger picture.

    Variants whose hash is too flat to match on (quality < 50, or a buffer too poor in
    picture by `information.informative`), or equal to an earlier one's, are left out.
    """
    grey = _luma(image)
    work = Work.of(grey, full_size)
    if min(work.grey.shape) * work.scale < 16:
        return []
    whole_buffers = work.dihedral_buffers()
    short_side = min(work.grey.shape) * work.scale
    for factor, limit in ENLARGE.items():
        if short_side < limit:
            whole_buffers[f"enlarged-{factor}"] = work.enlarged_buffer(factor)
    whole_buffers.update(work.masked_buffers(whole_buffers[ORIGINAL]))
    regions = region_boxes(work)
    # The picture inside a frame or beside a caption is hashed turned back too (one pass a
    # box), so a mirrored or rotated copy that was framed afterwards matches as well. A box
    # within a pixel of one already turned (an even trim one JPEG-blurred line off) would
    # only repeat its hashes.
    turned_boxes: list[Box] = []
    for frame in FRAMES:
        box = regions.get(frame)
        if box is None or any(_near(box, other) for other in turned_boxes):
            continue
        del regions[frame]
        turned_boxes.append(box)
        turned = work.dihedral_buffers(box)
        whole_buffers[frame] = turned.pop(ORIGINAL)
        whole_buffers.update({compose(frame, turn): b for turn, b in turned.items()})
    names = [*whole_buffers, *regions]
    # Every buffer hashed in one batch: the DCT, the quality and the median of each are the
    # same few numpy calls whatever the number of variants.
    buffers = np.concatenate(
        [np.stack(list(whole_buffers.values())), work.buffers(list(regions.values()))]
    )
    blocks = pdq.dct_blocks(buffers)
    values = pdq.hashes_of_blocks(blocks)
    quality = pdq.qualities(buffers)
    # A variant of a flat picture, or of a flat part of one, says too little to match on:
    # counted as of quality 0, so left out below.
    quality[~information.informative(buffers, blocks)] = 0
    found = list(zip(names[1:], values[1:], quality[1:].tolist(), strict=True))
    found.extend(anchored.upload_windows(anchored.grey_copy(grey)))
    # The work copy's own hash (the first) only serves to drop variants equal to it.
    seen = {values[0]}
    signals: list[Signal] = []
    for name, value, block_quality in found:
        if block_quality < pdq.MIN_QUALITY or value in seen:
            continue
        seen.add(value)
        signals.append(Signal(PDQ_TYPE, value, quality=int(block_quality), variant=name))
    return signals


def shared_variants(image: Image.Image, full_size: tuple[int, int] | None = None) -> list[Signal]:
    """Extra PDQ hashes to store for a shared image, so that edits no upload-side variant can
    undo still match: meet in the middle.

    - centre crops of `SHARED_CROPS` of each side (``crop-3`` .. ``crop-12``): an upload
      cropped by about as much (split evenly) lands within PDQ's distance of one of them,
      where it would be 40 to 100 bits from the whole picture;
    - the picture with `MASK_SHARE` of its height painted over at the bottom and at the top
      (``masked-bottom``, ``masked-top``), which an upload's own masked variants meet when a
      caption bar was pasted over the picture there.
    - windows around its most distinctive spots at the scale of each crop of up to 10 % of
      each side (``anchor-<crop %>-<k>``), which an upload's own anchored windows meet however
      the crop was split between sides (`chalicelib.anchored`).

    `image` and `full_size` as for `variant_signals` (a reduced decode is fine). Store each
    with the shared image's provenance and labels, and with its variant name: a match found
    through it is a variant match (REVIEW by default), never the image itself. None is kept
    that `variant_signals` would leave out as too flat: a flat graphic stores few or none.
    """
    grey = _luma(image)
    work = Work.of(grey, full_size)
    if min(work.grey.shape) * work.scale < 16:
        return []
    rows, cols = work.grey.shape
    named: dict[str, np.ndarray] = {}
    boxes: dict[str, Box] = {}
    for share in SHARED_CROPS:
        dr, dc = round(rows * share / 2), round(cols * share / 2)
        if dr or dc:
            boxes[f"crop-{share * 100:g}"] = (dr, rows - dr, dc, cols - dc)
    named.update(work.masked_buffers())
    names = [*boxes, *named]
    buffers = np.concatenate([work.buffers(list(boxes.values())), np.stack(list(named.values()))])
    blocks = pdq.dct_blocks(buffers)
    values = pdq.hashes_of_blocks(blocks)
    quality = pdq.qualities(buffers)
    quality[~information.informative(buffers, blocks)] = 0  # not stored: see variant_signals
    found = list(zip(names, values, quality.tolist(), strict=True))
    found.extend(anchored.shared_windows(anchored.grey_copy(grey)))
    return [
        Signal(PDQ_TYPE, value, quality=int(q), variant=name)
        for name, value, q in found
        if q >= pdq.MIN_QUALITY
    ]


def compose(*steps: str) -> str:
    """The name of a variant made of several (``trimmed+mirror``: trimmed, then turned back;
    ``inverted+...`` in `chalicelib.matching`), the first applied first."""
    return "+".join(step for step in steps if step != ORIGINAL) or ORIGINAL


def describe(variant: str) -> str:
    """A variant's name in words, for verdict reasons and `cordon compare`."""
    if "+" in variant:
        return ", then ".join(describe(step) for step in variant.split("+"))
    if variant.startswith("trimmed-tile-"):
        return "a tile of a 2x2 grid inside a frame, " + describe(variant[len("trimmed-") :])
    if variant.startswith("tile-"):
        _, row, col = variant.split("-")
        return f"{('top', 'bottom')[int(row)]}-{('left', 'right')[int(col)]} tile of a 2x2 grid"
    if variant.startswith("region-"):
        return f"cell {variant.split('-')[1]} of a collage (split at uniform gutters)"
    if variant.startswith("anchor-"):
        parts = variant.split("-")
        if len(parts) == 3:
            return (
                f"stored window {parts[2]} around a distinctive spot of the shared image, "
                f"at the scale of a {parts[1]} % crop"
            )
        return f"window {parts[1]} around a distinctive spot of the image (crops split unevenly)"
    if variant.startswith("crop-"):
        return f"stored centre crop of {variant.split('-')[1]} % of the shared image"
    if variant.startswith("enlarged-"):
        factor = variant.split("-")[1]
        return f"the image hashed as a 1/{factor} reduction of a larger one (a downscaled copy)"
    return {
        ORIGINAL: "the image as uploaded",
        INVERTED: "the image with its colours inverted (PDQ's complement)",
        "mirror": "the image mirrored left to right",
        "rot90": "the image rotated by 90 degrees",
        "rot180": "the image rotated by 180 degrees",
        "rot270": "the image rotated by 270 degrees",
        "trimmed": "the image with its uniform borders trimmed",
        "trimmed-even": "the image with its uniform borders trimmed evenly on opposite sides",
        "caption-top": "the image without the caption band at its top",
        "caption-bottom": "the image without the caption band at its bottom",
        "caption-left": "the image without the caption band at its left",
        "caption-right": "the image without the caption band at its right",
        "masked-top": f"the image with the top {MASK_SHARE:.0%} painted over (a caption on it)",
        "masked-bottom": (
            f"the image with the bottom {MASK_SHARE:.0%} painted over (a caption on it)"
        ),
    }.get(variant, variant)
