"""Stages build_roi, gather_roi and roi_preview: frames + ``pose2d.zarr`` -> ``roi.zarr``
(+ ``roi.parquet``).

Per shard of ``samples.parquet`` rows, for each sample whose poses are usable: the frames
of its evaluation tile and of its ``k`` training draws (:mod:`mmnet.frames`, the dataset's
frame rule), each replaced by the first of the next ``fallback`` frames that has a person
when it has none; those frames read at full resolution from the sample's frame source
(:mod:`mmnet.frame_source`: decoded straight from the video, which is faster than reading
JPEG dumps back and without their loss, or N-UCLA's own JPEG files); one column per
distinct frame (:mod:`mmnet.roi.tile`, with the dataset's geometry and person choice,
``Dataset.rgb``); their pixels into the shard store (:mod:`mmnet.roi.store`).
``gather_roi`` links the shard stores into ``roi.zarr`` and writes ``roi.parquet`` (status
and reason per sample).

Nothing is written silently black: a column without a frame or a person is recorded as
index -1 and counted in ``roi.parquet``; a sample with no evaluation column at all is not
``available``; frames that could not be read and person choices that fell back for want of
a depth image are named in the sample's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import zarr

import mmnet
from mmnet.config import Config
from mmnet.datasets.base import Dataset
from mmnet.frame_source import FramesError, FrameSource, open_frames, unreadable_note
from mmnet.frames import NO_FRAME, FrameConfig, fallback_chain
from mmnet.logs import progress
from mmnet.roi.preview import write_preview
from mmnet.roi.store import (
    COLUMN_ENCODING,
    COLUMN_SHAPE,
    ROI_ARRAYS,
    create_column_array,
    write_columns,
)
from mmnet.roi.tile import (
    CELL,
    EMPTY,
    ROI_KEYPOINTS,
    ROI_PARTS,
    SINGLE,
    TWO_PERSON,
    build_column,
    choose_by_depth,
    choose_person,
    to_network,
)
from mmnet.skeleton.transforms import body_energy
from mmnet.stages.floors import check_kept
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.status import STATUS_NO_PERSON, STATUS_OK, STATUS_PARTIAL, STATUS_SKIPPED
from mmnet.store import (
    SAMPLES_PER_FILE,
    atomic_path,
    create_sample_array,
    gather_shards,
    typed_table,
    write_parquet,
)

log = logging.getLogger(__name__)
ROI_COLUMNS = (
    "row", "sample", "roi_status", "roi_reason", "columns", "empty_slots", "two_person_columns",
)  # fmt: skip


class SamplePoses:
    """The pose2d entries of one sample: frame -> people ``(P, 25, 3)``."""

    def __init__(self, frames: np.ndarray, people: np.ndarray, keypoints: np.ndarray):
        self._people = {}
        for frame, count, points in zip(frames, people, keypoints, strict=True):
            if frame >= 0 and count >= 0:
                self._people[int(frame)] = points[: min(int(count), len(points))]

    def people(self, frame: int) -> np.ndarray | None:
        return self._people.get(frame)

    def resolve(
        self, frame: int, n_frames: int, fallback: int, skip: set[int] = frozenset()
    ) -> int:
        """The first frame from ``frame`` on (``fallback`` at most) with a person, passing
        over the frames in ``skip`` (which could not be read)."""
        for candidate in fallback_chain(frame, n_frames, fallback):
            found = None if candidate in skip else self._people.get(candidate)
            if found is not None and len(found) > 0:
                return candidate
        return NO_FRAME


def build_roi(
    config: Config,
    dataset: str,
    shard: Shard,
    samples: str | Path,
    pose_store: str | Path,
    pose_table: str | Path,
    out: ShardOutput,
) -> pd.DataFrame:
    """Rule build_roi (``mmnet build-roi``): shard ``shard`` of ``dataset``; see
    :func:`roi_shard`."""
    return roi_shard(
        config.dataset(dataset).kind, config.frames, shard, samples, pose_store, pose_table,
        out,
    )  # fmt: skip


def roi_shard(
    dataset: Dataset,
    config: FrameConfig,
    shard: Shard,
    samples: str | Path,
    pose_store: str | Path,
    pose_table: str | Path,
    out: ShardOutput,
    *,
    compression_level: int = 3,
    samples_per_file: int = SAMPLES_PER_FILE,
) -> pd.DataFrame:
    """ROI columns of the rows of ``shard`` (:mod:`mmnet.roi.store`); ``compression_level``
    is that of the small arrays."""
    table = pd.read_parquet(samples)
    poses = pd.read_parquet(pose_table)
    pose = zarr.open_group(pose_store, mode="r")
    n, k, count = len(table), config.training_candidates, config.temporal_rgb_frames
    blocks = shard.blocks(n, samples_per_file)
    records: list[dict] = []
    with atomic_path(out.store) as tmp:
        arrays = {
            "columns": create_column_array(tmp, n, config.slots, samples_per_file=samples_per_file)
        }
        arrays |= {
            name: create_sample_array(
                tmp, name, (n, *dims), dtype,
                samples_per_file=samples_per_file, compression_level=compression_level,
            ).open()
            for name, dims, dtype in (
                ("column_frame", (config.slots,), "int32"),
                ("column_layout", (config.slots,), "uint8"),
                ("evaluation", (count,), "int16"),
                ("training", (k, count), "int16"),
                ("available", (), "bool"),
            )
            if name != "training" or k > 0  # zarr has no zero-length chunks
        }  # fmt: skip
        zarr.open_group(tmp, mode="a").attrs.update(store_attributes(dataset, config))
        bar = progress(total=sum(map(len, blocks)), desc=f"roi {shard.name}")
        for rows in blocks:
            block = {
                "columns": np.zeros((len(rows), config.slots, *COLUMN_SHAPE), np.uint8),
                "column_frame": np.full((len(rows), config.slots), NO_FRAME, np.int32),
                "column_layout": np.full((len(rows), config.slots), EMPTY, np.uint8),
                "evaluation": np.full((len(rows), count), -1, np.int16),
                "training": np.full((len(rows), k, count), -1, np.int16),
                "available": np.zeros(len(rows), bool),
            }
            entries = {name: pose[name][rows.start : rows.stop] for name in ("frame", "people")}
            keypoints = pose["keypoints"][rows.start : rows.stop]
            for i, row in enumerate(rows):
                values = table.iloc[row].to_dict()
                record = {"row": row, "sample": values["sample"]}
                pose_status = poses.at[row, "pose_status"]
                if pose_status != STATUS_OK:
                    reason = poses.at[row, "pose_reason"]
                    status = STATUS_SKIPPED if pose_status == STATUS_SKIPPED else pose_status
                    record.update(roi_status=status, roi_reason=f"pose2d: {reason}")
                else:
                    sample_poses = SamplePoses(
                        entries["frame"][i], entries["people"][i], keypoints[i]
                    )
                    built = _build_sample(dataset, values, sample_poses, config, block, i)
                    note = poses.at[row, "pose_reason"]  # e.g. frames pose2d could not read
                    reasons = (built.get("roi_reason"), note if isinstance(note, str) else "")
                    record.update(built, roi_reason="; ".join(filter(None, reasons)))
                records.append(record)
                bar.update()
            for name, array in arrays.items():
                if name == "columns":
                    write_columns(array, rows.start, block[name])
                else:
                    array[rows.start : rows.stop] = block[name]
        bar.close()
    result = typed_table(records, ROI_COLUMNS)
    write_parquet(result, out.table)
    log.info(
        "shard %s: %d samples, %d columns; %s",
        shard.name, len(result), int(result["columns"].sum()),
        result["roi_status"].value_counts().to_dict(),
    )  # fmt: skip
    return result


def store_attributes(dataset: Dataset, config: FrameConfig) -> dict:
    return {
        "temporal_rgb_frames": config.temporal_rgb_frames,
        "training_candidates": config.training_candidates,
        "cell": CELL,
        "tile_shape": [5 * CELL, config.temporal_rgb_frames * CELL, 3],
        "rows": list(ROI_PARTS),
        "body_25_keypoints": list(ROI_KEYPOINTS),
        "flip_swaps_rows_for_layouts": [TWO_PERSON]
        if dataset.rgb.flip_swaps_rows == "two_person"
        else [SINGLE, TWO_PERSON],
        "patch": dataset.rgb.patch,
        "patch_reference_height": dataset.rgb.reference_height,
        "dataset_kind": dataset.kind,
        "frames": {key: value for key, value in vars(config).items() if key != "keep"},
        "column_encoding": COLUMN_ENCODING,
        "mmnet_version": mmnet.__version__,
    }


def _build_sample(
    dataset: Dataset,
    values: dict,
    poses: SamplePoses,
    config: FrameConfig,
    block: dict[str, np.ndarray],
    i: int,
) -> dict:
    """Fill row ``i`` of ``block`` with one sample's columns; its table record."""
    try:
        source = open_frames(dataset, values)
    except FramesError as err:
        return {"roi_status": err.status, "roi_reason": str(err)}
    with source:
        selection = config.select(source.n_frames, values["sample"], dataset.rgb.frame_rule)
        unreadable: set[int] = set()
        while True:  # a frame that cannot be read (N-UCLA's files) gives way to a fallback
            slots = np.array(
                [
                    poses.resolve(int(f), source.n_frames, config.fallback, unreadable)
                    for f in selection.slots
                ]
            )
            evaluation = slots[: config.temporal_rgb_frames]
            if not (evaluation != NO_FRAME).any():
                reason = "no evaluation frame (or its fallbacks) has a person"
                note = unreadable_note(source.problems)
                return {
                    "roi_status": STATUS_NO_PERSON,
                    "roi_reason": "; ".join(filter(None, (reason, note))),
                }
            used = sorted({int(f) for f in slots if f != NO_FRAME})
            try:
                images = source.read(used)
            except FramesError as err:
                return {"roi_status": err.status, "roi_reason": str(err)}
            if all(f in images for f in used):
                break
            unreadable.update(f for f in used if f not in images)
        columns = _Columns(dataset, values, source)
        for index, frame in enumerate(used):
            column, layout = columns.build(images[frame], poses.people(frame), frame)
            block["columns"][i, index] = to_network(column)
            block["column_frame"][i, index] = frame
            block["column_layout"][i, index] = layout
    lookup = {frame: index for index, frame in enumerate(used)}
    indices = np.array([lookup.get(int(f), -1) for f in slots], dtype=np.int16)
    block["evaluation"][i] = indices[: config.temporal_rgb_frames]
    block["training"][i] = indices[config.temporal_rgb_frames :].reshape(
        config.training_candidates, config.temporal_rgb_frames
    )
    block["available"][i] = True
    empty = int((slots == NO_FRAME).sum())
    notes = [unreadable_note(source.problems), columns.note()]
    record = {
        "roi_status": STATUS_OK,
        "roi_reason": "; ".join(filter(None, notes)),
        "columns": len(used),
        "empty_slots": empty,
        "two_person_columns": int((block["column_layout"][i] == TWO_PERSON).sum()),
    }
    if empty:
        missing_eval = int((evaluation == NO_FRAME).sum())
        reason = (
            f"{empty} of {len(slots)} columns ({missing_eval} of the evaluation tile's) have "
            "no frame with a person: black"
        )
        record.update(
            roi_status=STATUS_PARTIAL, roi_reason="; ".join(filter(None, [reason, *notes]))
        )
    return record


