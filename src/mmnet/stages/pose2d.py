"""Stages extract_pose2d and gather_pose2d: the selected frames of each sample -> ``pose2d.zarr``.

Per shard of ``samples.parquet`` rows: open each usable sample's frames
(:func:`mmnet.frame_source.open_frames`: its video, or its frame folder; a missing or
unreadable video or folder and frame-count mismatches are recorded, not fatal), ask the
backend for the people of the sample's selected frames (:mod:`mmnet.frames`), then, where a
column's frame has nobody, for the next frame, up to ``fallback`` frames on (the original's
fallback search), in batches so that an external program (``openpose.bin``) starts once per
batch. A frame file that cannot be read counts as a frame without data (the fallback takes
the next) and is named in the sample's reason. The stage never looks at frames nobody asked
for, and logs how many frames it ran on against how many the videos have.

A backend that reads image files (the OpenPose binary) gets them decoded, one block of
samples (one store file, 64 samples) at a time, into a scratch folder that is emptied after
the block: the stage's disk use peaks at one block's frames, whatever the dataset's size.
Only with ``frames.keep`` does it read the kept extract_frames output instead.

:func:`gather_pose2d` links the shard stores into ``pose2d.zarr`` and writes
``pose2d.parquet`` (one row per sample: status, reason, counts).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import mmnet
from mmnet.config import Config
from mmnet.datasets.base import Dataset
from mmnet.frame_source import (
    FramesError,
    FrameSource,
    open_frames,
    unreadable_note,
    write_frame_images,
)
from mmnet.frames import FrameConfig, FrameSelection, fallback_chain
from mmnet.logs import progress
from mmnet.pose2d import make_backend
from mmnet.pose2d.base import BODY_25, N_KEYPOINTS, FrameRequest, PoseBackend
from mmnet.stages.floors import check_kept
from mmnet.stages.frames import FRAMES_TABLE, IMAGES
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.status import STATUS_NO_PERSON, STATUS_OK, STATUS_SKIPPED
from mmnet.store import (
    SAMPLES_PER_FILE,
    atomic_path,
    create_sample_array,
    gather_shards,
    typed_table,
    write_parquet,
)
from mmnet.video import scaled_size

log = logging.getLogger(__name__)

POSE_ARRAYS = ["keypoints", "frame", "people"]
#: ``people`` value of an entry the backend had no data for (e.g. a missing JSON file).
NO_DATA = -1
POSE_COLUMNS = (
    "row", "sample", "pose_status", "pose_reason", "video_frames", "video_width",
    "video_height", "sample_frames", "pose_frames", "frames_with_people",
)  # fmt: skip


@dataclass
class _Sample:
    """One usable sample while its poses are being estimated."""

    row: int
    values: dict
    selection: FrameSelection
    source: FrameSource
    image_scale: float = 1.0
    results: dict[int, np.ndarray | None] = field(default_factory=dict)

    def has_people(self, frame: int) -> bool:
        found = self.results.get(frame)
        return found is not None and len(found) > 0

    def next_frames(self, fallback: int) -> list[int]:
        """Frames still to look at: the first unexamined frame of every column whose frames
        so far had nobody."""
        wanted = set()
        for slot in self.selection.slots:
            for frame in fallback_chain(int(slot), self.source.n_frames, fallback):
                if frame not in self.results:
                    wanted.add(frame)
                    break
                if self.has_people(frame):
                    break
        return sorted(wanted)


def extract_pose2d(
    config: Config,
    dataset: str,
    shard: Shard,
    samples: str | Path,
    out: ShardOutput,
    frames_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Rule extract_pose2d (``mmnet extract-pose2d``): shard ``shard`` of ``dataset`` with
    the dataset's pose backend; see :func:`estimate_shard`."""
    entry = config.dataset(dataset)
    backend = make_backend(
        entry.pose_backend,
        entry.kind,
        openpose_json=entry.openpose_json,
        options=config.pose2d,
        workdir=out.table.parent,
    )
    return estimate_shard(
        entry.kind, backend, config.frames, shard, samples, out, frames_dir=frames_dir,
        max_people=config.pose2d.max_people, compression_level=config.pose2d.compression_level,
    )  # fmt: skip


