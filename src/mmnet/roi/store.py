"""``roi.zarr``: the ROI columns of every sample, and :class:`RoiStore`, the loader's view.

Layout (one zarr v3 group, rows aligned with ``samples.parquet``; every array grouped in
shard files of 64 samples):

``columns`` (N, C, 225, 45, 3) uint8
    the sample's distinct ROI columns (C = K * (1 + k) at most) as RGB pixels, one chunk
    per column, compressed with Blosc LZ4HC (lossless). Inside a shard file the chunks lie
    sample by sample, so a tile's columns are one stretch of the file: a training loader
    opens one file, reads the K columns of its tile and decompresses only those. LZ4
    decompresses a column in about 0.01 ms, 20x faster than lossless WebP, for 2.3x the
    bytes (``bench/roi.py``); attribute ``column_encoding`` names this layout.
``column_frame`` (N, C) int32: the sample frame each column shows (-1: unused slot).
``column_layout`` (N, C) uint8: 0 unused, 1 single person, 2 two-person layout.
``evaluation`` (N, K) int16: the evaluation tile's columns (-1: black column).
``training`` (N, k, K) int16: the ``k`` random-interval draws' columns (absent if k = 0).
``available`` (N,) bool: the sample has an evaluation tile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import zarr
from numcodecs import blosc
from zarr.codecs import BloscCodec

from mmnet.roi.tile import CELL, ROWS, SWAPPED_ROWS
from mmnet.store import (
    EMPTY_CHUNK,
    SAMPLES_PER_FILE,
    shard_blosc,
    shard_file,
    sharded_blosc,
    whole_shard_files,
    write_shard_file,
)

#: One stored column: the five cells of a tile column, ``(5 * CELL, CELL, 3)`` RGB.
COLUMN_SHAPE = (ROWS * CELL, CELL, 3)
#: The ``column_encoding`` attribute of a store in this layout. Stores of other layouts (the
#: lossless WebP slots written before) are refused by :class:`RoiStore`, never misread.
COLUMN_ENCODING = "pixels (225, 45, 3) uint8, one Blosc LZ4HC chunk per column, sample-major"
#: Blosc LZ4HC: 26.6 KB per real NTU column (raw 30.4 KB; LZ4 28.2 KB, decoded 30 % faster;
#: zstd-1 25.5 KB, decoded 4x slower), about 0.3 ms to compress (``bench/roi.py``).
COLUMN_CODEC = {"cname": "lz4hc", "clevel": 5, "shuffle": "noshuffle"}
ROI_ARRAYS = ["columns", "column_frame", "column_layout", "evaluation", "training", "available"]


class OldRoiStore(ValueError):
    """A ``roi.zarr`` written in a layout this version does not read."""


def create_column_array(
    store: str | Path, rows: int, slots: int, *, samples_per_file: int = SAMPLES_PER_FILE
) -> zarr.Array:
    """The ``columns`` array of a ROI store: ``rows`` samples of ``slots`` columns."""
    group = zarr.open_group(store, mode="a", zarr_format=3)
    return group.create_array(
        "columns",
        shape=(rows, slots, *COLUMN_SHAPE),
        chunks=(1, 1, *COLUMN_SHAPE),
        shards=(samples_per_file, slots, *COLUMN_SHAPE),
        dtype="uint8",
        fill_value=0,
        compressors=BloscCodec(**COLUMN_CODEC),
        overwrite=True,
    )


def _direct_layout(array: zarr.Array) -> bool:
    """Whether ``columns`` has :func:`create_column_array`'s layout in a local store, so its
    shard files can be written and read here directly."""
    return (
        array.ndim == 5
        and tuple(array.shape[2:]) == COLUMN_SHAPE
        and sharded_blosc(array, (1, 1, *COLUMN_SHAPE))
    )


def write_columns(array: zarr.Array, start: int, data: np.ndarray) -> None:
    """``array[start : start + len(data)] = data`` for the ``columns`` array.

    Whole shard files are written here in zarr's sharding format with the chunks in sample
    order (zarr itself writes them in Morton order, which scatters a sample's columns over
    the file): every column that is not all zeros (the fill value, which zarr leaves out)
    as one Blosc frame, then the ``(offset, length)`` index of every chunk and its CRC32C.
    zarr reads these files as its own (tested). Anything else goes through zarr.
    """
    stop = start + len(data)
    if not (whole_shard_files(array, start, stop) and _direct_layout(array)):
        array[start:stop] = data
        return
    per_file = array.shards[0]
    codec = shard_blosc(array)
    slots = array.shape[1]
    for first in range(start, stop, per_file):
        samples = data[first - start : first - start + per_file]
        index = np.full((per_file, slots, 2), EMPTY_CHUNK, dtype="<u8")
        frames, offset = [], 0
        for i, sample in enumerate(samples):
            for j, column in enumerate(sample):
                if not column.any():
                    continue  # the fill value: zarr leaves the chunk out
                frame = codec.encode(np.ascontiguousarray(column, dtype=np.uint8))
                index[i, j] = offset, len(frame)
                frames.append(frame)
                offset += len(frame)
        write_shard_file(shard_file(array, first // per_file), frames, index)


class ColumnReader:
    """Reads the columns of one tile of a ``columns`` array.

    ``reader.read(row, indices)[i]`` equals ``array[row, indices[i]]`` (index -1: a black
    column). For :func:`create_column_array`'s layout it reads the index of each shard file
    once, then per call opens the sample's file once and reads and decompresses only the
    distinct columns asked for (zarr spends about 1 ms of its own machinery per read, a
    hundred times the decompression). Any other layout is read through zarr.
    """

    def __init__(self, array: zarr.Array):
        self.array = array
        self._per_file = array.shards[0] if array.shards else 0
        self._indexes: dict[int, list[list[int]]] = {}  # shard -> per row: C x (offset, length)
        self._paths: dict[int, str] = {}
        self._direct = self._per_file > 0 and _direct_layout(array)

    def _index(self, shard: int) -> list[list[int]] | None:
        """Per sample of shard file ``shard``: its columns' ``(offset, length)`` pairs
        (flattened); None: the file was never written."""
        if shard not in self._indexes:
            path = str(shard_file(self.array, shard))
            if not os.path.isfile(path):
                return None
            entries = self._per_file * self.array.shape[1]
            with open(path, "rb") as f:
                f.seek(-(16 * entries + 4), os.SEEK_END)  # + the index's CRC32C
                index = np.frombuffer(f.read(16 * entries), dtype="<u8")
            self._indexes[shard] = index.reshape(self._per_file, -1).tolist()
            self._paths[shard] = path
        return self._indexes[shard]

    def read(self, row: int, indices: Sequence[int], out: np.ndarray | None = None) -> np.ndarray:
        """uint8 ``(len(indices), 225, 45, 3)``: columns ``indices`` of sample ``row``, in
        that order, -1 black (into ``out`` if given)."""
        indices = [int(i) for i in indices]
        if out is None:
            out = np.empty((len(indices), *COLUMN_SHAPE), dtype=np.uint8)
        if not 0 <= row < self.array.shape[0]:
            raise IndexError(f"row {row} outside 0..{self.array.shape[0] - 1}")
        if not self._direct:
            for i, index in enumerate(indices):
                out[i] = self.array[row, index] if index >= 0 else 0
            return out
        shard, inner = divmod(row, self._per_file)
        index = self._index(shard)
        entries = index[inner] if index is not None else None
        done: dict[int, int] = {}  # column -> where it was decoded
        fd = None
        try:
            for i, column in enumerate(indices):
                if column in done:
                    out[i] = out[done[column]]
                    continue
                offset, length = (
                    entries[2 * column : 2 * column + 2] if entries and column >= 0
                    else (EMPTY_CHUNK, EMPTY_CHUNK)
                )  # fmt: skip
                if offset == EMPTY_CHUNK:  # -1, or never written: the fill value
                    out[i] = 0
                else:
                    if fd is None:
                        fd = os.open(self._paths[shard], os.O_RDONLY)
                    blosc.decompress(os.pread(fd, length, offset), out[i])
                done[column] = i
        finally:
            if fd is not None:
                os.close(fd)
        return out

    def __getstate__(self) -> dict:  # DataLoader workers re-read the (small) indexes
        return {**self.__dict__, "_indexes": {}, "_paths": {}}


class RoiStore:
    """Read-only access to ``results/{dataset}/roi.zarr`` for training and evaluation.

    Small per-sample arrays are loaded at once; the columns are read per tile (one file,
    the tile's columns only). Safe to hand to DataLoader workers: the zarr store is
    (re)opened per process. A store of another layout raises :class:`OldRoiStore`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        group = zarr.open_group(self.path, mode="r")
        attrs = group.attrs
        encoding = attrs.get("column_encoding")
        if encoding != COLUMN_ENCODING:
            raise OldRoiStore(
                f"{self.path}: ROI columns stored as {encoding!r}; this version reads "
                f"{COLUMN_ENCODING!r}. Rebuild the store: snakemake --forcerun build_roi "
                "(or delete it and run mmnet rgb again)"
            )
        self.temporal_rgb_frames: int = int(attrs["temporal_rgb_frames"])
        self.training_candidates: int = int(attrs["training_candidates"])
        self.available: np.ndarray = group["available"][:]
        self._evaluation = group["evaluation"][:]
        self._training = group["training"][:] if self.training_candidates else None
        swap_layouts = np.array(attrs["flip_swaps_rows_for_layouts"], dtype=np.uint8)
        self._swap = np.isin(group["column_layout"][:], swap_layouts)  # (N, C)
        self._columns: ColumnReader | None = None
        self._pid: int | None = None

    def __len__(self) -> int:
        return len(self.available)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_columns": None, "_pid": None}

    def _column_reader(self) -> ColumnReader:
        if self._columns is None or self._pid != os.getpid():
            self._columns = ColumnReader(zarr.open_group(self.path, mode="r")["columns"])
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

        The tile is a view of a channel-first ``(3, 225, 45 * K)`` array, so the loader's
        ``tile.transpose(2, 0, 1)`` is contiguous: no copy.
        """
        if not self.available[row]:
            raise KeyError(f"row {row} has no ROI ({self.reason(row)})")
        if rng is None or self.training_candidates == 0:
            indices = self._evaluation[row]
        else:
            indices = self._training[row, rng.integers(self.training_candidates)]
        columns = self._column_reader().read(row, indices)  # (K, 225, 45, 3)
        if flip:
            swap = self._swap[row]
            swapped = [i for i, index in enumerate(indices) if index >= 0 and swap[index]]
            if swapped:  # rows 1<->2 and 3<->4 first, then the mirror (tile.flip_column)
                cells = columns[swapped].reshape(len(swapped), ROWS, CELL, CELL, 3)
                columns[swapped] = cells[:, list(SWAPPED_ROWS)].reshape(-1, *COLUMN_SHAPE)
            columns = columns[:, :, ::-1]
        frames = len(indices)
        chw = np.empty((3, ROWS * CELL, frames, CELL), dtype=np.uint8)
        chw[...] = columns.transpose(3, 1, 0, 2)  # (K, H, W, 3) -> (3, H, K, W)
        return chw.reshape(3, ROWS * CELL, frames * CELL).transpose(1, 2, 0)
