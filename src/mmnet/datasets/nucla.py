"""Northwestern-UCLA Multiview Action 3D (N-UCLA): 10 actions, 3 views, 20 Kinect v1 joints.

Two raw forms are in circulation and both give the same samples (spec §1.3):

- the authors' reformatted ``S{SS}A{AA}E{EE}V{VV}.skeleton`` files (the original reads
  these): NTU-like text, one body per frame, joint lines ``x,y,z,trackingState``;
- the widely shared ``all_sqe`` JSON files ``aAA_sSS_eEE_vVV.json`` (``file_name``,
  ``skeletons`` ``[frames][20][3]``, ``label``), named after the dataset's own folders.

The sample id is the original's ``S{SS}A{AA}E{EE}V{VV}``: the dataset's action folders a01-a06,
a08, a09, a11, a12 become A01-A10 and its environment index e (from 0) becomes E = e + 1. The
label is A - 1; an ``all_sqe`` file's own ``label`` field (A, 1..10) must agree with its name.
Both forms may sit in the configured folder(s); the same sample twice is an error.

Protocols ``123``, ``132``, ``231``: train on the first two views, test on the third.
T = 192 frames, one body (the first listed). A sequence longer than 192 frames keeps its
centred 192 (the original would crash). Excluded by default: the two one-frame sequences
the authors' reformatted skeletons lack (``resources/nucla_missing_skeletons.txt``), so that
the test splits hold exactly the original's 463 / 503 / 516 samples.
"""

from __future__ import annotations

import json
import re
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
    UnusableSample,
    read_lines,
)
from mmnet.datasets.ntu_format import SkeletonFormatError, parse_skeleton

NUCLA_ID = r"S(\d{2})A(\d{2})E(\d{2})V(\d{2})"
ALL_SQE_NAME = r"a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})"
#: The dataset's action folder number -> the original's A (a07 and a10 do not exist).
ACTION_OF_FOLDER = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 8: 7, 9: 8, 11: 9, 12: 10}
FOLDER_OF_ACTION = {action: folder for folder, action in ACTION_OF_FOLDER.items()}
VIEWS = (1, 2, 3)
JOINTS = 20
JOINT_LINE_FIELDS = 4  # x, y, z, trackingState
ID_FIELDS = ("subject", "action", "environment", "view")


@dataclass(frozen=True)
class ViewProtocol:
    """Split rule of protocol ``"123"``: views 1 and 2 train, view 3 tests. (A class, not a
    closure, so that datasets pickle into worker processes.)"""

    name: str

    def __call__(self, table: pd.DataFrame, raw: RawPaths | None = None) -> pd.Series:
        return table["view"].isin({int(self.name[0]), int(self.name[1])})


def original_name(subject: int, action: int, environment: int, view: int) -> str:
    """The dataset's own name of a sample, ``a08_s01_e00_v01`` for ``S01A07E01V01``."""
    return f"a{FOLDER_OF_ACTION[action]:02d}_s{subject:02d}_e{environment - 1:02d}_v{view:02d}"


def video_relpath(subject: int, action: int, environment: int, view: int) -> Path:
    """Where ``multiview_action_videos`` keeps a sample's video: ``a08/v01_s01_e00.avi``."""
    folder = f"a{FOLDER_OF_ACTION[action]:02d}"
    return Path(folder) / f"v{view:02d}_s{subject:02d}_e{environment - 1:02d}.avi"


def _ids_of(path: Path) -> tuple[str, dict[str, int], str]:
    """Sample id, id fields and a rejection reason ("" if fine) of one raw file."""
    if path.suffix == ".skeleton":
        match = re.fullmatch(NUCLA_ID, path.stem)
        if match is None:
            return path.stem, {}, "file name is not an N-UCLA id S{SS}A{AA}E{EE}V{VV}"
        fields = dict(zip(ID_FIELDS, map(int, match.groups()), strict=True))
        if fields["action"] not in FOLDER_OF_ACTION:
            return path.stem, fields, f"action A{fields['action']:02d} is not one of A01-A10"
    else:
        match = re.fullmatch(ALL_SQE_NAME, path.stem)
        if match is None:
            return path.stem, {}, "file name is not an N-UCLA name aAA_sSS_eEE_vVV"
        folder, subject, environment, view = map(int, match.groups())
        if folder not in ACTION_OF_FOLDER:
            return path.stem, {}, f"action a{folder:02d} does not exist in N-UCLA"
        fields = {
            "subject": subject, "action": ACTION_OF_FOLDER[folder],
            "environment": environment + 1, "view": view,
        }  # fmt: skip
    if fields["view"] not in VIEWS:
        return path.stem, fields, f"view {fields['view']} is not one of {VIEWS}"
    sample = "S{subject:02d}A{action:02d}E{environment:02d}V{view:02d}".format(**fields)
    return sample, fields, ""


