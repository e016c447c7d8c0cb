"""The contract between a dataset module and the pipeline.

A dataset module provides one :class:`Dataset` subclass instance per dataset kind. The
pipeline only ever calls the methods below, so adding a dataset means writing a module that
implements them and registering the instance in :mod:`mmnet.datasets`.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from mmnet.skeleton.layouts import Layout, get_layout
from mmnet.status import STATUS_EXCLUDED, STATUS_OK, STATUS_REJECTED

__all__ = ["STATUS_EXCLUDED", "STATUS_OK", "STATUS_REJECTED"]  # the dataset modules' statuses


@dataclass(frozen=True)
class RawPaths:
    """Where a dataset's raw files are, as resolved from the config."""

    skeletons: tuple[Path, ...]
    videos: Path | None = None
    missing_skeletons: Path | None = None
    extra: Mapping[str, Path] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedRaw:
    """Where a generated (demo) kind's raw files lie, relative to its raw root
    ``results/<name>/raw/``: the raw paths a config entry gives for a real dataset.

    Attributes:
        skeletons: folder(s) of skeleton files.
        videos: folder of videos (None: the RGB stages do not run for the kind).
        missing_skeletons: the exclusion list, if the generator writes one.
        extra: the kind's further raw paths (:attr:`Dataset.extra_paths` and
            :attr:`Dataset.optional_paths` keys; N-UCLA's ``frames``).
        openpose_json: the generated OpenPose JSON folder, the ``openpose_json`` of
            ``pose_backend: import`` when the config entry gives none.
    """

    skeletons: tuple[str, ...]
    videos: str | None = None
    missing_skeletons: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)
    openpose_json: str | None = None

    def has(self, key: str) -> bool:
        """Whether the generator writes raw path ``key`` (``videos`` or an extra key)."""
        return self.videos is not None if key == "videos" else key in self.extra

    def raw_paths(self, root: Path) -> RawPaths:
        """The raw paths of a dataset generated under ``root``."""
        return RawPaths(
            skeletons=tuple(root / folder for folder in self.skeletons),
            videos=root / self.videos if self.videos else None,
            missing_skeletons=root / self.missing_skeletons if self.missing_skeletons else None,
            extra={key: root / path for key, path in self.extra.items()},
        )


#: A protocol is a rule that marks the training rows of a samples table (True = train). Most
#: rules read only the table's id columns; the raw paths are there for datasets whose
#: official splits are files (PKU-MMD).
SplitRule = Callable[[pd.DataFrame, RawPaths], pd.Series]


class UnusableSample(ValueError):
    """A sample that cannot be made although its files read fine (a PKU-MMD label window
    beyond the end of its sequence, an N-UCLA label that contradicts the file name).

    The skeleton stage always records it as ``rejected`` with this message, whatever
    ``skeleton.on_error`` says: the dataset is usable, this one sample is not.
    """


class FramesUnavailable(ValueError):
    """A sample's RGB frame files cannot be listed (no frame folder, no ``fileList.txt``, a
    line that is not numbers); the message names the path. The RGB stages record it for
    the sample and go on."""


@dataclass(frozen=True)
class RawSkeleton:
    """Joints of one sample as read, before body selection.

    Attributes:
        joints: ``(bodies_read, F, V, 3)`` float64; slot m holds the m-th body listed in each
            frame, zeros where a frame lists fewer bodies.
        max_bodies: the most bodies listed in any one frame (may exceed ``bodies_read``).
    """

    joints: np.ndarray
    max_bodies: int

    @property
    def n_frames(self) -> int:
        return self.joints.shape[1]