def estimate_shard(
    dataset: Dataset,
    backend: PoseBackend,
    config: FrameConfig,
    shard: Shard,
    samples: str | Path,
    out: ShardOutput,
    *,
    frames_dir: str | Path | None = None,
    max_people: int = 4,
    compression_level: int = 3,
    samples_per_file: int = SAMPLES_PER_FILE,
) -> pd.DataFrame:
    """2D poses of the selected frames of the rows of ``shard``.

    ``frames_dir``: the kept extract_frames output of the same shard, for a backend that
    reads image files; without it, such a backend gets each block's frames decoded into a
    scratch folder emptied after the block. Writes a store with the full
    :func:`store_shape` holding this shard's rows and a table of :data:`POSE_COLUMNS`.
    """
    table = pd.read_parquet(samples)
    frames_table = _frames_table(frames_dir) if backend.needs_images and frames_dir else None
    kept_images = Path(frames_dir) / IMAGES if frames_table is not None else None
    shape = store_shape(len(table), config, max_people)
    blocks = shard.blocks(len(table), samples_per_file)
    records: list[dict] = []
    out.table.parent.mkdir(parents=True, exist_ok=True)
    with (
        atomic_path(out.store) as tmp,
        tempfile.TemporaryDirectory(prefix=".pose2d-", dir=out.table.parent) as scratch,
    ):
        arrays = {
            name: create_sample_array(
                tmp, name, (shape[0], *dims), dtype,
                samples_per_file=samples_per_file, compression_level=compression_level,
            ).open()
            for name, dims, dtype in (
                ("keypoints", shape[1:], "float32"),
                ("frame", shape[1:2], "int32"),
                ("people", shape[1:2], "int16"),
            )
        }  # fmt: skip
        group_attributes(tmp, backend.name, config, max_people)
        n_rows = sum(len(b) for b in blocks)
        bar = progress(total=n_rows, desc=f"pose2d {shard.name}", unit="sample")
        for rows in blocks:
            jobs, block_records = _open_block(
                table, rows, dataset, config, frames_table, frames_dir
            )
            block_scratch = Path(scratch) / f"block{rows.start}"
            block_scratch.mkdir()
            try:
                _estimate(jobs, dataset, backend, config, kept_images, block_scratch)
                records += _write_block(arrays, rows, jobs, block_records, shape)
            finally:
                for job in jobs:
                    job.source.close()
                shutil.rmtree(block_scratch)
            bar.update(len(rows))
        bar.close()
    result = typed_table(records, POSE_COLUMNS)
    write_parquet(result, out.table)
    ran, total = int(result["pose_frames"].fillna(0).sum()), int(result["sample_frames"].sum())
    log.info(
        "shard %s (%s): pose ran on %d frames of the samples' %d (%.1f%%); %s",
        shard.name, backend.name, ran, total, 100.0 * ran / max(total, 1),
        result["pose_status"].value_counts().to_dict(),
    )  # fmt: skip
    return result


def store_shape(n_samples: int, config: FrameConfig, max_people: int) -> tuple[int, ...]:
    """``(N, F, P, 25, 3)`` of ``keypoints``: F = the most frames one sample can need."""
    return (n_samples, config.max_pose_frames, max_people, N_KEYPOINTS, 3)


def group_attributes(store: Path, backend: str, config: FrameConfig, max_people: int) -> None:
    import zarr

    zarr.open_group(store, mode="a").attrs.update(
        {
            "backend": backend,
            "keypoints": list(BODY_25),
            "axes": ["sample", "entry", "person", "keypoint", "x_y_confidence"],
            "units": "pixels of the full-resolution video frame",
            "max_people": max_people,
            "frames": {k: v for k, v in vars(config).items() if k != "keep"},
            "mmnet_version": mmnet.__version__,
        }
    )


