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
    FramesUnavailable,
    RawPaths,
    RawSkeleton,
    RgbSpec,
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
#: The list of a frame folder's frames (``multiview_action/view_V/aAA_sSS_eEE/fileList.txt``).
FILE_LIST = "fileList.txt"
_DEPTH_FILE = re.compile(r"frame_(\d+)_tc_(\d+)_depth\.png")


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


def frames_relpath(subject: int, action: int, environment: int, view: int) -> Path:
    """Where ``multiview_action`` keeps a sample's frames: ``view_1/a08_s01_e00``."""
    folder = f"a{FOLDER_OF_ACTION[action]:02d}_s{subject:02d}_e{environment - 1:02d}"
    return Path(f"view_{view}") / folder


@dataclass(frozen=True)
class FileListEntry:
    """A kept line of a ``fileList.txt``: one RGB frame,
    ``frame_<number>_tc_<time_code>_rgb.jpg``.

    ``number`` stays the text as written: the original compares frame numbers as text.
    """

    number: str
    time_code: str
    line: int  # 1-based line of fileList.txt

    @property
    def rgb_name(self) -> str:
        return f"frame_{int(self.number)}_tc_{int(self.time_code)}_rgb.jpg"


def read_file_list(path: str | Path) -> list[FileListEntry]:
    """The lines of a ``fileList.txt`` the original keeps (spec §1.3): each line is split on
    blanks; a line of more than 3 tokens keeps tokens 3-5 (1-based); a line left with fewer
    than 3 is skipped (the original's "unconsistent frames"; so is a 4-token line, whose
    tokens 3-4 are only two). Of a kept triple, token 1 is the frame number and token 2 the
    time code; token 3 is never read.

    Raises :class:`FramesUnavailable` naming the file for a missing file, and the line for
    a frame number or time code that is not an integer.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise FramesUnavailable(f"{path}: no {FILE_LIST}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise FramesUnavailable(f"{path}: cannot read the frame list ({err})") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if len(tokens) > 3:
            tokens = tokens[2:5]
        if len(tokens) < 3:
            continue
        if not all(re.fullmatch(r"[+-]?\d+", token) for token in tokens[:2]):
            raise FramesUnavailable(
                f"{path}, line {number}: frame number and time code must be integers, "
                f"found {line.strip()!r}"
            )
        entries.append(FileListEntry(tokens[0], tokens[1], number))
    return entries


def filter_file_list(entries: list[FileListEntry]) -> list[FileListEntry]:
    """The original's frame list (``rgb_frames`` of its ``segment_rgbbody_nucla.py``, spec
    §4.3.5): entry k is the frame of OpenPose index k.

    For i = 1 .. len - 2 (entry 0 is always skipped): when entries i and i + 1 carry the
    same frame number, entry i + 1 is kept and i + 1 is not visited; otherwise entry i is
    kept. So the first entry is never used, nor is the last one, except when it repeats
    the frame number of the one before it (then it stands in for it: the spec's "never
    used" misses this case). Of three equal numbers in a row, the second and the third are
    kept.
    """
    kept = []
    skip = 0
    for i in range(len(entries) - 1):
        if i == skip:
            continue
        if entries[i].number == entries[i + 1].number:
            kept.append(entries[i + 1])
            skip = i + 1
        else:
            kept.append(entries[i])
    return kept


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
    """N-UCLA; raw path ``skeletons``: folder(s) of ``.skeleton`` and/or ``all_sqe`` files;
    optional ``frames``: the ``multiview_action`` folder (``view_V/aAA_sSS_eEE/`` frame
    folders with their ``fileList.txt``), for the RGB side."""

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
                video = frames = None
                if ok and raw.videos is not None:
                    video = str(raw.videos / video_relpath(**fields))
                if ok and "frames" in raw.extra:
                    frames = str(raw.extra["frames"] / frames_relpath(**fields))
                records[sample] = {
                    "sample": sample,
                    **{key: fields.get(key, -1) for key in ID_FIELDS},
                    "original_name": original_name(**fields) if ok else None,
                    "label": fields["action"] - 1 if ok else -1,
                    "skeleton_path": str(path),
                    "video_path": video,
                    "frames_dir": frames,
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

    def frame_files(self, row: Mapping) -> list[Path]:
        """The sample's RGB frames, entry k = OpenPose index k: the frame folder's
        ``fileList.txt`` through :func:`read_file_list` and :func:`filter_file_list`.

        Only the list is read: a listed file that is missing or unreadable is for the stage
        that reads it to record. Raises :class:`FramesUnavailable` naming the path when no
        frame folder is configured or on disk, the list is missing, or no line is usable.
        """
        folder, entries = self._frame_list(row)
        return [folder / entry.rgb_name for entry in entries]

    def depth_files(self, row: Mapping) -> list[Path | None]:
        """The depth image of each of :meth:`frame_files`: a ``frame_<number>_tc_*_depth.png``
        of the folder (the depth stream has its own time codes, so the original looks depth
        files up by frame number with any time code); of several, the one nearest in time
        to the RGB frame (the original takes whichever the folder walk lists first). None
        where there is none."""
        folder, entries = self._frame_list(row)
        depth: dict[int, list[tuple[int, Path]]] = {}
        for path in folder.glob("frame_*_depth.png"):
            match = _DEPTH_FILE.fullmatch(path.name)
            if match:
                depth.setdefault(int(match[1]), []).append((int(match[2]), path))
        out: list[Path | None] = []
        for entry in entries:
            found = depth.get(int(entry.number), [])
            rgb_time = int(entry.time_code)
            out.append(
                min(found, key=lambda tc: (abs(tc[0] - rgb_time), tc[0]))[1] if found else None
            )
        return out

    def _frame_list(self, row: Mapping) -> tuple[Path, list[FileListEntry]]:
        value = row.get("frames_dir")
        if not isinstance(value, str) or not value:
            raise FramesUnavailable(
                f"{row['sample']}: no frame folder (the dataset's 'frames' raw path, the "
                "multiview_action folder, is not configured)"
            )
        folder = Path(value)
        if not folder.is_dir():
            raise FramesUnavailable(f"{folder}: the sample's frame folder does not exist")
        entries = filter_file_list(read_file_list(folder / FILE_LIST))
        if not entries:
            raise FramesUnavailable(f"{folder / FILE_LIST}: no usable frame line")
        return folder, entries


_COLUMNS = [
    "sample", *ID_FIELDS, "original_name", "label", "skeleton_path", "video_path",
    "frames_dir", "status", "reason",
]  # fmt: skip
_DTYPES = {
    "sample": "string", **dict.fromkeys(ID_FIELDS, "int32"), "original_name": "string",
    "label": "int32", "skeleton_path": "string", "video_path": "string",
    "frames_dir": "string", "status": "string", "reason": "string",
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
    optional_paths={"frames": "folder"},
    # spec §4.3: frame folders; 48-pixel patches at 480 lines (240 x 240 canvas); among
    # several people the nearest by depth at MidHip within 4 m, its hands and legs 15 px
    # lower; the flip swaps the left/right rows of every layout
    rgb=RgbSpec(
        source="frames",
        patch=48,
        reference_height=480,
        color_size=(640, 480),
        person_choice="depth",
        choice_keypoint=8,
        choice_joint=0,
        max_depth=4.0,
        flip_swaps_rows="always",
        part_shift=15,
    ),
)