class _Columns:
    """One sample's columns: layout, target person and geometry by the dataset's rules."""

    def __init__(self, dataset: Dataset, values: dict, source: FrameSource):
        self.dataset, self.source, self.spec = dataset, source, dataset.rgb
        self.patch = self.spec.patch_size(source.height)
        self.shift = self.spec.shift_size(source.height)
        self.two_person_class = int(values["label"]) + 1 in dataset.two_person_actions
        scale = (source.width / self.spec.color_size[0], source.height / self.spec.color_size[1])
        self.references = _References(dataset, values, scale)
        self.without_depth = 0  # frames where the depth choice fell back to detection 0

    def build(self, image: np.ndarray, people: np.ndarray, frame: int) -> tuple[np.ndarray, int]:
        """The column of one frame (frame resolution) and its layout code."""
        two_person = self.two_person_class and len(people) >= 2
        several = not two_person and len(people) > 1
        person = 0
        if several and self.spec.person_choice == "depth":
            depth = self.source.depth(frame)
            self.without_depth += depth is None
            size = (self.source.width, self.source.height)
            person = choose_by_depth(
                people, depth, self.spec.choice_keypoint, 1000 * self.spec.max_depth, size
            )
        elif several:
            person = choose_person(
                people, self.references.at(frame), self.spec.choice_keypoint,
                self.spec.max_depth, self.spec.tolerance_size(self.source.height),
            )  # fmt: skip
        column = build_column(
            image, people, self.patch, two_person=two_person, person=person,
            shift=self.shift if several else 0.0,
        )  # fmt: skip
        return column, TWO_PERSON if two_person else SINGLE

    def note(self) -> str:
        if not self.without_depth:
            return ""
        return (
            f"note: {self.without_depth} frame(s) with several people have no depth image: "
            "detection 0 taken"
        )


