"""PKU-MMD phase 1: long recordings cut into one sample per labelled action instance.

Raw files (spec §1.2): ``PKU_Skeleton_Renew/0fff-V.txt``, one row per video frame of 150
numbers (persons 1 and 2 x 25 Kinect v2 joints x ``x y z``; person 2 all zero when absent);
``Train_Label_PKU_final/0fff-V.txt``, one ``class, start, end, confidence`` line per action
instance; the official ``Split/cross-subject.txt`` and ``Split/cross-view.txt``.

The i-th label line of ``0fff-V.txt`` is sample ``F{fff}V{vvv}C{ccc}L{iii}`` (view 001/002/003
= L/M/R, class 1-based), exactly as the original's converter names it, so the authors' score
files line up. Its frames are rows ``start..end`` (1-based, inclusive) of the skeleton file.
The original first wrote every instance to an NTU-like file and read that back; slicing the
rows gives the same joints without the detour (tested against a literal converter).

Defect fixed: the original's PKU models were trained on "ST-GCN style" arrays (the first two
bodies as listed, no pre-normalisation) while its NTU and N-UCLA ones used energy-based body
selection and pre-normalisation. PKU-MMD here gets the same preprocessing as NTU.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from mmnet.datasets.base import (
    STATUS_EXCLUDED,
    STATUS_OK,
    STATUS_REJECTED,
    Dataset,
    RawPaths,
    RawSkeleton,
    RgbSpec,
    SampleVideo,
    UnusableSample,
    read_lines,
)
from mmnet.skeleton.camera import KINECT_V2_COLOR_SIZE, project

log = logging.getLogger(__name__)

PKU_ID = r"F(\d{3})V(\d{3})C(\d{3})L(\d{3})"
#: Long-video name ``0fff-V`` (video id, view letter): skeleton, label and split-list entries.
VIDEO_NAME = re.compile(r"0(\d{3})-([LMR])")
VIEWS = "LMR"  # view codes 001, 002, 003
PERSONS, JOINTS = 2, 25
VALUES_PER_ROW = PERSONS * JOINTS * 3
#: Official split file of each protocol, in the ``splits`` folder.
SPLIT_FILES = {"xsub": "cross-subject.txt", "xview": "cross-view.txt"}
#: Parsed sequences kept per process: a shard reads rows sorted by id, i.e. all instances of
#: one sequence one after another, so a small cache reads every file once.
SEQUENCE_CACHE_SIZE = 4

_TRAIN_HEADER = re.compile(r"training videos\s*:?", re.IGNORECASE)
# The official files say "Validataion videos:"; accept the correct spelling too.
_TEST_HEADER = re.compile(r"valid\w*ion videos\s*:?", re.IGNORECASE)


def video_name(video_id: int, view: int) -> str:
    """``(36, 1)`` -> ``"0036-L"``, the long video a sample was cut from."""
    return f"{video_id:04d}-{VIEWS[view - 1]}"


def read_label_file(path: str | Path) -> list[tuple[int, int, int, int]]:
    """``(class, start, end, confidence)`` per non-blank line, in file order.

    Integral floats (``206.0``) are accepted; anything else raises ``ValueError`` naming the
    file and line.
    """
    instances = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [field.strip() for field in line.split(",")]
        try:
            if len(fields) != 4:
                raise ValueError
            values = [float(field) for field in fields]
            if not all(value.is_integer() for value in values):
                raise ValueError
        except ValueError:
            raise ValueError(
                f"{path}, line {number}: expected 'class, start, end, confidence' as "
                f"integers, found {line.strip()!r}"
            ) from None
        action, start, end, confidence = (int(value) for value in values)
        instances.append((action, start, end, confidence))
    return instances


def read_split_file(path: str | Path) -> tuple[frozenset[str], frozenset[str]]:
    """Training and validation video names of an official split file.

    The file holds a ``Training videos:`` header, comma-separated names, a ``Validataion
    videos:`` header (sic) and more names. A name in both lists, a name that is not
    ``0fff-V`` or a file without a training list raises ``ValueError`` naming the file.
    """
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the official split file ({err.strerror})") from None
    lists: dict[str, set[str]] = {"train": set(), "test": set()}
    section = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if _TRAIN_HEADER.fullmatch(text):
            section = "train"
        elif _TEST_HEADER.fullmatch(text):
            section = "test"
        elif text:
            if section is None:
                raise ValueError(f"{path}, line {number}: video names before any header")
            for entry in (e.strip() for e in text.split(",")):
                if entry and not VIDEO_NAME.fullmatch(entry):
                    raise ValueError(f"{path}, line {number}: {entry!r} is not a video name 0fff-V")
                if entry:
                    lists[section].add(entry)
    both = lists["train"] & lists["test"]
    if both:
        raise ValueError(
            f"{path}: video(s) {sorted(both)} are in both the training and the validation list"
        )
    if not lists["train"]:
        raise ValueError(f"{path}: no 'Training videos:' list")
    return frozenset(lists["train"]), frozenset(lists["test"])


@dataclass(frozen=True)
class OfficialSplit:
    """Split rule of a protocol: a sample trains when its video is in the official training
    list (spec §3; the original also treats "not in the training list" as test). A class,
    not a closure, so that datasets pickle into worker processes."""

    protocol: str

    def __call__(self, table: pd.DataFrame, raw: RawPaths | None) -> pd.Series:
        if raw is None or "splits" not in raw.extra:
            raise ValueError(f"PKU-MMD protocol {self.protocol!r} needs the official split folder")
        path = Path(raw.extra["splits"]) / SPLIT_FILES[self.protocol]
        train, test = read_split_file(path)
        unlisted = sorted(set(table["video"]) - train - test)
        if unlisted:
            log.warning(
                "%s: %d video(s) in neither list, counted as test: %s",
                path, len(unlisted), ", ".join(unlisted[:10]),
            )  # fmt: skip
        return table["video"].isin(train)


@functools.lru_cache(maxsize=SEQUENCE_CACHE_SIZE)
def read_sequence(path: str) -> np.ndarray:
    """All rows of a skeleton file as ``(F, 2, 25, 3)`` float64, read-only (it is cached).

    Every line must hold 150 numbers; a broken file raises ``ValueError`` naming file and line.
    Canonical files (single spaces) go through Arrow's CSV reader (single-threaded, about
    twice as fast as splitting in Python); anything it rejects is re-read line by line,
    which accepts any blanks and, for a broken file, finds the line at fault.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise ValueError(f"{path}: cannot read file ({err.strerror})") from None
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(data),
            read_options=_CSV_READ,
            parse_options=_CSV_PARSE,
            convert_options=_CSV_CONVERT,
        )
    except pa.ArrowInvalid:
        table = None
    if table is None or any(column.null_count for column in table.columns):  # nulls: blank lines
        values = _parse_rows(data, path)
    else:
        values = np.column_stack([column.to_numpy() for column in table.columns])
    frames = values.reshape(len(values), PERSONS, JOINTS, 3)
    frames.flags.writeable = False
    return frames


