"""Sharded stages: how a shard is named, which rows it owns, and running all shards in-process.

A sharded stage (parse_skeletons, extract_frames, extract_pose2d, build_roi) splits the rows
of ``samples.parquet`` over ``count`` jobs. Job ``index`` takes every ``count``-th block of
:data:`~mmnet.store.SAMPLES_PER_FILE` rows, so each shard file of a store is written by
exactly one job, and writes its own store and table; a gather step links the stores into
the stage's output and concatenates the tables. Snakemake runs the jobs (scatter item
``"2-of-8"``); :func:`run_shards` runs them in a process pool for the ``mmnet`` command.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from mmnet.store import SAMPLES_PER_FILE


@dataclass(frozen=True)
class Shard:
    """Job ``index`` (0-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard {self.index + 1} of {self.count} does not exist")

    @classmethod
    def parse(cls, name: str) -> Shard:
        """``"3-of-8"`` (Snakemake's scatter item, 1-based) -> ``Shard(2, 8)``."""
        number, separator, count = name.partition("-of-")
        try:
            if not separator:
                raise ValueError
            return cls(int(number) - 1, int(count))
        except ValueError:
            raise ValueError(f"bad shard {name!r}: expected I-of-N, e.g. 1-of-8") from None

    @classmethod
    def all(cls, count: int) -> list[Shard]:
        return [cls(i, count) for i in range(count)]

    @property
    def name(self) -> str:
        return f"{self.index + 1}-of-{self.count}"

    def blocks(self, n_rows: int, samples_per_file: int = SAMPLES_PER_FILE) -> list[range]:
        """This shard's row ranges: every ``count``-th block of ``samples_per_file`` rows."""
        starts = range(self.index * samples_per_file, n_rows, self.count * samples_per_file)
        return [range(s, min(s + samples_per_file, n_rows)) for s in starts]

    def rows(self, n_rows: int, samples_per_file: int = SAMPLES_PER_FILE) -> list[int]:
        return [row for block in self.blocks(n_rows, samples_per_file) for row in block]


@dataclass(frozen=True)
class ShardOutput:
    """What one shard job writes: its store and its table."""

    store: Path
    table: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "store", Path(self.store))
        object.__setattr__(self, "table", Path(self.table))

    @classmethod
    def in_folder(cls, folder: Path, stage: str, shard: Shard) -> ShardOutput:
        """``<folder>/<stage>_<shard>.zarr`` and ``.parquet``, the workflow's naming."""
        stem = folder / f"{stage}_{shard.name}"
        return cls(stem.with_suffix(".zarr"), stem.with_suffix(".parquet"))


def run_shards(
    job: Callable[..., object],
    stage: str,
    parts: Path,
    workers: int,
    pool: ProcessPoolExecutor | None = None,
) -> list[ShardOutput]:
    """Run ``job(shard=..., out=...)`` for ``workers`` shards (in ``pool``, else in this
    process when ``workers`` is 1) with outputs in ``parts``; returns the outputs in shard
    order. ``job`` must be picklable (a module-level function or a ``functools.partial`` of
    one).
    """
    shards = Shard.all(workers)
    outputs = [ShardOutput.in_folder(parts, stage, shard) for shard in shards]
    parts.mkdir(parents=True, exist_ok=True)
    if pool is None and workers == 1:
        job(shard=shards[0], out=outputs[0])
        return outputs
    owned = pool is None
    pool = pool or ProcessPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(job, shard=s, out=o) for s, o in zip(shards, outputs, strict=True)]
        for future in futures:
            future.result()
    finally:
        if owned:
            pool.shutdown()
    return outputs


def remove_parts(parts: Path) -> None:
    """Delete an in-process run's shard outputs (after their gather, or after a failure)."""
    shutil.rmtree(parts, ignore_errors=True)
