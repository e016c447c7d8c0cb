"""The 2D pose interface: frames in, OpenPose BODY_25 people out.

Every backend returns, for each requested frame, an array ``(P, 25, 3)`` float32 of
``(x, y, confidence)`` per BODY_25 keypoint and detected person, in pixels of the
full-resolution video frame, persons in the backend's own order (OpenPose's order for
``openpose`` and ``import``, file order for ``kinect``). A keypoint that was not found is
``(0, 0, 0)``, exactly as OpenPose writes it; a frame with nobody is ``(0, 25, 3)``; a
frame the backend has no data for (a missing JSON file) is ``None``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np

#: OpenPose BODY_25 keypoints (spec §1.4), index = keypoint id.
BODY_25 = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist",
    "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye",
    "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)  # fmt: skip
N_KEYPOINTS = len(BODY_25)


@dataclass(frozen=True)
class OpenPoseOptions:
    """``pose2d.openpose`` of the config (see the schema)."""

    interface: str = "auto"
    binary: str = "openpose.bin"
    model_folder: str | None = None
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoseOptions:
    """The ``pose2d`` section of the config (see the schema)."""

    max_people: int = 4
    compression_level: int = 3
    openpose: OpenPoseOptions = OpenPoseOptions()
    kinect_sides: str = "openpose"
    min_detection_confidence: float = 0.5  # mediapipe

    @classmethod
    def from_dict(cls, section: Mapping) -> PoseOptions:
        openpose = dict(section.get("openpose", {}))
        openpose["extra_args"] = tuple(openpose.get("extra_args", ()))
        return cls(
            max_people=section.get("max_people", 4),
            compression_level=section.get("compression_level", 3),
            openpose=OpenPoseOptions(**openpose),
            kinect_sides=section.get("kinect", {}).get("sides", "openpose"),
            min_detection_confidence=section.get("mediapipe", {}).get(
                "min_detection_confidence", 0.5
            ),
        )


def no_people() -> np.ndarray:
    return np.zeros((0, N_KEYPOINTS, 3), dtype=np.float32)


@dataclass(frozen=True)
class FrameRequest:
    """One frame to estimate.

    Attributes:
        row: the sample's row of ``samples.parquet`` (id, paths, frame count...).
        frame: the sample's frame index (0-based).
        video_frame: the frame's index in its video (differs for ranges of long videos).
        image: the extracted frame file (backends with ``needs_images``), else None.
        pixels: the decoded RGB frame (backends with ``needs_pixels``), else None.
        scale: full-resolution pixels per pixel of ``image`` or ``pixels`` (both are
            shrunk to ``frames.pose_height`` lines).
        video_size: ``(width, height)`` of the full-resolution video.
    """

    row: Mapping
    frame: int
    video_frame: int
    image: Path | None = None
    pixels: np.ndarray | None = None
    scale: float = 1.0
    video_size: tuple[int, int] = (0, 0)
    key: tuple = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "key", (str(self.row["sample"]), self.frame))


class PoseBackend(ABC):
    """A 2D pose source.

    ``needs_images``: it reads frame image files (a separate program such as the OpenPose
    binary; the pose stage writes them block by block, or extract_frames keeps them).
    ``needs_pixels``: it takes frames decoded in memory (an in-process model: nothing is
    written to disk).
    """

    name: ClassVar[str]
    needs_images: ClassVar[bool] = False
    needs_pixels: ClassVar[bool] = False

    @abstractmethod
    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        """People ``(P, 25, 3)`` (full-resolution pixels) for every request, in order."""


def parse_openpose_json(path: str | Path) -> np.ndarray:
    """People of one OpenPose ``*_keypoints.json`` file as ``(P, 25, 3)`` (spec §1.4).

    Raises ``ValueError`` naming the file for anything that is not BODY_25 output.
    """
    try:
        data = json.loads(Path(path).read_text())
        people = data["people"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: not an OpenPose keypoints file ({err})") from err
    out = np.zeros((len(people), N_KEYPOINTS, 3), dtype=np.float32)
    for i, person in enumerate(people):
        values = person.get("pose_keypoints_2d") if isinstance(person, dict) else None
        if not isinstance(values, list) or len(values) != 3 * N_KEYPOINTS:
            count = len(values) if isinstance(values, list) else "no"
            raise ValueError(
                f"{path}: person {i} has {count} pose_keypoints_2d values, BODY_25 has "
                f"{3 * N_KEYPOINTS} (was OpenPose run with another --model_pose?)"
            )
        out[i] = np.asarray(values, dtype=np.float32).reshape(N_KEYPOINTS, 3)
    return out


def scale_people(people: np.ndarray, scale: float) -> np.ndarray:
    """Keypoints of a ``scale`` times smaller image -> full resolution (0, 0, 0 stays)."""
    out = people.copy()
    out[..., :2] *= scale
    return out