_CSV_COLUMNS = [f"v{i}" for i in range(VALUES_PER_ROW)]
_CSV_READ = pa_csv.ReadOptions(column_names=_CSV_COLUMNS, use_threads=False)
_CSV_PARSE = pa_csv.ParseOptions(delimiter=" ", ignore_empty_lines=False)
_CSV_CONVERT = pa_csv.ConvertOptions(column_types=dict.fromkeys(_CSV_COLUMNS, pa.float64()))


def _parse_rows(data: bytes, path: str) -> np.ndarray:
    """Exact line-by-line reader: any blanks, trailing blank lines allowed, precise errors."""
    rows = [line.split() for line in data.splitlines()]
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise ValueError(f"{path}: file is empty")
    for number, row in enumerate(rows, start=1):
        if len(row) != VALUES_PER_ROW:
            raise ValueError(
                f"{path}, line {number}: expected {VALUES_PER_ROW} numbers "
                f"(2 persons x 25 joints x xyz), found {len(row)}"
            )
        for token in row:
            try:
                float(token)
            except ValueError:
                raise ValueError(
                    f"{path}, line {number}: {token.decode(errors='replace')!r} is not a number"
                ) from None
    return np.array(rows, dtype=np.float64)


def _sequence_files(folders: tuple[Path, ...]) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.txt")):
            if not VIDEO_NAME.fullmatch(path.stem):
                continue
            if path.stem in files:
                raise ValueError(
                    f"sequence {path.stem} is in two folders: {files[path.stem]} and {path}"
                )
            files[path.stem] = path
    return files


