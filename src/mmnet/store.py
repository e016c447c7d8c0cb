"""Zarr and parquet helpers, and atomic writes.

Every output is written under a temporary name in its destination folder and renamed into
place when complete, so a killed job never leaves a file or store that looks finished.

Sample arrays are zarr v3 arrays whose first axis is the sample (the row of
``samples.parquet``): one inner chunk per sample (a training loader reads a sample with one
chunk read) grouped into shard files of ``samples_per_file`` samples, so a dataset of 100k
samples is a few thousand files, not 100k. Parallel jobs each write whole shard files into
their own store; :func:`gather_stores` then hard-links those files into the final store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import google_crc32c
import numcodecs
import numpy as np
import pandas as pd

from mmnet.errors import as_os_error

if TYPE_CHECKING:
    import zarr

SAMPLES_PER_FILE = 64


@contextlib.contextmanager
def atomic_path(final: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``final``; on success rename it to ``final``.

    Works for files and directories (a zarr store). An existing ``final`` is replaced; on
    error the temporary is removed and ``final`` is left untouched. Temporaries that an
    earlier, killed writer of the same ``final`` left behind are removed first.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for pattern in (f".{final.name}.tmp-*", f".{final.name}.old-*"):
        for leftover in final.parent.glob(pattern):
            _remove(leftover)
    tmp = final.with_name(f".{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        try:
            yield tmp
        except (OSError, RuntimeError) as error:  # a full disk, a read-only folder...
            named = as_os_error(error, final)
            if named is error:
                raise
            raise named from error
        if final.is_dir() and not final.is_symlink():
            trash = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            final.rename(trash)
            tmp.rename(final)
            shutil.rmtree(trash)
        else:
            os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        elif tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def staged_outputs(folder: str | Path) -> Iterator[Path]:
    """A staging folder inside ``folder``: when the block succeeds, every file written into
    it is renamed into ``folder``, so outputs written together appear together (the only
    window is the renames themselves). On error, and for leftovers of a killed writer, the
    staging folder is removed."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for leftover in folder.glob(".outputs-*"):
        _remove(leftover)
    staging = folder / f".outputs-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        for path in staging.iterdir():
            os.replace(path, folder / path.name)
    finally:
        _remove(staging)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


#: Rows per parquet row group: the writer buffers a whole group, and one group of NTU60's
#: 56,880 rows held 6-9 MB more at the peak of the index and gather steps (``bench/scale.py``).
PARQUET_ROW_GROUP = 8192


def write_parquet(table: pd.DataFrame, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False, row_group_size=PARQUET_ROW_GROUP)


@dataclass(frozen=True)
class PlainArray:
    """A sample array in the plain layout, known without zarr: where each shard file goes
    and the Blosc codec of its samples. The skeleton stage writes through this alone, so its
    process never loads zarr (0.12 s of CPU at start-up; docs/performance.md); the other stages
    write through :meth:`open`."""

    folder: Path
    shape: tuple[int, ...]
    dtype: np.dtype
    samples_per_file: int
    blosc: numcodecs.Blosc

    @property
    def shards(self) -> tuple[int, ...]:
        return (self.samples_per_file, *self.shape[1:])

    def shard_file(self, shard: int) -> Path:
        """zarr's default chunk key (``c/<shard>/0/...``) under the array's folder."""
        return self.folder.joinpath("c", str(shard), *["0"] * (len(self.shape) - 1))

    def open(self) -> zarr.Array:
        """The array through zarr, for writing and reading it with zarr's API."""
        import zarr

        return zarr.open_array(store=str(self.folder.parent), path=self.folder.name, mode="r+")

    @classmethod
    def of(cls, array: zarr.Array) -> PlainArray:
        """The plain twin of a zarr array for which :func:`plain_layout` holds."""
        return cls(
            folder=Path(array.store.root) / array.path,
            shape=tuple(array.shape),
            dtype=np.dtype(array.dtype),
            samples_per_file=array.shards[0],
            blosc=shard_blosc(array),
        )