@dataclass(frozen=True)
class RgbSpec:
    """How the RGB stages see a dataset's frames (spec §4.3); one per dataset kind.

    Attributes:
        source: the raw path holding the RGB side, a config key: ``"videos"`` (NTU, PKU-MMD:
            video files, :meth:`Dataset.sample_video`) or ``"frames"`` (N-UCLA: image
            folders, :meth:`Dataset.frame_files`). A dataset entry that names it gets the
            RGB stages.
        patch: side of a body-part patch, in pixels of a frame ``reference_height`` high
            (NTU/PKU 96 at 1080; N-UCLA 48 at 480). Frames of another height scale it (the
            demo's 270-line videos use 24), so a patch always covers the same body area.
        reference_height: frame height ``patch`` refers to.
        color_size: ``(width, height)`` of the image the colour-space joints of
            :meth:`Dataset.reference_joints` refer to (Kinect v2: 1920x1080).
        frame_rule: which frames a tile uses (:data:`mmnet.frames.FRAME_RULES`): ``inner``
            (NTU, N-UCLA) or ``from_start`` (PKU-MMD's windows, spec §4.3.2).
        person_choice: how the target person is chosen among several detections:
            ``"skeleton"`` (the detection nearest the skeleton body of most motion energy,
            when the dataset has :meth:`Dataset.reference_joints`; else detection 0, the
            original's PKU rule) or ``"depth"`` (N-UCLA: the detection nearest the camera
            in the frame's depth image, spec §4.3.4; detection 0 without a depth image).
        choice_keypoint: BODY_25 keypoint that places a detection for that choice (1 Neck
            for NTU/PKU, 8 MidHip for N-UCLA).
        choice_joint: the skeleton joint at the same place (Kinect v2 2 Neck).
        choice_tolerance: pixels (at ``reference_height``) within which detections count as
            equally near the skeleton body, the first listed winning: PKU-MMD's 48 (its
            projected joints are tens of pixels off; two detections of one person then keep
            OpenPose's order, as the original); 0 elsewhere.
        max_depth: metres; farther bodies are never the target (NTU 4.5 m, N-UCLA 4 m).
        flip_swaps_rows: layouts whose flip also swaps the left/right rows (spec §4.3.6):
            ``"two_person"`` (NTU, PKU) or ``"always"`` (N-UCLA).
        part_shift: pixels (at ``reference_height``) the hand and leg patches (rows 1-4) move
            down when the person was chosen among several detections: N-UCLA's 15 (its
            original crops them 15 px lower in that case only, spec §4.3.4); 0 elsewhere.
    """

    source: str = "videos"
    patch: int = 96
    reference_height: int = 1080
    color_size: tuple[int, int] = (1920, 1080)
    frame_rule: str = "inner"
    person_choice: str = "skeleton"
    choice_keypoint: int = 1
    choice_joint: int = 2
    choice_tolerance: int = 0
    max_depth: float = 4.5
    flip_swaps_rows: str = "two_person"
    part_shift: int = 0

    def patch_size(self, frame_height: int) -> int:
        """Patch side for frames ``frame_height`` high, rounded to a multiple of 4 (the
        two-person layout's half patches are centred on a keypoint)."""
        return max(4, 4 * round(self.patch * frame_height / self.reference_height / 4))

    def tolerance_size(self, frame_height: int) -> float:
        """:attr:`choice_tolerance` in pixels of frames ``frame_height`` high."""
        return self.choice_tolerance * frame_height / self.reference_height

    def shift_size(self, frame_height: int) -> float:
        """:attr:`part_shift` in pixels of frames ``frame_height`` high."""
        return self.part_shift * frame_height / self.reference_height


@dataclass(frozen=True)
class SampleVideo:
    """Where a sample's frames are: sample frame ``i`` is video frame ``first_frame + i``.

    ``whole_video``: the video holds exactly the sample (NTU: its frame count must equal
    the skeleton's); otherwise the sample is a range of a longer video (PKU-MMD).
    """

    path: str | None
    first_frame: int
    n_frames: int
    whole_video: bool = True


