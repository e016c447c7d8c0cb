"""The five-frame ROI tile (spec §4.3.3-4.3.6, §4.4): crops, layout, person, resize, flip.

A tile has ``K`` columns, one per frame; a column stacks five body-part cells, top to
bottom BODY_25 keypoints 0 Nose, 4 RWrist, 7 LWrist, 10 RKnee, 13 LKnee. In the frame's
own pixels a cell is a ``patch`` x ``patch`` crop centred on the keypoint (96 at 1080
lines): ``crop((x - h, y - h, x + h, y + h))`` with Pillow's rounding of the box
(half-to-even) and black outside the image. Two-person layout (a two-person class with two
or more people found): each cell holds two ``patch/2``-wide halves, person 0 left and
person 1 right, in detection order. Otherwise one person: the only one, or, among several,
the one matched to the nearest reference body (below).

N-UCLA (spec §4.3.4): among several people the target is the one nearest the camera in
the frame's depth image (:func:`choose_by_depth`), and its hand and leg cells (rows 1-4) are
cropped ``part_shift`` pixels lower (15 at 480 lines), as the original does in that case.

Each column is then resized to network resolution, ``45 x 225`` (Pillow bilinear, as the
original's ``Resize((225, 45*K))``), so that stored columns compose into any tile.

Differences from the original, on purpose (``docs/rgb.md``):

- no one-pixel column offset (the original pastes column ``i`` at ``96*i + 1``);
- each column is resized on its own, not the whole canvas: at the two pixels where
  columns meet, the original's filter mixed neighbouring columns;
- the target person among several is the detection nearest (in the image) to the Kinect
  body with the most motion energy within ``max_depth`` (the body the skeleton stream
  keeps first); the original picks the detection nearest the camera from masked depth maps,
  files we do not read. Nearest-by-Kinect-depth was tried and fails on Kinect's spurious
  "ghost" bodies, which often stand nearer the camera than the actor. PKU-MMD, whose
  skeletons have no colour coordinates, projects them (:mod:`mmnet.skeleton.camera`);
- N-UCLA's depth rule without its defects: the window row is clamped into the image (the
  original sets a row >= 238 to 2), a window never wraps around the image edge, and a
  detection whose MidHip was not found is passed over (the original reads the corner);
- two-person layout only for the dataset's two-person classes (NTU120's A061-A105 got it
  whenever two people were found).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from PIL import Image

#: BODY_25 keypoints of the five rows, top to bottom (spec §4.3.3).
ROI_KEYPOINTS = (0, 4, 7, 10, 13)
ROI_PARTS = ("nose", "right wrist", "left wrist", "right knee", "left knee")
#: Side of a cell at network resolution: a tile is (5 * CELL, K * CELL).
CELL = 45
#: Body-part rows of a tile.
ROWS = len(ROI_KEYPOINTS)


def tile_shape(frames: int) -> tuple[int, int, int]:
    """``(height, width, 3)`` of a tile of ``frames`` columns at network resolution."""
    return (ROWS * CELL, frames * CELL, 3)


#: Row order after a flip that swaps sides (rows 1<->2, 3<->4; spec §4.3.6).
SWAPPED_ROWS = (0, 2, 1, 4, 3)

#: ``column_layout`` codes of the ROI store.
EMPTY, SINGLE, TWO_PERSON = 0, 1, 2


def crop(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Pillow's ``Image.crop(box)``: the box rounded half-to-even, black outside the image."""
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    out = np.zeros((max(y1 - y0, 0), max(x1 - x0, 0), 3), dtype=np.uint8)
    height, width = image.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if sx0 < sx1 and sy0 < sy1:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    """Pillow's ``Image.paste(patch, (x, y))``: whatever falls outside the canvas is lost."""
    height, width = canvas.shape[:2]
    ph, pw = patch.shape[:2]
    cx0, cy0, cx1, cy1 = max(x, 0), max(y, 0), min(x + pw, width), min(y + ph, height)
    if cx0 < cx1 and cy0 < cy1:
        canvas[cy0:cy1, cx0:cx1] = patch[cy0 - y : cy1 - y, cx0 - x : cx1 - x]