def _overlap_warnings(instances: list[tuple[int, int, int, int]]) -> list[str]:
    """Per instance, ``"warning: ..."`` naming the instances whose frames it shares, or ""."""
    notes = []
    for i, (_, start, end, _) in enumerate(instances):
        others = [
            f"L{j + 1:03d} ({s}..{e})"
            for j, (_, s, e, _) in enumerate(instances)
            if j != i and max(start, s) <= min(end, e)
        ]
        notes.append(
            f"warning: frames {start}..{end} overlap {', '.join(others)}" if others else ""
        )
    return notes


@dataclass(frozen=True)
class PKUDataset(Dataset):
    """PKU-MMD phase 1; raw paths: ``skeletons``, ``labels``, ``splits`` (+ ``videos``)."""

    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        labels = Path(raw.extra["labels"])
        sequences = _sequence_files(raw.skeletons)
        missing, missing_source = self.missing_samples(raw)
        label_files = sorted(labels.glob("*.txt"))
        ignored = [p.name for p in label_files if not VIDEO_NAME.fullmatch(p.stem)]
        if ignored:
            log.warning("%s: ignored %d file(s) not named 0fff-V.txt: %s", labels, len(ignored),
                        ", ".join(ignored[:10]))  # fmt: skip
        records = []
        for path in label_files:
            match = VIDEO_NAME.fullmatch(path.stem)
            if match is None:
                continue
            video_id, view = int(match[1]), VIEWS.index(match[2]) + 1
            instances = read_label_file(path)
            overlaps = _overlap_warnings(instances)
            sequence = sequences.get(path.stem)
            for i, (action, start, end, confidence) in enumerate(instances, start=1):
                sample = f"F{video_id:03d}V{view:03d}C{action:03d}L{i:03d}"
                if sequence is None:
                    status = STATUS_REJECTED
                    reason = f"no skeleton file {path.stem}.txt for label file {path}"
                elif not 1 <= action <= self.num_class:
                    status = STATUS_REJECTED
                    reason = f"{path}: class {action} is not one of the {self.num_class} classes"
                elif not 1 <= start <= end:
                    status = STATUS_REJECTED
                    reason = f"{path}: frame window {start}..{end} is empty or starts before 1"
                elif sample in missing:
                    status, reason = STATUS_EXCLUDED, f"listed in {missing_source}"
                else:
                    status, reason = STATUS_OK, overlaps[i - 1]
                records.append({
                    "sample": sample, "video_id": video_id, "view": view, "action": action,
                    "instance": i, "video": path.stem, "start": start, "end": end,
                    "confidence": confidence,
                    "label": action - 1 if 1 <= action <= self.num_class else -1,
                    "skeleton_path": str(sequence or Path(raw.skeletons[0]) / path.name),
                    "video_path": str(raw.videos / f"{path.stem}.avi") if raw.videos else None,
                    "status": status, "reason": reason,
                })  # fmt: skip
        unlabelled = sorted(set(sequences) - {p.stem for p in label_files})
        if unlabelled:
            log.info("%d skeleton file(s) without a label file (no samples): %s",
                     len(unlabelled), ", ".join(unlabelled[:10]))  # fmt: skip
        table = pd.DataFrame.from_records(records, columns=_COLUMNS)
        table = table.sort_values("sample", ignore_index=True)
        return table.astype(_DTYPES)

    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        frames = read_sequence(str(row["skeleton_path"]))
        start, end = int(row["start"]), int(row["end"])
        if end > len(frames):
            raise UnusableSample(
                f"{row['skeleton_path']}: label frames {start}..{end} end after the last of "
                f"its {len(frames)} frames"
            )
        joints = frames[start - 1 : end].transpose(1, 0, 2, 3).copy()  # (2, F, 25, 3)
        present = joints.reshape(PERSONS, len(joints[0]), -1).any(axis=2)  # (2, F)
        return RawSkeleton(joints, int(present.sum(axis=0).max()))

    def sample_video(self, row: Mapping) -> SampleVideo:
        """The long video ``0fff-V.avi`` and the instance's frames in it.

        Label frame numbers are 1-based (frame n is row n of the skeleton file), video
        frames 0-based: label frame n is video frame n - 1. So sample frame i (row
        ``start + i``, frame i of :meth:`read_skeleton`) is video frame ``start - 1 + i``,
        over ``end - start + 1`` frames. The original used the label numbers directly as
        0-based frame indices, one frame late (spec §4.3.2); fixed here. A window past the
        skeleton's end is rejected by the skeleton stage; one that fits the skeleton but not
        the video is recorded by the stage that opens the video (``frame_count_mismatch``).
        """
        path = row.get("video_path")
        start, end = int(row["start"]), int(row["end"])
        path = path if isinstance(path, str) and path else None
        return SampleVideo(path, start - 1, end - start + 1, whole_video=False)

    def frame_stem(self, row: Mapping, frame: int) -> str:
        """``0036-L_000000000205``: frames are named after the long video (spec §1.4)."""
        return f"{row['video']}_{frame:012d}"

    def openpose_json(self, root: Path, row: Mapping, frame: int) -> Path:
        """The authors' layout: one folder per long video, named ``0036-L.avi`` (sic), its
        files indexed over the whole long video (spec §1.4)."""
        return Path(root) / f"{row['video']}.avi" / f"{self.frame_stem(row, frame)}_keypoints.json"

    def reference_joints(self, row: Mapping) -> np.ndarray:
        """The sample's two skeleton persons projected into the colour image with the Kinect
        v2 colour model fitted on NTU's files (:mod:`mmnet.skeleton.camera`), ``(2, F, 25,
        4)``: (u, v, z, 2) where the person is present, zeros where not. Tens of pixels
        off (another device), so used only to tell detected people apart."""
        joints = self.read_skeleton(row).joints  # (2, F, 25, 3)
        present = np.abs(joints).sum(axis=(2, 3)) > 0  # (2, F)
        out = np.zeros((*joints.shape[:3], 4))
        out[present, :, :2] = project(joints[present])
        out[present, :, 2] = joints[present][..., 2]
        out[present, :, 3] = 2.0
        return np.nan_to_num(out)