def create_sample_array(
    store: str | Path,
    name: str,
    shape: tuple[int, ...],
    dtype: str | np.dtype,
    *,
    samples_per_file: int = SAMPLES_PER_FILE,
    compression_level: int = 3,
    attributes: dict | None = None,
    block_per_sample: bool = False,
) -> PlainArray:
    """Write the zarr v3 metadata of a sample array ``name`` in the group at ``store`` (the
    group is created if needed; an array of that name is replaced): one inner chunk per
    sample, ``samples_per_file`` samples per shard file, Blosc zstd with byte shuffle, the
    shard index (with its CRC32C) at the end, fill value 0. The files are the ones zarr's
    ``create_array`` writes for these settings, byte for byte (tested).

    ``block_per_sample``: compress each sample as one Blosc block instead of Blosc's default
    blocks (a few tens of KiB). zstd then sees the whole sample, and the repeats that
    pre-normalisation's loop padding makes: a real NTU sample at level 3 compresses about 10 %
    faster into about 18 % fewer bytes and decompresses faster (``bench/parse_skeletons.py``).
    Readers need nothing new: each frame's Blosc header holds its block size.
    """
    dtype = np.dtype(dtype)
    folder = Path(store) / name
    group = Path(store) / "zarr.json"
    group.parent.mkdir(parents=True, exist_ok=True)
    if not group.is_file():
        _write_json(group, {"attributes": {}, "zarr_format": 3, "node_type": "group"})
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    blocksize = int(np.prod(shape[1:])) * dtype.itemsize if block_per_sample else 0
    blosc = {"typesize": dtype.itemsize, "cname": "zstd", "clevel": compression_level,
             "shuffle": "shuffle", "blocksize": blocksize}  # fmt: skip
    little = {"name": "bytes", "configuration": {"endian": "little"}}
    sharding = {
        "chunk_shape": [1, *shape[1:]],
        "codecs": [little if dtype.itemsize > 1 else {"name": "bytes"},
                   {"name": "blosc", "configuration": blosc}],
        "index_codecs": [little, {"name": "crc32c"}],
        "index_location": "end",
    }  # fmt: skip
    _write_json(
        folder / "zarr.json",
        {
            "shape": list(shape),
            "data_type": dtype.name,
            "chunk_grid": {
                "name": "regular",
                "configuration": {"chunk_shape": [samples_per_file, *shape[1:]]},
            },
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
            "fill_value": dtype.type(0).item(),
            "codecs": [{"name": "sharding_indexed", "configuration": sharding}],
            "attributes": attributes or {},
            "zarr_format": 3,
            "node_type": "array",
            "storage_transformers": [],
        },
    )
    return PlainArray(
        folder=folder,
        shape=tuple(shape),
        dtype=dtype,
        samples_per_file=samples_per_file,
        blosc=numcodecs.Blosc(
            "zstd", compression_level, numcodecs.Blosc.SHUFFLE, blocksize, typesize=dtype.itemsize
        ),
    )


def _write_json(path: Path, content: dict) -> None:
    path.write_text(json.dumps(content, indent=2))


def plain_layout(array: zarr.Array) -> bool:
    """Whether ``array`` has :func:`create_sample_array`'s layout in a local store: one
    sample per inner chunk, whole samples per shard file, Blosc, the index (with its CRC32C)
    at the end of each file. Such files are read and written here directly."""
    return sharded_blosc(array, (1, *array.shape[1:]))


def sharded_blosc(array: zarr.Array, inner_chunk: tuple[int, ...]) -> bool:
    """Whether ``array`` is in a local store, sharded along its first axis only (every shard
    file holds whole rows), with inner chunks of ``inner_chunk``, each one Blosc frame, and the
    index with its CRC32C at the end of each file: the layouts this package reads and writes
    without zarr (:func:`plain_layout`, ``mmnet.roi.store``'s columns)."""
    import zarr
    from zarr.codecs import BloscCodec, BytesCodec, Crc32cCodec, ShardingCodec
    from zarr.codecs.sharding import ShardingCodecIndexLocation

    (sharding, *rest) = array.metadata.codecs
    return (
        not rest
        and isinstance(sharding, ShardingCodec)
        and isinstance(array.store, zarr.storage.LocalStore)
        and tuple(sharding.chunk_shape) == tuple(inner_chunk)
        and tuple(array.shards[1:]) == tuple(array.shape[1:])
        and sharding.index_location == ShardingCodecIndexLocation.end
        and [type(c) for c in sharding.codecs] == [BytesCodec, BloscCodec]
        and [type(c) for c in sharding.index_codecs] == [BytesCodec, Crc32cCodec]
    )


def shard_file(array: zarr.Array, shard: int) -> Path:
    """The file of shard ``shard`` (samples ``shard * samples_per_file`` onwards)."""
    key = array.metadata.encode_chunk_key((shard,) + (0,) * (len(array.shape) - 1))
    return Path(array.store.root) / array.path / key


