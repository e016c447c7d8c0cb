"""Whole stages in one process, for the ``mmnet`` command (``mmnet skeletons``, ``mmnet rgb``).

The same stage functions the rules call, run shard by shard in a process pool
(:func:`~mmnet.stages.shards.run_shards`), writing the workflow's ``results/<dataset>/``
files. Snakemake never uses this module: its rules run the shards as separate jobs.
"""

from __future__ import annotations

import functools
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

from mmnet.config import Config, raw_root
from mmnet.stages.demo import demo_dataset
from mmnet.stages.index import index_samples
from mmnet.stages.shards import Shard, ShardOutput, remove_parts, run_shards
from mmnet.stages.skeleton import build_skeletons


def skeletons(config: Config, dataset: str, out_dir: str | Path, *, workers: int = 1) -> None:
    """The skeleton side of ``dataset`` into ``out_dir`` (``results/<dataset>``): the demo's
    raw files when they are missing, then index_samples, parse_skeletons (``workers``
    shards) and gather_skeletons."""
    entry, out_dir = config.dataset(dataset), Path(out_dir)
    if entry.generated and not entry.raw_paths(check=False).skeletons[0].is_dir():
        demo_dataset(config, dataset, raw_root(dataset))
    index = out_dir / "index.parquet"
    index_samples(config, dataset, index)
    build_skeletons(
        entry.kind, config.skeleton, index, out_dir / "skeleton.zarr", out_dir / "samples.parquet",
        workers=workers, protocols=list(entry.protocols), min_kept=config.floors.min_kept,
    )  # fmt: skip


def rgb(config: Config, dataset: str, out_dir: str | Path, *, workers: int = 1) -> None:
    """The RGB front end of ``dataset`` in ``out_dir`` (``results/<dataset>``), as the rules
    run it: extract_frames (only to keep the OpenPose binary's frames,
    :meth:`Config.runs_extract_frames`), extract_pose2d, gather_pose2d, build_roi,
    gather_roi, each sharded stage in ``workers`` shards. Reads ``samples.parquet``; writes
    ``pose2d.zarr``/``.parquet``, ``roi.zarr``/``.parquet`` (kept frames: ``frames/<shard>``).
    """
    from mmnet.stages.frames import extract_frames  # the RGB stages bring the video decoder
    from mmnet.stages.pose2d import gather_pose2d
    from mmnet.stages.roi import build_roi, gather_roi

    out_dir = Path(out_dir)
    samples, parts = out_dir / "samples.parquet", out_dir / ".rgb.parts"
    keep_frames = config.runs_extract_frames(dataset)
    frame_dir = {s: out_dir / "frames" / s.name for s in Shard.all(workers)}
    pose_store, pose_table = out_dir / "pose2d.zarr", out_dir / "pose2d.parquet"
    try:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            if keep_frames:
                jobs = [pool.submit(extract_frames, config, dataset, s, samples, frame_dir[s])
                        for s in frame_dir]  # fmt: skip
                for job in jobs:
                    job.result()
            pose = run_shards(
                functools.partial(_pose_shard, config, dataset, samples, keep_frames, frame_dir),
                "pose2d", parts, workers, pool,
            )  # fmt: skip
            gather_pose2d(config, dataset, samples, [o.store for o in pose],
                          [o.table for o in pose], pose_store, pose_table)  # fmt: skip
            roi = run_shards(
                functools.partial(build_roi, config, dataset, samples=samples,
                                  pose_store=pose_store, pose_table=pose_table),
                "roi", parts, workers, pool,
            )  # fmt: skip
        gather_roi(config, dataset, samples, [o.store for o in roi], [o.table for o in roi],
                   out_dir / "roi.zarr", out_dir / "roi.parquet")  # fmt: skip
    finally:
        remove_parts(parts)


def _pose_shard(
    config: Config, dataset: str, samples: Path, keep_frames: bool, frame_dir: dict,
    shard: Shard, out: ShardOutput,
) -> pd.DataFrame:  # fmt: skip
    from mmnet.stages.pose2d import extract_pose2d

    frames = frame_dir[shard] if keep_frames else None
    return extract_pose2d(config, dataset, shard, samples, out, frames)
