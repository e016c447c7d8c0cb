"""PKU-MMD phase 1: long sequences cut into one sample per labelled action instance.

Raw files (spec §1.2): ``PKU_Skeleton_Renew/0fff-V.txt`` (one row per frame: 2 bodies x 25
Kinect v2 joints x xyz, body 2 all zero when absent), ``Train_Label_PKU_final/0fff-V.txt``
(``class,start,end,confidence`` per instance) and the official ``cross-subject.txt`` /
``cross-view.txt`` split files.

The i-th label line of video ``0fff-V`` becomes sample ``F{fff}V{vvv}C{ccc}L{iii}`` (view
L/M/R = 001/002/003, class 1-based), the original's naming, so the authors' released score
files line up. Its frames are rows ``start..end`` of the skeleton file, the label's frame
numbers read as 1-based rows (as the original's converter does), i.e. no intermediate
per-instance files are written: the window is cut when the sample is read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from mmnet.datasets.base import (
    STATUS_EXCLUDED,
    STATUS_OK,
    STATUS_REJECTED,
    Dataset,
    RawPaths,
    RawSkeleton,
    package_resource,
    read_lines,
    read_sample_list,
)

PKU_ID = r"F(\d{3})V(\d{3})C(\d{3})L(\d{3})"
VIEWS = ("L", "M", "R")  # V001, V002, V003
VIDEO_NAME = re.compile(r"0(\d{3})-([LMR])")
VALUES_PER_ROW = 2 * 25 * 3


def read_split_file(path: Path) -> tuple[set[str], set[str]]:
    """Training and test video names of an official split file.

    Format: a header line ``Training videos:``, the comma-separated training list, a header
    (``Validataion videos:`` in the official files, sic), the comma-separated test list.
    """
    lines = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    if len(lines) != 4 or not lines[0].lower().startswith("training"):
        raise ValueError(f"{path}: expected 4 lines (header, training list, header, test list)")
    train, test = ({v.strip() for v in line.split(",") if v.strip()} for line in lines[1::2])
    both = sorted(train & test)
    if both:
        raise ValueError(f"{path}: video(s) {both[:5]} are in both the training and test lists")
    return train, test


def read_sequence(path: str | Path) -> np.ndarray:
    """A skeleton sequence file as ``(frames, 2, 25, 3)`` float64."""
    data = Path(path).read_bytes()
    text = pa.array([data.decode("ascii")], type=pa.string())
    tokens = pc.ascii_split_whitespace(pc.ascii_trim_whitespace(text)).flatten()
    try:
        values = pc.cast(tokens, pa.float64()).to_numpy()
    except pa.ArrowInvalid as err:
        raise ValueError(f"{path}: non-numeric value ({err})") from None
    rows = data.strip().count(b"\n") + 1 if data.strip() else 0
    if rows == 0 or len(values) != rows * VALUES_PER_ROW:
        raise ValueError(
            f"{path}: expected {VALUES_PER_ROW} values on each of its {rows} rows, "
            f"found {len(values)} values"
        )
    return values.reshape(rows, 2, 25, 3)


@lru_cache(maxsize=8)
def _cached_sequence(path: str) -> np.ndarray:
    """Instances of one video are consecutive rows: parse each sequence file once."""
    return read_sequence(path)


def _count_rows(path: Path) -> int:
    data = path.read_bytes().strip()
    return data.count(b"\n") + 1 if data else 0


@dataclass(frozen=True)
class PKUDataset(Dataset):
    """PKU-MMD phase 1; raw paths: ``skeletons``, ``labels``, ``splits`` (+ ``videos``)."""

    missing_list: str = "pku_missing_skeletons.txt"

    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        labels_dir, skeletons_dir = raw.extra["labels"], raw.skeletons[0]
        rows: list[dict] = []
        for label_file in sorted(Path(labels_dir).glob("*.txt")):
            rows += self._instances(label_file, skeletons_dir, raw.videos)
        table = pd.DataFrame(rows).sort_values("sample", kind="stable").reset_index(drop=True)
        missing = set(
            read_sample_list(raw.missing_skeletons or package_resource(self.missing_list), PKU_ID)
        )
        excluded = table["sample"].isin(missing) & (table["status"] == STATUS_OK)
        table.loc[excluded, "status"] = STATUS_EXCLUDED
        table.loc[excluded, "reason"] = "listed in the MMNet missing-skeleton list"
        string = ["sample", "video", "skeleton_path", "video_path", "status", "reason"]
        return table.astype({c: "string" for c in string} | {"label": "int32"})

    def _instances(self, label_file: Path, skeletons: Path, videos: Path | None) -> list[dict]:
        match = VIDEO_NAME.fullmatch(label_file.stem)
        if not match:
            return [self._bad_row(label_file, "label file name is not 0fff-V.txt")]
        video_id, view = int(match[1]), VIEWS.index(match[2]) + 1
        skeleton = Path(skeletons) / label_file.name
        n_rows = _count_rows(skeleton) if skeleton.is_file() else None
        windows: list[tuple[int, int]] = []
        out = []
        for number, line in enumerate(label_file.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = [f.strip() for f in line.split(",")]
            try:
                action, start, end = (int(float(f)) for f in fields[:3])
                confidence = int(float(fields[3])) if len(fields) > 3 else -1
            except (ValueError, IndexError):
                out.append(
                    self._bad_row(label_file, f"line {number}: not class,start,end,confidence")
                )
                continue
            status, reason = STATUS_OK, ""
            if n_rows is None:
                status, reason = (
                    STATUS_REJECTED,
                    f"no skeleton file {skeleton.name} for {label_file}",
                )
            elif not 1 <= action <= self.num_class:
                status, reason = (
                    STATUS_REJECTED,
                    f"class {action} is not one of 1..{self.num_class}",
                )
            elif not 1 <= start <= end <= n_rows:
                status = STATUS_REJECTED
                reason = f"window {start}..{end} outside the sequence's {n_rows} frames"
            else:
                overlaps = [f"{a}..{b}" for a, b in windows if a <= end and start <= b]
                if overlaps:  # kept, as the original keeps them; flagged for the user
                    reason = (
                        f"window {start}..{end} overlaps {', '.join(overlaps)} of the same video"
                    )
                windows.append((start, end))
            out.append({
                "sample": f"F{video_id:03d}V{view:03d}C{max(action, 0):03d}L{number:03d}",
                "video": label_file.stem, "video_id": video_id, "view": view,
                "action": action, "instance": number, "start": start, "end": end,
                "confidence": confidence, "label": action - 1 if status == STATUS_OK else -1,
                "skeleton_path": str(skeleton),
                "video_path": str(Path(videos) / f"{label_file.stem}.avi") if videos else None,
                "status": status, "reason": reason,
            })  # fmt: skip
        return out

    @staticmethod
    def _bad_row(label_file: Path, reason: str) -> dict:
        return {
            "sample": f"?{label_file.stem}", "video": label_file.stem, "video_id": -1,
            "view": -1, "action": -1, "instance": -1, "start": -1, "end": -1,
            "confidence": -1, "label": -1, "skeleton_path": "", "video_path": None,
            "status": STATUS_REJECTED, "reason": f"{label_file}: {reason}",
        }  # fmt: skip

    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        sequence = _cached_sequence(str(row["skeleton_path"]))
        window = sequence[int(row["start"]) - 1 : int(row["end"])]  # (F, 2, V, 3)
        joints = window.transpose(1, 0, 2, 3)
        second = joints[1].reshape(len(window), -1).any(axis=1)
        return RawSkeleton(joints, 2 if second.any() else 1)


def official_split(file_name: str, table: pd.DataFrame, raw: RawPaths) -> pd.Series:
    """Training rows per the official split file ``file_name`` in the ``splits`` folder; a
    video in neither list is a test video, as in the original."""
    train, _ = read_split_file(Path(raw.extra["splits"]) / file_name)
    return table["video"].isin(train)


PKU = PKUDataset(
    kind="pku",
    layout_name="ntu-rgb+d",
    class_names=read_lines("pku_classes.txt"),
    max_frames=300,
    max_bodies=2,
    bodies_read=2,
    protocols={
        "xsub": partial(official_split, "cross-subject.txt"),
        "xview": partial(official_split, "cross-view.txt"),
    },
    two_person_actions=frozenset((12, 14, 16, 18, 21, 24, 26, 27)),
    id_pattern=PKU_ID,
    required_raw=("skeletons", "labels", "splits"),
)