def _frames_table(frames_dir: str | Path | None) -> dict[int, dict]:
    table = pd.read_parquet(Path(frames_dir) / FRAMES_TABLE)
    return {int(r["row"]): r for r in table.to_dict("records")}


def _open_block(
    table: pd.DataFrame,
    rows: range,
    dataset: Dataset,
    config: FrameConfig,
    frames_table: dict[int, dict] | None,
    frames_dir: str | Path | None,
) -> tuple[list[_Sample], dict[int, dict]]:
    """Open the frames of a block's usable samples; records for the others."""
    jobs: list[_Sample] = []
    records: dict[int, dict] = {}
    for row in rows:
        values = table.iloc[row].to_dict()
        record = {
            "row": row,
            "sample": values["sample"],
            "pose_status": STATUS_SKIPPED,
            "pose_reason": f"sample status is {values['status']}",
        }
        records[row] = record
        if values["status"] != STATUS_OK:
            continue
        if frames_table is not None:
            frames = frames_table.get(row)
            if frames is None:
                raise ValueError(f"{frames_dir}: {FRAMES_TABLE} has no row {row} (wrong shard?)")
            if frames["frames_status"] != STATUS_OK:
                status, reason = frames["frames_status"], frames["frames_reason"]
                record.update(pose_status=status, pose_reason=reason)
                continue
        try:
            source = open_frames(dataset, values)
        except FramesError as err:
            log.warning("%s: %s", values["sample"], err)
            record.update(pose_status=err.status, pose_reason=str(err))
            continue
        record.update(
            video_frames=source.total_frames, video_width=source.width,
            video_height=source.height, sample_frames=source.n_frames,
        )  # fmt: skip
        if frames_table is not None:
            scale = source.height / frames_table[row]["image_height"]
        else:  # frames decoded in memory are shrunk as extract_frames would
            scale = source.height / scaled_size(source.width, source.height, config.pose_height)[1]
        selection = config.select(source.n_frames, values["sample"], dataset.rgb.frame_rule)
        jobs.append(_Sample(row, values, selection, source, scale))
    return jobs, records


def _estimate(
    jobs: Sequence[_Sample],
    dataset: Dataset,
    backend: PoseBackend,
    config: FrameConfig,
    kept_images: Path | None,
    scratch: Path,
) -> None:
    """Run the backend on every job's frames: the selected ones, then fallbacks as needed
    (image backends read the selected ones from ``kept_images`` when given)."""
    wanted = {id(job): [int(f) for f in job.selection.frames()] for job in jobs}
    first_pass = True
    while any(wanted.values()):
        requests, owners = [], []
        for job in jobs:
            unreadable = job.source.check(wanted[id(job)])
            for frame in unreadable:
                job.results[frame] = None  # no data: the fallback looks further
            frames = [f for f in wanted[id(job)] if f not in unreadable]
            images, pixels = {}, {}
            if backend.needs_images:
                kept = kept_images if first_pass else None
                images = _images(job, frames, dataset, config, kept, scratch)
            if backend.needs_pixels:
                pixels = _pixels(job, frames, config)
            for frame in [f for f in frames if f in job.source.problems]:
                job.results[frame] = None  # read failed after all (the reason is kept)
            for frame in (f for f in frames if f not in job.source.problems):
                requests.append(
                    FrameRequest(
                        row=job.values, frame=frame, video_frame=job.source.pose_index(frame),
                        image=images.get(frame), pixels=pixels.get(frame), scale=job.image_scale,
                        video_size=(job.source.width, job.source.height),
                    )
                )  # fmt: skip
                owners.append(job)
        for job, request, people in zip(owners, requests, backend.estimate(requests), strict=True):
            job.results[request.frame] = people
        wanted = {id(job): job.next_frames(config.fallback) for job in jobs}
        first_pass = False


