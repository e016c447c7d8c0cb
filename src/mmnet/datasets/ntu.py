"""NTU RGB+D 60 and 120 (and the demo dataset, which uses their raw formats).

Sample ids are the file names ``SsssCcccPpppRrrrAaaa`` (setup, camera, performer,
replication, action; spec §1.1); label = action - 1. Splits follow spec §3.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mmnet.datasets.base import (
    STATUS_EXCLUDED,
    STATUS_OK,
    STATUS_REJECTED,
    Dataset,
    RawPaths,
    RawSkeleton,
    read_lines,
)
from mmnet.datasets.ntu_format import read_skeleton_file

#: Joint fields giving a joint's colour-image position, depth and tracking state.
COLOR_FIELDS = (5, 6, 2, 11)  # colorX, colorY, z, trackingState

NTU_ID = r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})"
ID_FIELDS = ("setup", "camera", "subject", "replication", "action")

NTU60_XSUB_TRAIN = frozenset(
    (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
)
NTU120_XSUB_TRAIN = NTU60_XSUB_TRAIN | frozenset(
    (45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83,
     84, 85, 86, 89, 91, 92, 93, 94, 95, 97, 98, 100, 103)
)  # fmt: skip
NTU60_XVIEW_TRAIN_CAMERAS = frozenset((2, 3))


def ntu60_xsub(table: pd.DataFrame, raw: RawPaths | None = None) -> pd.Series:
    return table["subject"].isin(NTU60_XSUB_TRAIN)


def ntu60_xview(table: pd.DataFrame, raw: RawPaths | None = None) -> pd.Series:
    return table["camera"].isin(NTU60_XVIEW_TRAIN_CAMERAS)


def ntu120_xsub(table: pd.DataFrame, raw: RawPaths | None = None) -> pd.Series:
    return table["subject"].isin(NTU120_XSUB_TRAIN)


def ntu120_xset(table: pd.DataFrame, raw: RawPaths | None = None) -> pd.Series:
    return table["setup"] % 2 == 0


def parse_ntu_ids(samples: pd.Series) -> pd.DataFrame:
    """Id fields of NTU sample names; -1 where a name is not an NTU id.

    Each field is sliced and converted on its own: a regex ``extract`` of all five at once
    held 7 MB more at the index's peak for NTU60's 56,880 names (``bench/scale.py``).
    """
    valid = samples.str.fullmatch(NTU_ID).fillna(False).to_numpy(bool)
    parts = pd.DataFrame(index=samples.index)
    for field, start in zip(ID_FIELDS, (1, 5, 9, 13, 17), strict=True):
        digits = samples.str.slice(start, start + 3).where(valid)
        parts[field] = pd.to_numeric(digits).fillna(-1).astype("int32")
    return parts


@dataclass(frozen=True)
class NTUDataset(Dataset):
    """A dataset stored in NTU's raw formats (``.skeleton`` files, ``_rgb.avi`` videos)."""

    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        files = _skeleton_files(raw.skeletons)
        table = pd.DataFrame({"sample": pd.Series(sorted(files), dtype="string")})
        table = pd.concat([table, parse_ntu_ids(table["sample"])], axis=1)
        table["label"] = (table["action"] - 1).where(table["action"] > 0, -1).astype("int32")
        table["skeleton_path"] = pd.Series([files[s] for s in table["sample"]], dtype="string")
        table["video_path"] = pd.Series(
            [str(raw.videos / f"{s}_rgb.avi") if raw.videos else None for s in table["sample"]],
            dtype="string",
        )
        missing, missing_source = self.missing_samples(raw)
        status, reason = [], []
        for sample, action in zip(table["sample"], table["action"], strict=True):
            if action < 0:
                status.append(STATUS_REJECTED)
                reason.append("file name is not an NTU id SsssCcccPpppRrrrAaaa")
            elif action > self.num_class:
                status.append(STATUS_REJECTED)
                reason.append(f"action {action} is not one of the {self.num_class} classes")
            elif sample in missing:
                status.append(STATUS_EXCLUDED)
                reason.append(f"listed in {missing_source}")
            else:
                status.append(STATUS_OK)
                reason.append("")
        table["status"] = pd.Series(status, dtype="string")
        table["reason"] = pd.Series(reason, dtype="string")
        return table

    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        parsed = read_skeleton_file(row["skeleton_path"], num_joints=self.layout.num_joints)
        return RawSkeleton(parsed.dense(self.bodies_read)[..., :3], parsed.max_bodies)

    def frame_stem(self, row: Mapping, frame: int) -> str:
        # the video is <sample>_rgb.avi, so OpenPose wrote <sample>_rgb_<frame>_keypoints.json
        return f"{row['sample']}_rgb_{frame:012d}"

    def color_joints(self, row: Mapping) -> np.ndarray:
        parsed = read_skeleton_file(
            row["skeleton_path"], fields=COLOR_FIELDS, num_joints=self.layout.num_joints
        )
        return parsed.dense(max(parsed.max_bodies, 1))


def _skeleton_files(folders: tuple[Path, ...]) -> dict[str, str]:
    """Sample id -> path of every ``*.skeleton`` file (as ``Path.glob`` lists them). Paths are
    kept as strings: 56,880 ``Path`` objects held 11 MB more at the index's peak."""
    files: dict[str, str] = {}
    for folder in folders:
        root = str(Path(folder))
        with os.scandir(root) as entries:
            for entry in entries:
                name = entry.name
                if not name.endswith(".skeleton") or name.startswith("."):
                    continue
                stem, path = name[: -len(".skeleton")], os.path.join(root, name)
                if stem in files:
                    raise ValueError(f"sample {stem} is in two folders: {files[stem]} and {path}")
                files[stem] = path
    return files


NTU60 = NTUDataset(
    kind="ntu60",
    layout_name="ntu-rgb+d",
    class_names=read_lines("ntu60_classes.txt"),
    max_frames=300,
    max_bodies=2,
    bodies_read=4,
    protocols={"xsub": ntu60_xsub, "xview": ntu60_xview},
    two_person_actions=frozenset(range(50, 61)),
    id_pattern=NTU_ID,
    missing_list="ntu60_missing_skeletons.txt",
)

NTU120 = NTUDataset(
    kind="ntu120",
    layout_name="ntu-rgb+d",
    class_names=read_lines("ntu120_classes.txt"),
    max_frames=300,
    max_bodies=2,
    bodies_read=4,
    protocols={"xsub": ntu120_xsub, "xset": ntu120_xset},
    two_person_actions=frozenset(range(50, 61)) | frozenset(range(106, 121)),
    id_pattern=NTU_ID,
    missing_list="ntu120_missing_skeletons.txt",
)
