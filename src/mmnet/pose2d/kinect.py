"""``kinect`` backend: the dataset's own colour-space skeleton joints, no model.

NTU's ``.skeleton`` files give every Kinect joint's pixel position in the 1920x1080 colour
image (fields colorX, colorY). They are mapped to the BODY_25 keypoints (spec A.4; the ROI
needs 0, 4, 7, 10, 13) and scaled to the video's actual size (the demo's videos are
480x270). People are the bodies listed in the frame, in file order. Confidence: 1 for a
tracked joint, 0.5 for an inferred one; an untracked joint is ``(0, 0, 0)`` as in OpenPose.

Sides (``pose2d.kinect.sides``): NTU's Kinect labels left and right mirror-wise against the
learned pose models (the person faces the camera; OpenPose's and MediaPipe's right wrist lies
on Kinect's WristLeft, measured in ``tests/unit/test_pose2d.py``). The default ``openpose``
fills each BODY_25 keypoint with the body part OpenPose gives that name (RWrist <- WristLeft),
so ROI rows hold what the original's OpenPose tiles held and tiles from every backend are
interchangeable; ``kinect`` keeps Kinect's own labels (RWrist <- WristRight), the pairing of
each row with the attention weight of the same Kinect joint (docs/rgb.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmnet.datasets.base import Dataset
from mmnet.pose2d.base import N_KEYPOINTS, FrameRequest, PoseBackend
from mmnet.skeleton.layouts import KINECT_V2_JOINTS


def _other_side(name: str) -> str:
    """``WristLeft`` <-> ``WristRight``; a name without a side stays."""
    for this, other in (("Left", "Right"), ("Right", "Left")):
        if name.endswith(this):
            return name[: -len(this)] + other
    return name


#: BODY_25 keypoint -> Kinect v2 joint of the same label (``KINECT_V2_JOINTS``), sides as
#: Kinect names them (``sides: kinect``).
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
#: The same with left and right exchanged on the Kinect side (``sides: openpose``, default).
MIRRORED = {
    body: KINECT_V2_JOINTS.index(_other_side(KINECT_V2_JOINTS[joint]))
    for body, joint in KINECT_TO_BODY_25.items()
}
SIDES = {"kinect": KINECT_TO_BODY_25, "openpose": MIRRORED}
_CONFIDENCE = np.array([0.0, 0.5, 1.0], dtype=np.float32)  # by trackingState 0, 1, 2


def kinect_people(
    color: np.ndarray, frame: int, scale: tuple[float, float], sides: str = "openpose"
) -> np.ndarray:
    """BODY_25 people of one frame from :meth:`Dataset.color_joints` output ``(B, F, V, 4)``."""
    mapping = SIDES[sides]
    body, kinect = np.array(list(mapping)), np.array(list(mapping.values()))
    joints = color[:, frame]  # (B, V, 4)
    listed = joints[np.abs(joints[..., :3]).sum(axis=(1, 2)) > 0]
    out = np.zeros((len(listed), N_KEYPOINTS, 3), dtype=np.float32)
    state = np.clip(listed[:, kinect, 3].astype(int), 0, 2)
    tracked = state > 0
    out[:, body, 0] = np.where(tracked, listed[:, kinect, 0] * scale[0], 0.0)
    out[:, body, 1] = np.where(tracked, listed[:, kinect, 1] * scale[1], 0.0)
    out[:, body, 2] = _CONFIDENCE[state]
    return out


class KinectBackend(PoseBackend):
    name = "kinect"

    def __init__(self, dataset: Dataset, sides: str = "openpose"):
        if sides not in SIDES:
            raise ValueError(f"kinect sides must be one of {sorted(SIDES)}, not {sides!r}")
        self.dataset, self.sides = dataset, sides

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
            out.append(kinect_people(color, request.frame, scale, self.sides))
        return out