def build_column(
    image: np.ndarray,
    people: np.ndarray,
    patch: int,
    *,
    two_person: bool,
    person: int = 0,
    shift: float = 0.0,
) -> np.ndarray:
    """One frame's column ``(5 * patch, patch, 3)`` at frame resolution.

    ``people`` ``(P, 25, 3)`` in the frame's pixels; ``two_person`` uses persons 0 and 1,
    otherwise ``person``, whose hand and leg cells (rows 1-4) are cropped ``shift`` pixels
    lower (N-UCLA's rule for a person chosen among several).
    """
    half, quarter = patch / 2, patch / 4
    column = np.zeros((5 * patch, patch, 3), dtype=np.uint8)
    for row, keypoint in enumerate(ROI_KEYPOINTS):
        if two_person:
            for side in (0, 1):
                x, y = (float(v) for v in people[side, keypoint, :2])
                cell = crop(image, (x - quarter, y - half, x + quarter, y + half))
                paste(column, cell, side * patch // 2, row * patch)
        else:
            x, y = (float(v) for v in people[person, keypoint, :2])
            if row > 0:
                y += shift
            paste(column, crop(image, (x - half, y - half, x + half, y + half)), 0, row * patch)
    return column


def to_network(column: np.ndarray) -> np.ndarray:
    """A column resized to ``(5 * CELL, CELL, 3)`` (Pillow bilinear, antialiased)."""
    resized = Image.fromarray(column).resize((CELL, 5 * CELL), Image.Resampling.BILINEAR)
    return np.asarray(resized)


def choose_person(
    people: np.ndarray,
    references: np.ndarray | None,
    keypoint: int,
    max_depth: float,
    tolerance: float = 0.0,
) -> int:
    """Index of the target person among several detections.

    ``references`` ``(B, 4)``: the dataset's skeleton bodies listed in the frame, each as
    ``(x, y, depth, energy)`` of its choice joint (image pixels, metres, the body slot's
    motion energy). The target is the body of most motion energy within ``max_depth``
    (the skeleton stream's first person, spec §2.2); the detection whose ``keypoint`` lies
    nearest to it wins, the first listed among those within ``tolerance`` pixels of the
    nearest. Default, as in the original: detection 0.
    """
    if len(people) <= 1 or references is None or len(references) == 0:
        return 0
    depth = references[:, 2]
    candidates = np.flatnonzero((depth > 0) & (depth <= max_depth))
    if len(candidates) == 0:
        return 0
    target = references[candidates[np.argmax(references[candidates, 3])]]
    points = people[:, keypoint]
    found = points[:, 2] > 0
    if not found.any():
        return 0
    distance = np.where(found, np.hypot(points[:, 0] - target[0], points[:, 1] - target[1]), np.inf)
    return int(np.flatnonzero(distance <= distance.min() + tolerance)[0])


def choose_by_depth(
    people: np.ndarray,
    depth: np.ndarray | None,
    keypoint: int,
    max_depth_mm: float,
    image_size: tuple[int, int],
) -> int:
    """N-UCLA's target among several detections (spec §4.3.4): the one nearest the camera.

    Each detection's ``keypoint`` (MidHip) is scaled to the ``depth`` image (uint16
    millimetres, ``image_size`` = the colour frame's ``(width, height)``; the real ones are
    half the colour size, the original's ``//2``) and floored; the mean of the non-zero depths
    in the 5x5 window around it is the detection's distance. The nearest within
    ``max_depth_mm`` wins, a later one on ties (the original's ``<=``). Default, and without
    a depth image: detection 0, the original's default.
    """
    if len(people) <= 1 or depth is None:
        return 0
    height, width = depth.shape[:2]
    best, nearest = 0, float(max_depth_mm)
    for index, (x, y, confidence) in enumerate(people[:, keypoint]):
        if confidence <= 0:
            continue  # not found: the original reads the image corner (and wraps around)
        col = min(max(int(np.floor(x * width / image_size[0])), 2), width - 3)
        row = min(max(int(np.floor(y * height / image_size[1])), 2), height - 3)
        window = depth[row - 2 : row + 3, col - 2 : col + 3]
        valid = window[window > 0]
        if valid.size and valid.mean() <= nearest:
            best, nearest = index, float(valid.mean())
    return best


def flip_column(column: np.ndarray, swap_rows: bool) -> np.ndarray:
    """The training flip of one network-resolution column (spec §4.3.6).

    The column is mirrored left-right; with ``swap_rows`` (two-person layout on NTU, every
    layout on N-UCLA) the right/left rows are exchanged first, as in the original.
    """
    if swap_rows:
        cells = column.reshape(5, CELL, *column.shape[1:])
        column = cells[list(SWAPPED_ROWS)].reshape(column.shape)
    return column[:, ::-1]


def compose_tile(columns: Mapping[int, np.ndarray], indices: np.ndarray) -> np.ndarray:
    """Tile ``(5 * CELL, K * CELL, 3)`` from columns by index; index -1 is a black column."""
    tile = np.zeros(tile_shape(len(indices)), dtype=np.uint8)
    for i, index in enumerate(indices):
        if index >= 0:
            tile[:, i * CELL : (i + 1) * CELL] = columns[index]
    return tile
