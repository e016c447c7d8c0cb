"""Stages parse_skeletons and gather_skeletons: raw files -> ``skeleton.zarr`` (+ the final
``samples.parquet``).

``parse_shard`` reads, selects bodies, pre-normalises and writes one shard's rows into its
own store (blocks of whole shard files, so memory stays at one block); ``gather_skeletons``
links the shard stores into ``skeleton.zarr`` and adds what parsing found (frames, bodies,
rejections) to the index, giving ``samples.parquet``. ``build_skeletons`` runs both in
one process pool (``mmnet skeletons``, :mod:`mmnet.stages.local`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import mmnet
from mmnet.config import Config, SkeletonOptions
from mmnet.datasets.base import Dataset, UnusableSample
from mmnet.logs import progress
from mmnet.skeleton.transforms import fit_frames, pre_normalize, select_bodies, store_layout
from mmnet.stages.floors import check_kept, check_protocols
from mmnet.stages.shards import Shard, ShardOutput, remove_parts, run_shards
from mmnet.status import STATUS_OK, STATUS_REJECTED
from mmnet.store import (
    SAMPLES_PER_FILE,
    atomic_path,
    create_sample_array,
    gather_stores,
    write_parquet,
    write_samples,
)

log = logging.getLogger(__name__)

JOINT_ARRAY = "joint"
PARSE_COLUMNS = ("n_frames", "n_bodies", "status", "reason")


@dataclass(frozen=True)
class ShardReport:
    rows: int
    parsed: int
    rejected: int
    seconds: float


def parse_skeletons(
    config: Config, dataset: str, shard: Shard, index: str | Path, out: ShardOutput
) -> ShardReport:
    """Rule parse_skeletons: shard ``shard`` of ``dataset``'s index table (``mmnet
    parse-skeletons``); see :func:`parse_shard`."""
    return parse_shard(config.dataset(dataset).kind, config.skeleton, shard, index, out)


def parse_shard(
    dataset: Dataset,
    options: SkeletonOptions,
    shard: Shard,
    index: str | Path,
    out: ShardOutput,
    *,
    samples_per_file: int = SAMPLES_PER_FILE,
) -> ShardReport:
    """Read, select bodies, pre-normalise and store the rows of ``shard``.

    Writes a store with the full ``(N, 3, T, V, M)`` shape holding only this shard's rows,
    and a table of ``row`` + :data:`PARSE_COLUMNS` for them. With ``on_error="reject"`` a
    malformed file becomes a ``rejected`` row; with ``"fail"`` it raises, naming file and line.
    """
    start = time.perf_counter()
    table = pd.read_parquet(index)
    shape = store_shape(dataset, len(table))
    blocks = shard.blocks(len(table), samples_per_file)
    records: list[dict] = []
    with atomic_path(out.store) as tmp:
        array = create_sample_array(  # written without zarr: this process need not load it
            tmp,
            JOINT_ARRAY,
            shape,
            "float32",
            samples_per_file=samples_per_file,
            compression_level=options.compression_level,
            attributes=store_attributes(dataset),
            block_per_sample=True,
        )
        n_rows = sum(len(b) for b in blocks)
        bar = progress(total=n_rows, desc=f"skeletons {shard.name}", unit="sample")
        # One block's buffers for all blocks: fresh 11 MB arrays each time cost page faults.
        persons_first = np.empty((samples_per_file, *shape[4:], *shape[2:4], 3), np.float32)
        stored = np.empty((samples_per_file, *shape[1:]), np.float32)
        for rows in blocks:
            block = persons_first[: len(rows)]  # (N, M, T, V, C)
            # plain dicts, one block at a time: a pandas row costs 0.15 ms to build, and the
            # whole table as dicts would grow the shard's memory with the dataset
            block_rows = table.iloc[rows.start : rows.stop].to_dict("records")
            for i, row in enumerate(rows):
                record = _read_into(dataset, block_rows[i], block[i], options.on_error)
                if record is not None:
                    records.append({"row": row, **record})
            pre_normalize(block)  # in place
            samples, nonzero = store_layout(block, stored[: len(rows)])
            if nonzero.any():
                write_samples(array, rows.start, samples, nonzero)
            bar.update(len(rows))
        bar.close()
    result = pd.DataFrame.from_records(records, columns=["row", *PARSE_COLUMNS])
    write_parquet(
        result.astype({"row": "int64", "n_frames": "int32", "n_bodies": "int32"}), out.table
    )
    report = ShardReport(
        rows=n_rows,
        parsed=int((result["status"] == STATUS_OK).sum()),
        rejected=int((result["status"] == STATUS_REJECTED).sum()),
        seconds=time.perf_counter() - start,
    )
    log.info(
        "shard %s: %d rows, %d parsed, %d rejected in %.1f s",
        shard.name, report.rows, report.parsed, report.rejected, report.seconds,
    )  # fmt: skip
    return report


def _read_into(dataset: Dataset, row: dict, out: np.ndarray, on_error: str) -> dict | None:
    """Read one sample into ``out`` ``(M, T, V, C)`` (all zeros unless it is kept); the parse
    columns, or None if skipped."""
    record = _read_sample(dataset, row, out, on_error)
    if record is None or record["status"] != STATUS_OK:
        out.fill(0)
    return record


def _read_sample(dataset: Dataset, row: dict, out: np.ndarray, on_error: str) -> dict | None:
    """:func:`_read_into`'s work; ``out`` is written only for a kept sample."""
    if row["status"] != STATUS_OK:
        return None
    try:
        raw = dataset.read_skeleton(row)
    except UnusableSample as err:  # the files are fine, this sample is not: never fatal
        log.warning("rejected %s: %s", row["sample"], err)
        return {"n_frames": -1, "n_bodies": -1, "status": STATUS_REJECTED, "reason": str(err)}
    except ValueError as err:  # SkeletonFormatError and friends: they name file and line
        if on_error == "fail":
            raise
        log.warning("rejected %s: %s", row["sample"], err)
        return {"n_frames": -1, "n_bodies": -1, "status": STATUS_REJECTED, "reason": str(err)}
    record = {
        "n_frames": raw.n_frames,
        "n_bodies": raw.max_bodies,
        "status": STATUS_OK,
        "reason": row["reason"],  # an ok row may carry a warning from the index (PKU overlaps)
    }
    if not raw.joints.any():
        record.update(status=STATUS_REJECTED, reason="no body in any frame")
        return record
    fit_frames(select_bodies(raw.joints, dataset.max_bodies), dataset.max_frames, out)
    return record