class _References:
    """The dataset's skeleton bodies, to choose the target person; read when first needed."""

    def __init__(self, dataset: Dataset, values: dict, scale: tuple[float, float]):
        self.dataset, self.values, self.scale = dataset, values, scale
        self._joints: np.ndarray | None = None
        self._energy: np.ndarray | None = None
        self._loaded = False

    def at(self, frame: int) -> np.ndarray | None:
        """``(B, 4)``: each listed body's choice joint ``(x, y, depth, energy)`` in video
        pixels, metres, and its slot's motion energy (:func:`choose_person`)."""
        if not self._loaded:
            self._loaded = True
            self._joints = self.dataset.reference_joints(self.values)
            if self._joints is not None:
                energy = body_energy(self.dataset.read_skeleton(self.values).joints)
                self._energy = np.zeros(len(self._joints))
                n = min(len(energy), len(self._energy))
                self._energy[:n] = energy[:n]
        if self._joints is None or frame >= self._joints.shape[1]:
            return None
        joint = self._joints[:, frame, self.dataset.rgb.choice_joint]  # (B, 4)
        listed = np.abs(joint[:, :3]).sum(axis=1) > 0
        return np.stack(
            [
                joint[listed, 0] * self.scale[0],
                joint[listed, 1] * self.scale[1],
                joint[listed, 2],
                self._energy[listed],
            ],
            axis=1,
        )


