"""OpenPose-style detections of the demo's people, written as OpenPose writes them.

The PKU-MMD and N-UCLA demos ship what the MMNet authors ship for those datasets: one BODY_25
``*_keypoints.json`` per frame (spec §1.4), for the ``import`` pose route. No network runs:
a person's keypoints are the image positions of the very joints the frame was drawn from,
plus what a detector adds:

- sides as OpenPose names them. The frames are mirror images, as Kinect's are (a person
  facing the camera has the Kinect joint ``WristRight`` on the image's right), so OpenPose
  calls that wrist ``LWrist``; ``docs/rgb.md`` measures the same on NTU's real videos;
- nose, eyes and ears on the head (the face ones hidden when the face turns away), heels
  and small toes beside the ankles and feet;
- confidences between 0.4 and 0.95; keypoints outside the image, and now and then a wrist,
  undetected ``(0, 0, 0)``;
- people in OpenPose's usual order: most keypoints found first, then the tallest;
- now and then a spurious "person": a few low-confidence keypoints on the background.
"""

from __future__ import annotations

import numpy as np

from mmnet.demo.render import Pinhole
from mmnet.skeleton.layouts import KINECT_V2_JOINTS

N_KEYPOINTS = 25
_J = {name: i for i, name in enumerate(KINECT_V2_JOINTS)}

#: BODY_25 keypoint <- Kinect joint at the same place, sides mirrored (see above).
_FROM_JOINT = {
    1: "Neck",  # Neck (spec A.4; N-UCLA's ShoulderCenter)
    2: "ShoulderLeft",  # RShoulder
    3: "ElbowLeft",  # RElbow
    4: "WristLeft",  # RWrist
    5: "ShoulderRight",  # LShoulder
    6: "ElbowRight",  # LElbow
    7: "WristRight",  # LWrist
    8: "SpineBase",  # MidHip
    9: "HipLeft",  # RHip
    10: "KneeLeft",  # RKnee
    11: "AnkleLeft",  # RAnkle
    12: "HipRight",  # LHip
    13: "KneeRight",  # LKnee
    14: "AnkleRight",  # LAnkle
    19: "FootRight",  # LBigToe
    22: "FootLeft",  # RBigToe
}
_KEYPOINTS = np.array(list(_FROM_JOINT))
_JOINTS = np.array([_J[name] for name in _FROM_JOINT.values()])
_WRISTS = (4, 7)
_CONFIDENCE = (0.4, 0.95)
_MISSED_WRIST = 0.03  # chance per frame that a wrist is not found
_FACE_VISIBLE = -0.2  # nose and eyes are found until the face turns ~100 degrees away

_PERSON_TAIL = (
    ',"face_keypoints_2d":[],"hand_left_keypoints_2d":[],"hand_right_keypoints_2d":[],'
    '"pose_keypoints_3d":[],"face_keypoints_3d":[],"hand_left_keypoints_3d":[],'
    '"hand_right_keypoints_3d":[]}'
)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _points(joints: np.ndarray) -> np.ndarray:
    """3D positions ``(T, 25, 3)`` of the BODY_25 keypoints from camera-space joints
    ``(T, V, 3)`` in Kinect v2 order (the first 20 suffice: N-UCLA's Kinect v1 joints)."""
    j = {name: joints[:, i] for name, i in _J.items() if i < joints.shape[1]}
    points = np.zeros((len(joints), N_KEYPOINTS, 3))
    points[:, _KEYPOINTS] = joints[:, _JOINTS]
    head = j["Head"]
    across = _unit(j["ShoulderRight"] - j["ShoulderLeft"])  # towards OpenPose's L side
    up = _unit(head - j["Neck"])
    forward = _unit(np.cross(up, across))  # where the face looks
    points[:, 0] = head + 0.09 * forward - 0.03 * up  # Nose
    points[:, 15] = head + 0.07 * forward + 0.01 * up - 0.032 * across  # REye
    points[:, 16] = head + 0.07 * forward + 0.01 * up + 0.032 * across  # LEye
    points[:, 17] = head - 0.075 * across  # REar
    points[:, 18] = head + 0.075 * across  # LEar
    for side, ankle, foot, (small_toe, heel) in (
        (-1.0, "AnkleLeft", "FootLeft", (23, 24)),
        (1.0, "AnkleRight", "FootRight", (20, 21)),
    ):
        toward_toes = _unit(j[foot] - j[ankle])
        points[:, small_toe] = j[foot] + side * 0.045 * across
        points[:, heel] = j[ankle] - 0.06 * toward_toes - 0.03 * up
    return points


