"""``kinect`` backend: the dataset's own colour-space skeleton joints, no model.

NTU's ``.skeleton`` files give every Kinect joint's pixel position in the 1920x1080 colour
image (fields colorX, colorY). They are mapped to the BODY_25 keypoints (spec A.4; the ROI
needs 0, 4, 7, 10, 13) and scaled to the video's actual size (the demo's videos are
480x270). People are the bodies listed in the frame, in file order. Confidence: 1 for a
tracked joint, 0.5 for an inferred one; an untracked joint is ``(0, 0, 0)`` as in OpenPose.

Sides: the mapping is A.4's (RWrist <- WristRight, RKnee <- KneeRight...), so a row's
image and its Kinect attention weight show the same joint. On NTU's videos, learned
models label sides the other way round (the person faces the camera: MediaPipe's right
wrist lies on Kinect's WristLeft, measured in ``tests/unit/test_pose2d.py``); see
``docs/rgb.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmnet.datasets.base import Dataset
from mmnet.pose2d.base import N_KEYPOINTS, FrameRequest, PoseBackend

#: BODY_25 keypoint -> Kinect v2 joint (``mmnet.skeleton.layouts.KINECT_V2_JOINTS``).
KINECT_TO_BODY_25 = {
    0: 3,  # Nose <- Head (A.4)
    1: 2,  # Neck <- Neck
    2: 8,  # RShoulder <- ShoulderRight
    3: 9,  # RElbow <- ElbowRight
    4: 10,  # RWrist <- WristRight (A.4)
    5: 4,  # LShoulder <- ShoulderLeft
    6: 5,  # LElbow <- ElbowLeft
    7: 6,  # LWrist <- WristLeft (A.4)
    8: 0,  # MidHip <- SpineBase
    9: 16,  # RHip <- HipRight
    10: 17,  # RKnee <- KneeRight (A.4)
    11: 18,  # RAnkle <- AnkleRight
    12: 12,  # LHip <- HipLeft
    13: 13,  # LKnee <- KneeLeft (A.4)
    14: 14,  # LAnkle <- AnkleLeft
    19: 15,  # LBigToe <- FootLeft
    22: 19,  # RBigToe <- FootRight
}
_BODY = np.array(list(KINECT_TO_BODY_25))
_KINECT = np.array(list(KINECT_TO_BODY_25.values()))
_CONFIDENCE = np.array([0.0, 0.5, 1.0], dtype=np.float32)  # by trackingState 0, 1, 2


def kinect_people(color: np.ndarray, frame: int, scale: tuple[float, float]) -> np.ndarray:
    """BODY_25 people of one frame from :meth:`Dataset.color_joints` output ``(B, F, V, 4)``."""
    joints = color[:, frame]  # (B, V, 4)
    listed = joints[np.abs(joints[..., :3]).sum(axis=(1, 2)) > 0]
    out = np.zeros((len(listed), N_KEYPOINTS, 3), dtype=np.float32)
    state = np.clip(listed[:, _KINECT, 3].astype(int), 0, 2)
    tracked = state > 0
    out[:, _BODY, 0] = np.where(tracked, listed[:, _KINECT, 0] * scale[0], 0.0)
    out[:, _BODY, 1] = np.where(tracked, listed[:, _KINECT, 1] * scale[1], 0.0)
    out[:, _BODY, 2] = _CONFIDENCE[state]
    return out


class KinectBackend(PoseBackend):
    name = "kinect"

    def __init__(self, dataset: Dataset):
        self.dataset = dataset

    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        cache: tuple[str, np.ndarray] | None = None
        for request in requests:
            sample = str(request.row["sample"])
            if cache is None or cache[0] != sample:
                color = self.dataset.color_joints(request.row)
                if color is None:
                    raise ValueError(
                        f"dataset kind {self.dataset.kind!r} has no colour-space joints: "
                        "choose another pose_backend"
                    )
                cache = (sample, color)
            color = cache[1]
            if request.frame >= color.shape[1]:
                out.append(None)
                continue
            width, height = self.dataset.rgb.color_size
            scale = (request.video_size[0] / width, request.video_size[1] / height)
            out.append(kinect_people(color, request.frame, scale))
        return out