def gather_roi(
    config: Config,
    dataset: str,
    samples: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_table: str | Path,
) -> pd.DataFrame:
    """Rule gather_roi (``mmnet gather-roi``): see :func:`merge_rois`."""
    config.dataset(dataset)
    return merge_rois(samples, stores, tables, out_store, out_table,
                      min_kept=config.floors.min_kept)  # fmt: skip


def merge_rois(
    samples: str | Path,
    stores: Sequence[str | Path],
    tables: Sequence[str | Path],
    out_store: str | Path,
    out_table: str | Path,
    *,
    min_kept: float = 0.5,
) -> pd.DataFrame:
    """Merge shard stores into ``roi.zarr`` and their tables into ``roi.parquet``; fail when
    under ``min_kept`` of the usable samples have a ROI."""

    def check(result: pd.DataFrame) -> None:
        available = [STATUS_OK, STATUS_PARTIAL]
        log.info("roi: %d samples available, %d columns; %s",
                 int(result["roi_status"].isin(available).sum()), int(result["columns"].sum()),
                 result["roi_status"].value_counts().to_dict())  # fmt: skip
        given = result[result["roi_status"] != STATUS_SKIPPED]
        check_kept("roi", given, "roi_status", "roi_reason", available, min_kept)

    return gather_shards(samples, stores, tables, out_store, out_table, ROI_ARRAYS, check)


def roi_preview(
    config: Config,
    dataset: str,
    store: str | Path,
    samples: str | Path,
    out: str | Path,
    *,
    n_tiles: int | None = None,
    seed: int = 0,
    training: bool = False,
) -> list[str]:
    """Rule roi_preview (``mmnet roi preview``): a contact sheet PNG of ROI tiles."""
    return write_preview(
        store, samples, out, n_tiles=n_tiles or config.roi.preview_tiles,
        class_names=config.dataset(dataset).kind.class_names, seed=seed, training=training,
    )  # fmt: skip