def _visible(joints: np.ndarray) -> np.ndarray:
    """``(T, 25)``: keypoints a detector would see (face ones only while it faces us)."""
    head, neck = joints[:, _J["Head"]], joints[:, _J["Neck"]]
    across = _unit(joints[:, _J["ShoulderRight"]] - joints[:, _J["ShoulderLeft"]])
    forward = _unit(np.cross(_unit(head - neck), across))
    to_camera = _unit(-head)
    facing = np.sum(forward * to_camera, axis=-1)
    visible = np.ones((len(joints), N_KEYPOINTS), dtype=bool)
    visible[:, [0, 15, 16]] = (facing > _FACE_VISIBLE)[:, None]
    for ear, side in ((17, -1.0), (18, 1.0)):
        visible[:, ear] = np.sum(side * across * to_camera, axis=-1) > -0.35
    return visible


def detect(
    joints: np.ndarray, camera: Pinhole, size: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """BODY_25 keypoints ``(T, 25, 3)`` (x, y in pixels of a ``size`` image, confidence) of
    one person drawn from camera-space joints ``(T, V, 3)``; undetected ones are 0, 0, 0."""
    scale = np.array([size[0] / camera.size[0], size[1] / camera.size[1]])
    points = _points(joints)
    xy = camera.project(points) * scale
    seen = _visible(joints) & (points[..., 2] > 0.1)
    seen &= (xy[..., 0] >= 0) & (xy[..., 0] < size[0]) & (xy[..., 1] >= 0) & (xy[..., 1] < size[1])
    for wrist in _WRISTS:
        seen[:, wrist] &= rng.random(len(joints)) >= _MISSED_WRIST
    out = np.zeros((len(joints), N_KEYPOINTS, 3))
    out[..., :2] = xy
    out[..., 2] = rng.uniform(*_CONFIDENCE, seen.shape)
    out[~seen] = 0.0
    return out


def spurious(
    size: tuple[int, int], rng: np.random.Generator, x_range: tuple[float, float]
) -> np.ndarray:
    """A false detection ``(25, 3)``: its mid-hip and 2-5 more keypoints of low confidence,
    bunched within about a tenth of the image, centred in ``x_range`` (pixels) on the upper
    half of the image (the mid-hip is what N-UCLA's depth rule looks at)."""
    out = np.zeros((N_KEYPOINTS, 3))
    others = rng.choice([1, 2, 5, 9, 12, 3, 6], size=int(rng.integers(2, 6)), replace=False)
    found = np.array([8, *others])
    centre = np.array([rng.uniform(*x_range), rng.uniform(0.15, 0.45) * size[1]])
    spread = 0.05 * size[1]
    out[found, :2] = centre + rng.uniform(-spread, spread, (len(found), 2))
    out[found, 2] = rng.uniform(0.08, 0.35, len(found))
    return out


def openpose_order(people: list[np.ndarray]) -> list[np.ndarray]:
    """People ``(25, 3)`` in the order OpenPose tends to list them: most keypoints found
    first, then the tallest (the order is OpenPose's own, not the sensor's)."""

    def key(person: np.ndarray) -> tuple[int, float]:
        found = person[:, 2] > 0
        height = np.ptp(person[found, 1]) if found.any() else 0.0
        return (-int(found.sum()), -float(height))

    return sorted(people, key=key)


def keypoints_json(people: list[np.ndarray]) -> str:
    """The ``*_keypoints.json`` text of one frame, as OpenPose (1.3 and later) writes it:
    compact, numbers with 6 significant digits, ``person_id`` -1, empty non-body lists."""
    persons = [
        '{"person_id":[-1],"pose_keypoints_2d":['
        + ",".join(f"{v:.6g}" for v in person.ravel().tolist())
        + "]"
        + _PERSON_TAIL
        for person in people
    ]
    return '{"version":1.3,"people":[' + ",".join(persons) + "]}"