_COLUMNS = [
    "sample", "video_id", "view", "action", "instance", "video", "start", "end", "confidence",
    "label", "skeleton_path", "video_path", "status", "reason",
]  # fmt: skip
_DTYPES = {
    "sample": "string", "video_id": "int32", "view": "int32", "action": "int32",
    "instance": "int32", "video": "string", "start": "int32", "end": "int32",
    "confidence": "int32", "label": "int32", "skeleton_path": "string",
    "video_path": "string", "status": "string", "reason": "string",
}  # fmt: skip

PKU = PKUDataset(
    kind="pku",
    layout_name="ntu-rgb+d",
    class_names=read_lines("pku_classes.txt"),
    max_frames=300,
    max_bodies=2,
    bodies_read=PERSONS,
    protocols={name: OfficialSplit(name) for name in SPLIT_FILES},
    # The original ROI code's two-person classes (spec §1.2).
    two_person_actions=frozenset({12, 14, 16, 18, 21, 24, 26, 27}),
    id_pattern=PKU_ID,
    missing_list="pku_missing_skeletons.txt",
    extra_paths={"labels": "folder", "splits": "folder"},
    # 1080p videos, 96-pixel patches, frames counted from the window's start (spec §4.3.2);
    # the person choice matches detections to the projected skeleton, half a patch of slack
    rgb=RgbSpec(color_size=KINECT_V2_COLOR_SIZE, frame_rule="from_start", choice_tolerance=48),
)
