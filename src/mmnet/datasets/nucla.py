"""Northwestern-UCLA Multiview (N-UCLA): 10 actions, 3 views, 20 Kinect v1 joints.

Two raw forms are in circulation and both are read (spec §1.3); the ``skeletons`` folder may
hold either:

* the MMNet authors' reformatted ``S{SS}A{AA}E{EE}V{VV}.skeleton`` files (NTU-like text,
  20 comma-separated ``x,y,z,trackingState`` joint lines per body);
* the widely shared ``all_sqe`` JSON sequences ``aAA_sSS_eEE_vVV.json``
  (``{"file_name", "skeletons": [T][20][3], "label"}``, label re-indexed 1..10).

Both give the original's ids ``S{SS}A{AA}E{EE}V{VV}``: action folders a01-a06, a08, a09, a11,
a12 become A01..A10, environment e00 becomes E01; label = A - 1.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from mmnet.datasets.base import (
    STATUS_OK,
    STATUS_REJECTED,
    Dataset,
    RawPaths,
    RawSkeleton,
    read_lines,
)

NUCLA_ID = r"S(\d{2})A(\d{2})E(\d{2})V(\d{2})"
ALL_SQE_NAME = re.compile(r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})")
#: Original action folder number -> the re-indexed action A (1..10); a07 and a10 do not exist.
ACTION_OF_FOLDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 8: 7, 9: 8, 11: 9, 12: 10}
NUM_JOINTS = 20


def view_rule(train_views: tuple[int, int], table: pd.DataFrame, raw: RawPaths) -> pd.Series:
    """Train on the two views of the protocol's name, test on the third."""
    return table["view"].isin(train_views)


def sample_id_of(path: Path) -> tuple[str, dict] | None:
    """The original id and fields of a raw file name (either form), or None."""
    if path.suffix == ".skeleton" and (m := re.fullmatch(NUCLA_ID, path.stem)):
        subject, action, environment, view = (int(g) for g in m.groups())
    elif path.suffix == ".json" and (m := ALL_SQE_NAME.fullmatch(path.stem)):
        folder, subject, env, view = (int(g) for g in m.groups())
        if folder not in ACTION_OF_FOLDER:
            return None
        action, environment = ACTION_OF_FOLDER[folder], env + 1
    else:
        return None
    sample = f"S{subject:02d}A{action:02d}E{environment:02d}V{view:02d}"
    fields = {"subject": subject, "action": action, "environment": environment, "view": view}
    return sample, fields


def read_reformatted(path: str | Path) -> tuple[np.ndarray, int]:
    """The authors' ``.skeleton`` form: ``(F, 20, 3)`` joints of the first body listed in
    each frame (zeros for a frame without body) and the most bodies listed in one frame."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    pos = 0

    def take(what: str) -> str:
        nonlocal pos
        if pos >= len(lines):
            raise ValueError(f"{path}, line {pos + 1}: file ends early: expected {what}")
        pos += 1
        return lines[pos - 1]

    def integer(what: str) -> int:
        token = take(what)
        if not token.isdigit():
            raise ValueError(f"{path}, line {pos}: {what} {token!r} is not an integer")
        return int(token)

    n_frames = integer("frame count")
    joints = np.zeros((n_frames, NUM_JOINTS, 3))
    most = 0
    for frame in range(n_frames):
        n_bodies = integer("body count")
        most = max(most, n_bodies)
        for body in range(n_bodies):
            take("a body-info line")
            if (n := integer("joint count")) != NUM_JOINTS:
                raise ValueError(f"{path}, line {pos}: joint count is {n}, expected {NUM_JOINTS}")
            for joint in range(NUM_JOINTS):
                fields = take("a joint line").split(",")
                try:
                    xyz = [float(v) for v in fields[:3]]
                except ValueError:
                    raise ValueError(f"{path}, line {pos}: joint values are not numbers") from None
                if len(fields) != 4:
                    raise ValueError(f"{path}, line {pos}: expected x,y,z,trackingState")
                if body == 0:
                    joints[frame, joint] = xyz
    if any(lines[pos:]):
        raise ValueError(f"{path}, line {pos + 1}: unexpected line(s) after the last frame")
    return joints, most


def read_all_sqe(path: str | Path) -> tuple[np.ndarray, int]:
    """An ``all_sqe`` JSON sequence: ``(F, 20, 3)`` joints and its 1-based label."""
    try:
        content = json.loads(Path(path).read_text())
        joints = np.asarray(content["skeletons"], dtype=np.float64)
        label = int(content["label"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not an all_sqe sequence ({err})") from None
    if joints.ndim != 3 or joints.shape[1:] != (NUM_JOINTS, 3):
        raise ValueError(f"{path}: skeletons have shape {joints.shape}, expected (T, 20, 3)")
    return joints, label


@dataclass(frozen=True)
class NUCLADataset(Dataset):
    """N-UCLA; raw path ``skeletons``: a folder of either raw form (see module docstring)."""

    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        rows, seen = [], {}
        for folder in raw.skeletons:
            for path in sorted(Path(folder).iterdir()):
                if path.suffix not in (".skeleton", ".json"):
                    continue
                parsed = sample_id_of(path)
                if parsed is None:
                    reason = "file name is not SssAaaEeeVvv.skeleton or aAA_sSS_eEE_vVV.json"
                    rows.append(self._row(path.stem, {}, path, STATUS_REJECTED, reason))
                    continue
                sample, fields = parsed
                if sample in seen:
                    raise ValueError(f"sample {sample} is given twice: {seen[sample]} and {path}")
                seen[sample] = path
                status, reason = STATUS_OK, ""
                if path.suffix == ".json":
                    status, reason = self._check_label(path, fields["action"])
                rows.append(self._row(sample, fields, path, status, reason))
        table = pd.DataFrame(rows).sort_values("sample", kind="stable").reset_index(drop=True)
        string = ["sample", "skeleton_path", "status", "reason"]
        return table.astype({c: "string" for c in string} | {"label": "int32"})

    def _check_label(self, path: Path, action: int) -> tuple[str, str]:
        try:
            _, label = read_all_sqe(path)
        except ValueError as err:
            return STATUS_REJECTED, str(err)
        if label != action:
            return (
                STATUS_REJECTED,
                f"label {label} in the file disagrees with {path.stem} (A{action:02d})",
            )
        return STATUS_OK, ""

    @staticmethod
    def _row(sample: str, fields: dict, path: Path, status: str, reason: str) -> dict:
        row = {"sample": sample, "subject": -1, "action": -1, "environment": -1, "view": -1}
        row |= fields
        row["label"] = row["action"] - 1 if status == STATUS_OK else -1
        return row | {"skeleton_path": str(path), "status": status, "reason": reason}

    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        path = Path(row["skeleton_path"])
        if path.suffix == ".json":
            joints, _ = read_all_sqe(path)
            most = 1 if len(joints) else 0
        else:
            joints, most = read_reformatted(path)
        return RawSkeleton(joints[None], most)  # one body slot


NUCLA = NUCLADataset(
    kind="nucla",
    layout_name="ucla",
    class_names=read_lines("nucla_classes.txt"),
    max_frames=192,
    max_bodies=1,
    bodies_read=1,
    protocols={
        "123": partial(view_rule, (1, 2)),
        "132": partial(view_rule, (1, 3)),
        "231": partial(view_rule, (2, 3)),
    },
    two_person_actions=frozenset(),
    id_pattern=NUCLA_ID,
)
