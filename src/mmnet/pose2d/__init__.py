"""2D pose backends behind one interface (:class:`~mmnet.pose2d.base.PoseBackend`).

``kinect``: the dataset's colour-space skeleton joints; ``import``: existing OpenPose JSON;
``openpose``: the OpenPose binary; ``mediapipe``: BlazePose. A dataset's config entry picks
one (``pose_backend``); :func:`make_backend` builds it from the config.
"""

from __future__ import annotations

from pathlib import Path

from mmnet.datasets.base import Dataset
from mmnet.pose2d.base import BODY_25, FrameRequest, OpenPoseOptions, PoseBackend, PoseOptions

BACKENDS = ("kinect", "import", "openpose", "mediapipe")


def reads_image_files(name: str, options: PoseOptions) -> bool:
    """Whether backend ``name`` may read frame image files: only the OpenPose binary
    (``interface`` binary, or auto, which falls back to it; the other backends take no
    pixels or decoded ones)."""
    return name == "openpose" and options.openpose.interface != "python"


def runs_extract_frames(name: str, options: PoseOptions, keep_frames: bool) -> bool:
    """Whether the extract_frames stage runs before backend ``name``: only to keep the image
    files the OpenPose binary reads (``frames.keep``). Otherwise extract_pose2d decodes them
    itself, one block at a time, into a scratch folder (bounded disk use)."""
    return keep_frames and reads_image_files(name, options)


def make_backend(
    name: str,
    dataset: Dataset,
    *,
    openpose_json: str | Path | None = None,
    options: PoseOptions | None = None,
    workdir: str | Path | None = None,
) -> PoseBackend:
    """Backend ``name`` with the config's ``pose2d`` ``options`` (default: the schema's)."""
    options = options or PoseOptions()
    if name == "kinect":
        from mmnet.pose2d.kinect import KinectBackend

        return KinectBackend(dataset, options.kinect_sides)
    if name == "import":
        from mmnet.pose2d.from_json import ImportBackend

        if openpose_json is None:
            raise ValueError("the import backend needs the dataset's openpose_json folder")
        return ImportBackend(dataset, openpose_json)
    if name == "openpose":
        from mmnet.pose2d.openpose import make_openpose

        return make_openpose(options.openpose, workdir)
    if name == "mediapipe":
        from mmnet.pose2d.mediapipe import MediaPipeBackend

        return MediaPipeBackend(options.min_detection_confidence)
    raise ValueError(f"unknown pose backend {name!r}; known: {list(BACKENDS)}")


__all__ = [
    "BACKENDS", "BODY_25", "FrameRequest", "OpenPoseOptions", "PoseBackend", "PoseOptions",
    "make_backend", "reads_image_files", "runs_extract_frames",
]  # fmt: skip