def read_all_sqe(path: str | Path) -> dict:
    """An ``all_sqe`` file: ``file_name``, ``label`` and ``skeletons`` as ``(F, 20, 3)``."""
    try:
        content = json.loads(Path(path).read_bytes())
    except OSError as err:
        raise ValueError(f"{path}: cannot read file ({err.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(content, dict) or not {"file_name", "skeletons", "label"} <= set(content):
        raise ValueError(f"{path}: expected a JSON object with file_name, skeletons and label")
    try:
        frames = np.asarray(content["skeletons"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: 'skeletons' is not a [frames][20][3] list of numbers") from None
    if frames.size == 0:
        frames = frames.reshape(0, JOINTS, 3)
    if frames.ndim != 3 or frames.shape[1:] != (JOINTS, 3):
        raise ValueError(f"{path}: 'skeletons' has shape {frames.shape}, expected (frames, 20, 3)")
    return {**content, "skeletons": frames}


def read_reformatted(path: str | Path) -> RawSkeleton:
    """A reformatted ``.skeleton`` file: the first body of each frame, ``(1, F, 20, 3)``."""
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise SkeletonFormatError(path, None, f"cannot read file ({err.strerror})") from None
    # Commas separate the joint fields; as blanks the file is NTU's layout with 4-field joints.
    parsed = parse_skeleton(data.replace(b",", b" "), path, (0, 1, 2), JOINTS, JOINT_LINE_FIELDS)
    return RawSkeleton(parsed.dense(1), parsed.max_bodies)


@dataclass(frozen=True)
class NUCLADataset(Dataset):
    """N-UCLA; raw path ``skeletons``: folder(s) of ``.skeleton`` and/or ``all_sqe`` files."""

    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        missing, missing_source = self.missing_samples(raw)
        records: dict[str, dict] = {}
        for folder in raw.skeletons:
            paths = sorted(Path(folder).glob("*.skeleton")) + sorted(Path(folder).glob("*.json"))
            for path in paths:
                sample, fields, reason = _ids_of(path)
                if sample in records:
                    raise ValueError(
                        f"sample {sample} is given twice: {records[sample]['skeleton_path']} "
                        f"and {path}"
                    )
                ok = not reason
                if ok and sample in missing:
                    status, reason = STATUS_EXCLUDED, f"listed in {missing_source}"
                else:
                    status = STATUS_OK if ok else STATUS_REJECTED
                video = None
                if ok and raw.videos is not None:
                    video = str(raw.videos / video_relpath(**fields))
                records[sample] = {
                    "sample": sample,
                    **{key: fields.get(key, -1) for key in ID_FIELDS},
                    "original_name": original_name(**fields) if ok else None,
                    "label": fields["action"] - 1 if ok else -1,
                    "skeleton_path": str(path),
                    "video_path": video,
                    "status": status,
                    "reason": reason,
                }
        table = pd.DataFrame.from_records([records[s] for s in sorted(records)], columns=_COLUMNS)
        return table.astype(_DTYPES)

    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        path = Path(row["skeleton_path"])
        if path.suffix == ".skeleton":
            return read_reformatted(path)
        content = read_all_sqe(path)
        if content["file_name"] != path.stem:
            raise UnusableSample(
                f"{path}: file_name {content['file_name']!r} differs from the file's name"
            )
        action = int(row["action"])
        if content["label"] != action:
            raise UnusableSample(
                f"{path}: label {content['label']!r}, but the name's action "
                f"a{FOLDER_OF_ACTION[action]:02d} is A{action:02d} (all_sqe labels are A, 1-10)"
            )
        joints = content["skeletons"][None]  # (1, F, 20, 3): one body
        return RawSkeleton(joints, int(joints.any()))


_COLUMNS = [
    "sample", *ID_FIELDS, "original_name", "label", "skeleton_path", "video_path", "status",
    "reason",
]  # fmt: skip
_DTYPES = {
    "sample": "string", **dict.fromkeys(ID_FIELDS, "int32"), "original_name": "string",
    "label": "int32", "skeleton_path": "string", "video_path": "string", "status": "string",
    "reason": "string",
}  # fmt: skip

PROTOCOLS = ("123", "132", "231")

NUCLA = NUCLADataset(
    kind="nucla",
    layout_name="ucla",
    class_names=read_lines("nucla_classes.txt"),
    max_frames=192,
    max_bodies=1,
    bodies_read=1,
    protocols={name: ViewProtocol(name) for name in PROTOCOLS},
    two_person_actions=frozenset(),
    id_pattern=NUCLA_ID,
    missing_list="nucla_missing_skeletons.txt",
)