def store_shape(dataset: Dataset, n_samples: int) -> tuple[int, int, int, int, int]:
    """``(N, C, T, V, M)`` of the joint array."""
    return (n_samples, 3, dataset.max_frames, dataset.layout.num_joints, dataset.max_bodies)


def store_attributes(dataset: Dataset) -> dict:
    return {
        "axes": ["sample", "coordinate", "frame", "joint", "person"],
        "dataset_kind": dataset.kind,
        "layout": dataset.layout_name,
        "joints": list(dataset.layout.joints),
        "preprocessing": "energy-based body selection + pre_normalization (spec 2.2, 2.4)",
        "mmnet_version": mmnet.__version__,
    }


def gather_skeletons(
    config: Config,
    dataset: str,
    index: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_samples: str | Path,
) -> pd.DataFrame:
    """Rule gather_skeletons (``mmnet gather-skeletons``): see :func:`merge_shards`."""
    protocols = list(config.dataset(dataset).protocols)
    return merge_shards(index, stores, tables, out_store, out_samples, protocols=protocols,
                        min_kept=config.floors.min_kept)  # fmt: skip


def merge_shards(
    index: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_samples: str | Path,
    *,
    protocols: Sequence[str] = (),
    min_kept: float = 0.5,
) -> pd.DataFrame:
    """Merge shard stores into ``out_store`` and write ``samples.parquet``; fail (writing
    nothing) when parsing kept under ``min_kept`` of the samples it was given or left a
    protocol without training or test samples (:mod:`mmnet.stages.floors`)."""
    samples = pd.read_parquet(index)
    parsed = pd.concat([pd.read_parquet(t) for t in tables], ignore_index=True)
    if parsed["row"].duplicated().any():
        raise ValueError("shard tables overlap: a row was parsed twice")
    rows = parsed["row"].to_numpy()
    expected = np.flatnonzero(samples["status"] == STATUS_OK)
    missing = np.setdiff1d(expected, rows)
    if len(missing):
        raise ValueError(
            f"{len(missing)} usable rows were not parsed by any shard (e.g. row {missing[0]})"
        )
    # Each parse column is built whole and assigned once: a row-wise ``.loc`` assignment
    # held copies of the string columns at the gather's peak (bench/scale.py).
    has_parse = np.zeros(len(samples), dtype=bool)
    has_parse[rows] = True
    for column in PARSE_COLUMNS:
        if column in ("n_frames", "n_bodies"):  # -1: not parsed
            values = np.full(len(samples), -1, dtype=np.int32)
            values[rows] = parsed[column].to_numpy()
            samples[column] = values
        else:
            kept = samples[column]  # the index's value where no shard parsed the row
            aligned = parsed[column].set_axis(rows).reindex(samples.index).astype(kept.dtype)
            samples[column] = kept.where(~has_parse, aligned)
    log.info("samples: %s", samples["status"].value_counts().to_dict())
    given = samples[["status", "reason"]].iloc[expected]
    check_kept("skeletons", given, "status", "reason", [STATUS_OK], min_kept)
    check_protocols("skeletons", samples, protocols)
    gather_stores(list(stores), out_store, JOINT_ARRAY)
    write_parquet(samples, out_samples)
    return samples


def build_skeletons(
    dataset: Dataset,
    options: SkeletonOptions,
    index: str | Path,
    out_store: str | Path,
    out_samples: str | Path,
    *,
    workers: int = 1,
    protocols: Sequence[str] = (),
    min_kept: float = 0.5,
) -> pd.DataFrame:
    """The whole stage in one call: ``workers`` shards in a process pool, then gather."""
    parts = Path(out_store).parent / f".{Path(out_store).name}.parts"
    try:
        job = functools.partial(parse_shard, dataset, options, index=index)
        outputs = run_shards(job, "skeleton", parts, workers)
        return merge_shards(
            index, [o.store for o in outputs], [o.table for o in outputs], out_store,
            out_samples, protocols=protocols, min_kept=min_kept,
        )  # fmt: skip
    finally:
        remove_parts(parts)
