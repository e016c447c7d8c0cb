"""``roi.zarr``: the ROI columns of every sample, and :class:`RoiStore`, the loader's view.

Layout (one zarr v3 group, rows aligned with ``samples.parquet``; every array has one
chunk per sample, grouped in shard files of 64 samples):

``columns`` (N, C, SLOT) uint8
    the sample's distinct ROI columns (C = K * (1 + k) at most), each a lossless WebP
    image of ``(225, 45, 3)`` pixels in a fixed-size slot: 4 bytes little-endian length,
    the WebP bytes, zero padding (which the zstd codec removes). A training loader reads
    one sample with one chunk read and decodes only the K columns of its tile. Lossless
    WebP takes 2.6x less space than the pixels (zstd, delta + zstd: 1.4-1.5x; measured in
    ``bench/roi.py``).
``column_frame`` (N, C) int32: the sample frame each column shows (-1: unused slot).
``column_layout`` (N, C) uint8: 0 unused, 1 single person, 2 two-person layout.
``evaluation`` (N, K) int16: the evaluation tile's columns (-1: black column).
``training`` (N, k, K) int16: the ``k`` random-interval draws' columns (absent if k = 0).
``available`` (N,) bool: the sample has an evaluation tile.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from PIL import Image

from mmnet.roi.tile import CELL, compose_tile, flip_column
from mmnet.store import SampleReader

#: Bytes of one column slot: length prefix + the largest lossless WebP of a column
#: (random noise: 230 bytes more than the raw pixels).
COLUMN_PIXELS = 5 * CELL * CELL * 3
SLOT = 4 + COLUMN_PIXELS + 1020
ROI_ARRAYS = ["columns", "column_frame", "column_layout", "evaluation", "training", "available"]


def encode_column(column: np.ndarray, effort: int) -> np.ndarray:
    """A ``(225, 45, 3)`` column as a :data:`SLOT`-byte lossless WebP slot."""
    buffer = io.BytesIO()
    Image.fromarray(column).save(
        buffer, "WEBP", lossless=True, method=effort, quality=round(100 * effort / 6), exact=True
    )
    data = buffer.getvalue()
    if len(data) > SLOT - 4:
        raise ValueError(f"WebP column of {len(data)} bytes does not fit a {SLOT}-byte slot")
    slot = np.zeros(SLOT, dtype=np.uint8)
    slot[:4] = np.frombuffer(len(data).to_bytes(4, "little"), dtype=np.uint8)
    slot[4 : 4 + len(data)] = np.frombuffer(data, dtype=np.uint8)
    return slot


def decode_column(slot: np.ndarray) -> np.ndarray:
    """Inverse of :func:`encode_column`."""
    size = int.from_bytes(slot[:4].tobytes(), "little")
    image = Image.open(io.BytesIO(slot[4 : 4 + size].tobytes()), formats=["WEBP"])
    image.load()
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))


class RoiStore:
    """Read-only access to ``results/{dataset}/roi.zarr`` for training and evaluation.

    Small per-sample arrays are loaded at once; the columns are read per sample (one chunk
    read). Safe to hand to DataLoader workers: the zarr store is (re)opened per process.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        group = zarr.open_group(self.path, mode="r")
        attrs = group.attrs
        self.temporal_rgb_frames: int = int(attrs["temporal_rgb_frames"])
        self.training_candidates: int = int(attrs["training_candidates"])
        self.available: np.ndarray = group["available"][:]
        self._evaluation = group["evaluation"][:]
        self._training = group["training"][:] if self.training_candidates else None
        self._layout = group["column_layout"][:]
        self._swap_layouts = np.array(attrs["flip_swaps_rows_for_layouts"], dtype=np.uint8)
        self._columns: SampleReader | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.available)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_columns": None, "_pid": None}

    def _column_array(self) -> SampleReader:
        if self._columns is None or self._pid != os.getpid():
            self._columns = SampleReader(zarr.open_group(self.path, mode="r")["columns"])
            self._pid = os.getpid()
        return self._columns

    def reason(self, row: int) -> str:
        """Why a sample has no (or a partial) ROI, from ``roi.parquet`` beside the store."""
        table = self.path.with_suffix(".parquet")
        if not table.is_file():
            return "unknown (no roi.parquet beside the store)"
        record = pd.read_parquet(table).iloc[row]
        return f"{record['sample']}: {record['roi_status']} {record['roi_reason']}".strip()

    def tile(
        self, row: int, rng: np.random.Generator | None = None, flip: bool = False
    ) -> np.ndarray:
        """uint8 ``(225, 45 * K, 3)`` RGB tile of sample ``row`` at network resolution.

        ``rng`` None: the evaluation tile; otherwise one of the stored random-interval draws,
        chosen with ``rng``. ``flip``: the training flip of spec §4.3.6 (every column
        mirrored; left/right rows swapped for the layouts the dataset swaps). Images are
        real (not colour-inverted); normalising is the loader's job.
        """
        if not self.available[row]:
            raise KeyError(f"row {row} has no ROI ({self.reason(row)})")
        if rng is None or self.training_candidates == 0:
            indices = self._evaluation[row]
        else:
            indices = self._training[row, rng.integers(self.training_candidates)]
        slots = self._column_array()[row]
        columns = {}
        for index in {int(i) for i in indices if i >= 0}:
            column = decode_column(slots[index])
            if flip:
                column = flip_column(column, self._layout[row, index] in self._swap_layouts)
            columns[index] = column
        return compose_tile(columns, indices)