def write_samples(
    array: zarr.Array | PlainArray,
    start: int,
    data: np.ndarray,
    nonzero: np.ndarray | None = None,
) -> None:
    """``array[start : start + len(data)] = data``, fast when ``data`` fills whole shard files.

    zarr's asynchronous write path costs about as much again as compressing (0.6 ms more per
    NTU sample, ``bench/parse_skeletons.py``), so for :func:`plain_layout` arrays whole shard
    files are written here in zarr's sharding format: each sample that is not all zeros (the
    fill value, which zarr does not store) as one frame of the array's own Blosc codec, then
    the ``(offset, length)`` index of every sample and its CRC32C. The files are the bytes
    zarr writes (tested). Anything else (partial shard files, other layouts) goes to zarr; a
    :class:`PlainArray` takes whole shard files only. ``nonzero``: which samples of ``data``
    are not all zeros, where the caller already knows (saves a pass over every sample).
    """
    stop = start + len(data)
    if not isinstance(array, PlainArray):
        if not (whole_shard_files(array, start, stop) and plain_layout(array)):
            array[start:stop] = data
            return
        array = PlainArray.of(array)
    if not whole_shard_files(array, start, stop):
        raise ValueError(f"rows {start}:{stop} are not whole shard files of {array.folder}")
    per_file = array.samples_per_file
    dtype = array.dtype.newbyteorder("<")
    if nonzero is None:
        nonzero = data.reshape(len(data), -1).any(axis=1)
    for first in range(start, stop, per_file):
        samples = data[first - start : first - start + per_file]
        index = np.full((per_file, 2), EMPTY_CHUNK, dtype="<u8")
        frames, offset = [], 0
        for i, sample in enumerate(samples):
            if not nonzero[first - start + i]:
                continue  # the fill value: zarr leaves the chunk out
            frame = array.blosc.encode(np.ascontiguousarray(sample, dtype=dtype))
            index[i] = offset, len(frame)
            frames.append(frame)
            offset += len(frame)
        write_shard_file(array.shard_file(first // per_file), frames, index)


def whole_shard_files(array: zarr.Array | PlainArray, start: int, stop: int) -> bool:
    """Whether rows ``start:stop`` of sharded ``array`` cover whole shard files (the last
    file may be short), so they can be written file by file without reading any back."""
    per_file = array.shards[0] if array.shards else 0
    return bool(
        per_file
        and start % per_file == 0
        and (stop % per_file == 0 or stop == array.shape[0])
        and stop <= array.shape[0]
    )


def shard_blosc(array: zarr.Array) -> numcodecs.Blosc:
    """The numcodecs twin of the Blosc codec inside ``array``'s sharding codec (its chunks'
    bytes are exactly what zarr's codec writes)."""
    blosc = array.metadata.codecs[0].codecs[1]
    return numcodecs.Blosc(
        cname=blosc.cname.value,
        clevel=blosc.clevel,
        shuffle={"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[blosc.shuffle.value],
        blocksize=blosc.blocksize,
        typesize=blosc.typesize,
    )


def write_shard_file(path: Path, chunks: list[bytes], index: np.ndarray) -> None:
    """One shard file in zarr's sharding format (index at the end): the chunks' bytes, then
    ``index`` (``(offset, length)`` per chunk, :data:`EMPTY_CHUNK` for the absent ones) and
    its CRC32C. Without any chunk there is no file, as zarr leaves it out."""
    if not chunks:
        path.unlink(missing_ok=True)
        return
    index_bytes = index.astype("<u8").tobytes()
    checksum = np.array([google_crc32c.value(index_bytes)], dtype="<u4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.write(b"".join([*chunks, index_bytes, checksum]))


class SampleReader:
    """Reads one sample of an array written by :func:`create_sample_array`, fast.

    ``reader[row]`` equals ``array[row]``. zarr 3 spends about 1 ms of its asynchronous
    machinery on every read, ten times what decompressing a sample takes, and a training
    loader reads one sample at a time. The layout is zarr's documented sharding format: a
    shard file holds one Blosc frame per sample and ends with an index of (offset, length)
    pairs. So this reads the index of each shard file once, then only the sample's bytes.
    Arrays in any other layout (another store, other codecs) are read through zarr.
    """

    def __init__(self, array: zarr.Array):
        self.array = array
        self.shape = array.shape[1:]
        self.dtype = np.dtype(array.dtype).newbyteorder("<")
        self._per_file = array.shards[0] if array.shards else 0
        self._indexes: dict[int, np.ndarray] = {}
        self._direct = self._per_file > 0 and plain_layout(self.array)
        self._blosc = numcodecs.Blosc() if self._direct else None

    def _file(self, shard: int) -> Path:
        return shard_file(self.array, shard)

    def _index(self, shard: int) -> np.ndarray | None:
        """``(samples_per_file, 2)`` offsets and lengths; None for a shard never written."""
        if shard not in self._indexes:
            path = self._file(shard)
            if not path.is_file():
                return None
            with path.open("rb") as f:
                f.seek(-(16 * self._per_file + 4), os.SEEK_END)  # + the index's CRC32C
                index = np.frombuffer(f.read(16 * self._per_file), dtype="<u8")
            self._indexes[shard] = index.reshape(self._per_file, 2)
        return self._indexes[shard]

    def __getitem__(self, row: int) -> np.ndarray:
        if not self._direct:
            return self.array[row]
        if not 0 <= row < self.array.shape[0]:
            raise IndexError(f"row {row} outside 0..{self.array.shape[0] - 1}")
        shard, inner = divmod(row, self._per_file)
        index = self._index(shard)
        offset, length = (EMPTY_CHUNK, EMPTY_CHUNK) if index is None else index[inner]
        if offset == EMPTY_CHUNK and length == EMPTY_CHUNK:  # never written: the fill value
            return np.full(self.shape, self.array.metadata.fill_value, dtype=self.dtype)
        with self._file(shard).open("rb") as f:
            f.seek(int(offset))
            frame = f.read(int(length))
        out = np.empty(self.shape, dtype=self.dtype)
        self._blosc.decode(frame, out=out)
        return out

    def __getstate__(self) -> dict:  # DataLoader workers re-read the (small) indexes
        return {**self.__dict__, "_indexes": {}}


#: Index entry of an inner chunk that was never written (zarr's sharding format).
EMPTY_CHUNK = 2**64 - 1


def gather_stores(parts: list[str | Path], out: str | Path, array: str | list[str]) -> None:
    """Merge the shard files of ``array`` (one name or several) from ``parts`` into ``out``.

    The parts are stores of identical metadata whose chunk files are disjoint. Files are
    hard-linked (no copy; falls back to copying across filesystems) into a temporary store
    that is renamed to ``out`` at the end.
    """
    if not parts:
        raise ValueError("nothing to gather")
    with atomic_path(out) as tmp:
        first = Path(parts[0])
        shutil.copytree(first, tmp, ignore=shutil.ignore_patterns("c"))  # metadata only
        arrays = [array] if isinstance(array, str) else array
        for part, name in ((p, a) for p in parts for a in arrays):
            chunks = Path(part) / name / "c"
            if not chunks.is_dir():
                continue  # a part whose rows were all empty (zeros are the fill value)
            for source in chunks.rglob("*"):
                if source.is_dir():
                    continue
                target = tmp / name / "c" / source.relative_to(chunks)
                if target.exists():
                    raise ValueError(f"{source} overlaps another part's rows")
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.link(source, target)
                except OSError:
                    shutil.copy2(source, target)


def typed_table(records: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    """A stage table: ``row`` and counts as integers (0 where not measured), text as strings."""
    table = pd.DataFrame.from_records(records, columns=list(columns))
    for column in columns:
        if column in ("sample",) or column.endswith(("_status", "_reason")):
            table[column] = table[column].fillna("").astype("string")
        else:
            table[column] = table[column].fillna(0).astype("int64" if column == "row" else "int32")
    return table


def gather_shards(
    samples: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_table: str | Path,
    arrays: list[str],
    check: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Gather a sharded stage: link the shard stores' ``arrays`` into ``out_store`` and
    concatenate the shard tables (sorted by ``row``) into ``out_table``.

    Every row of ``samples`` must be in exactly one shard table. ``check(table)`` runs
    before anything is written; an exception from it leaves both outputs unwritten.
    """
    n_rows = len(pd.read_parquet(samples, columns=["sample"]))
    result = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
    result = result.sort_values("row", ignore_index=True)
    if not np.array_equal(result["row"].to_numpy(), np.arange(n_rows)):
        raise ValueError(f"shard tables {list(tables)} do not cover the {n_rows} samples once")
    if check is not None:
        check(result)
    gather_stores(list(stores), out_store, arrays)
    write_parquet(result, out_table)
    return result