@dataclass(frozen=True)
class Dataset(ABC):
    """Everything the pipeline needs to know about one dataset kind.

    Attributes:
        kind: registry key (``ntu60``...), the ``kind`` of a config entry.
        layout_name: skeleton layout of the raw joints (``ntu-rgb+d``, ``ucla``).
        class_names: index = label.
        max_frames: T of the processed arrays (frames are loop-padded up to it).
        max_bodies: M, persons kept per sample after body selection.
        bodies_read: bodies read per frame before selection.
        protocols: protocol name -> rule marking training rows.
        two_person_actions: 1-based action ids of mutual (two-person) classes.
        id_pattern: regular expression a sample id must match.
        missing_list: packaged exclusion list (``resources/``) used when the config gives
            no ``missing_skeletons``; None = exclude nothing by default.
        extra_paths: further raw paths the kind needs: config key -> ``"folder"`` or
            ``"file"``. Each is required in the config entry, checked to exist, and reaches
            :meth:`list_samples` and the split rules as ``RawPaths.extra[key]``.
        optional_paths: further raw paths the kind can use, as ``extra_paths`` but
            optional (N-UCLA's ``frames``); present ones reach ``RawPaths.extra[key]``.
        rgb: geometry of the RGB stages (patch size, person choice, flip).
        generated: for a demo kind, where :mod:`mmnet.demo` writes its raw files under
            ``results/<name>/raw/`` (the config entry then names no raw path); None for a
            real dataset.
    """

    kind: str
    layout_name: str
    class_names: tuple[str, ...]
    max_frames: int
    max_bodies: int
    bodies_read: int
    protocols: Mapping[str, SplitRule]
    two_person_actions: frozenset[int]
    id_pattern: str
    missing_list: str | None = None
    extra_paths: Mapping[str, str] = field(default_factory=dict)
    optional_paths: Mapping[str, str] = field(default_factory=dict)
    rgb: RgbSpec = RgbSpec()
    generated: GeneratedRaw | None = None

    @property
    def layout(self) -> Layout:
        return get_layout(self.layout_name)

    @property
    def num_class(self) -> int:
        return len(self.class_names)

    @abstractmethod
    def list_samples(self, raw: RawPaths) -> pd.DataFrame:
        """One row per raw sample, sorted by ``sample``.

        Required columns: ``sample`` (the dataset's id), ``label`` (0-based, -1 if unknown),
        ``skeleton_path``, ``status`` and ``reason`` (see ``STATUS_*``), plus the id fields
        the split rules read. Optional: ``video_path``.
        """

    @abstractmethod
    def read_skeleton(self, row: Mapping) -> RawSkeleton:
        """Raw joints of one sample (a row of :meth:`list_samples`); raises ``ValueError``
        naming the file and line for a malformed file."""

    # --- RGB side (frames, 2D pose, ROI); NTU's conventions are the defaults ---------------

    def sample_video(self, row: Mapping) -> SampleVideo:
        """The video holding a sample's frames (default: ``video_path``, the whole video)."""
        path = row.get("video_path")
        return SampleVideo(
            path if isinstance(path, str) and path else None, 0, int(row["n_frames"])
        )

    def frame_files(self, row: Mapping) -> list[Path] | None:
        """The image files of a sample's frames, sample frame k = entry k, for a dataset
        that ships frames instead of videos (N-UCLA); None: its frames are in videos
        (:meth:`sample_video`). Raises :class:`FramesUnavailable` naming the path."""
        return None

    def depth_files(self, row: Mapping) -> list[Path | None] | None:
        """The depth image of each of :meth:`frame_files` (None where there is none);
        None for a dataset without depth images."""
        return None

    def frame_stem(self, row: Mapping, frame: int) -> str:
        """File stem of video frame ``frame`` of a sample, as OpenPose names its output
        (``<stem>_keypoints.json``): the video's name and a 12-digit 0-based index."""
        return f"{row['sample']}_{frame:012d}"

    def openpose_json(self, root: Path, row: Mapping, frame: int) -> Path:
        """The OpenPose JSON of video frame ``frame`` in the authors' distributed layout
        (spec §1.4): one folder per sample."""
        return Path(root) / str(row["sample"]) / f"{self.frame_stem(row, frame)}_keypoints.json"

    def color_joints(self, row: Mapping) -> np.ndarray | None:
        """Skeleton joints in colour-image pixels as the sensor recorded them, ``(B, F, V,
        4)`` float64 with fields (colorX, colorY, depth z in metres, trackingState); body
        ``b`` of a frame is the ``b``-th listed, zeros where absent. ``None`` when the
        dataset has none: then the ``kinect`` pose backend is unavailable."""
        return None

    def reference_joints(self, row: Mapping) -> np.ndarray | None:
        """The skeleton bodies in colour-image pixels that the target-person choice matches
        detections to (same layout as :meth:`color_joints`, which it defaults to). PKU-MMD
        has no colour coordinates and projects its camera-space joints instead. ``None``:
        the target among several detections is detection 0."""
        return self.color_joints(row)

    def add_splits(self, table: pd.DataFrame, protocols: list[str], raw: RawPaths) -> pd.DataFrame:
        """Add one boolean column per protocol (True = training sample)."""
        for name in protocols:
            table[name] = self.protocols[name](table, raw).astype(bool).to_numpy()
        return table

    def missing_samples(self, raw: RawPaths) -> tuple[frozenset[str], str]:
        """Ids to exclude and the name of the list they come from (configured, else the
        packaged :attr:`missing_list`, else none)."""
        path = raw.missing_skeletons or (
            package_resource(self.missing_list) if self.missing_list else None
        )
        if path is None:
            return frozenset(), ""
        return frozenset(read_sample_list(path, self.id_pattern)), Path(path).name


def read_sample_list(path: Path | str, id_pattern: str) -> list[str]:
    """Sample ids from a list file, with or without the official prose header.

    Lines before the first id are header and skipped; blank lines are ignored; any other
    line after the first id is an error naming the file and line.
    """
    pattern = re.compile(id_pattern)
    ids: list[str] = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        token = line.strip()
        if pattern.fullmatch(token):
            ids.append(token)
        elif token and ids:
            raise ValueError(f"{path}, line {number}: {token!r} is not a sample id")
    return ids


def package_resource(name: str) -> Path:
    """Path of a file shipped in ``mmnet/datasets/resources``."""
    return Path(str(resources.files("mmnet.datasets") / "resources" / name))


def read_lines(name: str) -> tuple[str, ...]:
    return tuple(
        line.strip() for line in package_resource(name).read_text().splitlines() if line.strip()
    )