def _images(
    job: _Sample,
    frames: list[int],
    dataset: Dataset,
    config: FrameConfig,
    kept: Path | None,
    scratch: Path,
) -> dict[int, Path]:
    """Image files of ``frames``: in ``kept`` (the kept extract_frames output, selected frames
    only), else decoded now into ``scratch`` as extract_frames would write them."""
    stems = {f: dataset.frame_stem(job.values, job.source.pose_index(f)) for f in frames}
    folder = kept or scratch
    if kept is None:
        write_frame_images(
            job.source, stems, folder, max_height=config.pose_height,
            quality=config.jpeg_quality,
        )  # fmt: skip
    paths = {f: folder / f"{stem}.jpg" for f, stem in stems.items() if f not in job.source.problems}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"extracted frames missing: {missing[:3]}")
    return paths


def _pixels(job: _Sample, frames: list[int], config: FrameConfig) -> dict[int, np.ndarray]:
    """``frames`` decoded in memory at the size extract_frames would write them."""
    size = scaled_size(job.source.width, job.source.height, config.pose_height)
    return job.source.read(frames, size=size)


def _write_block(
    arrays: dict, rows: range, jobs: list[_Sample], records: dict[int, dict], shape: tuple
) -> list[dict]:
    n_entries, max_people = shape[1], shape[2]
    keypoints = np.zeros((len(rows), *shape[1:]), dtype=np.float32)
    frame = np.full((len(rows), n_entries), -1, dtype=np.int32)
    people = np.full((len(rows), n_entries), NO_DATA, dtype=np.int16)
    for job in jobs:
        i = job.row - rows.start
        entries = sorted(job.results.items())
        if len(entries) > n_entries:
            raise RuntimeError(f"{job.values['sample']}: {len(entries)} pose frames > {n_entries}")
        for j, (f, found) in enumerate(entries):
            frame[i, j] = f
            if found is not None:
                people[i, j] = len(found)
                keypoints[i, j, : min(len(found), max_people)] = found[:max_people]
        with_people = sum(job.has_people(f) for f, _ in entries)
        record = records[job.row]
        record.update(pose_frames=len(entries), frames_with_people=with_people)
        unreadable = unreadable_note(job.source.problems)
        if with_people == 0:
            reason = f"nobody found in the {len(entries)} frames looked at"
            record.update(
                pose_status=STATUS_NO_PERSON,
                pose_reason="; ".join(filter(None, (reason, unreadable))),
            )
        else:
            record.update(pose_status=STATUS_OK, pose_reason=unreadable)
    arrays["keypoints"][rows.start : rows.stop] = keypoints
    arrays["frame"][rows.start : rows.stop] = frame
    arrays["people"][rows.start : rows.stop] = people
    return [records[row] for row in rows]


def gather_pose2d(
    config: Config,
    dataset: str,
    samples: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_table: str | Path,
) -> pd.DataFrame:
    """Rule gather_pose2d (``mmnet gather-pose2d``): see :func:`merge_poses`."""
    config.dataset(dataset)
    return merge_poses(samples, stores, tables, out_store, out_table,
                       min_kept=config.floors.min_kept)  # fmt: skip


def merge_poses(
    samples: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_table: str | Path,
    *,
    min_kept: float = 0.5,
) -> pd.DataFrame:
    """Merge shard stores into ``pose2d.zarr`` and their tables into ``pose2d.parquet``;
    fail when poses were found for under ``min_kept`` of the usable samples."""

    def check(result: pd.DataFrame) -> None:
        ran, total = int(result["pose_frames"].sum()), int(result["sample_frames"].sum())
        counts = result["pose_status"].value_counts().to_dict()
        share = 100.0 * ran / max(total, 1)
        log.info("pose2d: ran on %d of the samples' %d frames (%.1f%%); %s", ran, total, share,
                 counts)  # fmt: skip
        given = result[result["pose_status"] != STATUS_SKIPPED]
        check_kept("pose2d", given, "pose_status", "pose_reason", [STATUS_OK], min_kept)

    return gather_shards(samples, stores, tables, out_store, out_table, POSE_ARRAYS, check)
