"""Deterministic generator of a small demo dataset in the exact raw NTU RGB+D formats.

Why: the pipeline must run end to end (and be tested) without the real NTU data. The demo
writes what NTU distributes, byte-format for byte-format: Kinect v2 ``.skeleton`` text files
(CRLF, 7 significant digits, 10-field body-info lines, 25 joints x 12 fields),
``*_rgb.avi`` videos and the missing-skeleton list. So the very readers, body selection,
ROI cropping and split code that will run on NTU run on the demo.

Content: 7 classes (6 single-person, 1 two-person) performed by synthetic subjects who differ
in size, proportions and clothes, seen by 3 cameras at azimuths -45, 0, +45 degrees
(C001, C002, C003). Each class is a parametrised motion with random speed, phase and
amplitude; the classes differ in skeleton motion and in the RGB appearance around the head,
wrists and knees (props: a blue cup, a red phone; limb orientation). Kinect artefacts the
downstream code must cope with are reproduced on purpose in a few files: sensor noise,
inferred joints, a spurious "ghost" body (a furniture-like cluster of joints listed after the
actors), frames without a body at the start, and samples whose skeleton is missing entirely.

Everything follows from ``seed``: performance, camera, subject and sensor randomness come
from generators seeded with ``(seed, stream, ids)``, so no file depends on generation order.
Which samples get a ghost, empty leading frames or a missing skeleton is decided up front
from ``seed`` and the sample list.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmnet.datasets.demo import DEMO_CLASSES, DEMO_TWO_PERSON_ACTIONS
from mmnet.demo.render import (
    COLOR_SIZE,
    FPS,
    Actor,
    Appearance,
    Prop,
    background,
    project_color,
    project_depth,
    render_frames,
    write_video,
)
from mmnet.logs import progress
from mmnet.skeleton.layouts import KINECT_V2_JOINTS

log = logging.getLogger(__name__)

#: Camera azimuths (degrees) of C001, C002, C003 about the scene's vertical axis.
CAMERA_AZIMUTHS_DEG = (-45.0, 0.0, 45.0)
SETUP = 1
N_MISSING = 3
MISSING_HEADER = (
    '{n} of the captured samples in the "NTU RGB+D demo" dataset have missing or incomplete '
    "skeleton data.\n"
    "If you are working on skeleton-based analysis, please ignore these files in your "
    "training and testing procedures.\n"
    "\n"
)

_V = len(KINECT_V2_JOINTS)
_J = {name: i for i, name in enumerate(KINECT_V2_JOINTS)}
_KINECT_ID_BASE = 72057594037927936  # 2**56: real Kinect body ids are 2**56 + a small count
_BACK_WALL = 2.0  # metres behind the scene centre
_EXTRA_PARTNER = 500  # subject-id offset of the second person in two-person samples

# Seed-stream tags: each kind of randomness gets its own stream.
_S_SUBJECT, _S_CAMERA, _S_PERFORMANCE, _S_SENSOR, _S_PLAN = 1, 2, 3, 4, 5

# Kinect bone hierarchy: the joint whose bone from this joint gives its orientation.
_CHILD = {
    "SpineBase": "SpineMid", "SpineMid": "SpineShoulder", "SpineShoulder": "Neck",
    "Neck": "Head", "ShoulderLeft": "ElbowLeft", "ElbowLeft": "WristLeft",
    "WristLeft": "HandLeft", "HandLeft": "HandTipLeft", "ShoulderRight": "ElbowRight",
    "ElbowRight": "WristRight", "WristRight": "HandRight", "HandRight": "HandTipRight",
    "HipLeft": "KneeLeft", "KneeLeft": "AnkleLeft", "AnkleLeft": "FootLeft",
    "HipRight": "KneeRight", "KneeRight": "AnkleRight", "AnkleRight": "FootRight",
}  # fmt: skip
_CHILD_IDX = np.array([(_J[a], _J[b]) for a, b in _CHILD.items()])
_LEAVES = np.array([j for j, name in enumerate(KINECT_V2_JOINTS) if name not in _CHILD])
_FRAGILE = np.array([_J[n] for n in (
    "ElbowLeft", "WristLeft", "HandLeft", "HandTipLeft", "ThumbLeft", "ElbowRight",
    "WristRight", "HandRight", "HandTipRight", "ThumbRight", "AnkleLeft", "FootLeft",
    "AnkleRight", "FootRight",
)])  # fmt: skip
_HANDISH = np.array([_J[n] for n in (
    "HandLeft", "HandTipLeft", "ThumbLeft", "HandRight", "HandTipRight", "ThumbRight",
)])  # fmt: skip

_JOINT_FMT = " ".join(["%.7g"] * 11) + " %d"
_BLOCK_FMT = "\r\n".join([_JOINT_FMT] * _V)
_INFO_FMT = "%d %d %d %d %d %d %d %.7g %.7g %d"


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`generate_demo` wrote."""

    out_dir: Path
    n_samples: int
    n_missing: int
    n_videos: int
    n_frames: int
    n_two_person: int
    n_ghost: int
    n_leading_empty: int
    total_bytes: int
    seconds: float
    missing: tuple[str, ...] = field(default=())


def sample_name(setup: int, camera: int, subject: int, replication: int, action: int) -> str:
    """NTU sample id ``SsssCcccPpppRrrrAaaa``."""
    return f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{action:03d}"


def _rng(seed: int, stream: int, *ids: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *ids])


# --------------------------------------------------------------------------------------
# Subjects


@dataclass(frozen=True)
class _Body:
    """Body dimensions of one subject, in metres."""

    height: float
    ankle_h: float
    shin: float
    thigh: float
    hip_w: float
    spine_mid: float
    spine_sh: float
    neck: float
    head: float
    shoulder_w: float
    shoulder_drop: float
    upper_arm: float
    forearm: float
    hand: float
    hand_tip: float
    thumb: float
    foot: float

    @property
    def hip_h(self) -> float:
        return self.ankle_h + self.shin + self.thigh

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm


_SKIN = ((236, 192, 160), (224, 172, 135), (198, 140, 100), (160, 110, 75), (118, 80, 56))
_HAIR = ((40, 30, 25), (85, 58, 35), (20, 20, 20), (125, 92, 52), (150, 150, 150))
_SHIRT = ((60, 140, 70), (230, 200, 60), (120, 60, 130), (240, 140, 40), (40, 150, 150),
          (235, 235, 235), (50, 50, 55), (150, 90, 60), (200, 110, 150))  # fmt: skip
_TROUSERS = ((40, 45, 80), (30, 30, 30), (95, 95, 100), (160, 140, 100), (70, 90, 130))
_SHOES = ((20, 20, 20), (235, 235, 235), (90, 60, 40))


def _jitter(rng: np.random.Generator, color: tuple[int, int, int], amount: int = 8):
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in color)


def _subject(seed: int, pid: int) -> tuple[_Body, Appearance]:
    """Size, proportions and clothes of subject ``pid`` (same in every sample)."""
    # Palette permutations shared by all subjects, so that subjects 1..9 all wear different
    # shirts and subjects 1..5 different trousers.
    perm = _rng(seed, _S_SUBJECT, 0)
    shirts, trousers = perm.permutation(len(_SHIRT)), perm.permutation(len(_TROUSERS))
    rng = _rng(seed, _S_SUBJECT, pid)
    h = rng.uniform(1.58, 1.85)
    leg, arm = rng.uniform(0.96, 1.04), rng.uniform(0.95, 1.05)
    shoulder, hip = rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)
    body = _Body(
        height=h, ankle_h=0.045 * h, shin=0.24 * h * leg, thigh=0.245 * h * leg,
        hip_w=0.034 * h * hip, spine_mid=0.15 * h, spine_sh=0.265 * h, neck=0.30 * h,
        head=0.075 * h, shoulder_w=0.075 * h * shoulder, shoulder_drop=0.012 * h,
        upper_arm=0.16 * h * arm, forearm=0.14 * h * arm, hand=0.035 * h, hand_tip=0.045 * h,
        thumb=0.035 * h, foot=0.085 * h,
    )  # fmt: skip
    look = Appearance(
        skin=_jitter(rng, _SKIN[rng.integers(len(_SKIN))]),
        hair=_jitter(rng, _HAIR[rng.integers(len(_HAIR))]),
        shirt=_jitter(rng, _SHIRT[shirts[(pid - 1) % len(_SHIRT)]]),
        trousers=_jitter(rng, _TROUSERS[trousers[(pid - 1) % len(_TROUSERS)]]),
        shoes=_jitter(rng, _SHOES[rng.integers(len(_SHOES))]),
        long_sleeves=bool(rng.random() < 0.4),
    )
    return body, look


# --------------------------------------------------------------------------------------
# Kinematics


def _rot(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) right-handed rotations about x (0), y (1) or z (2)."""
    angle = np.asarray(angle, float)
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((*angle.shape, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[..., axis, axis] = 1.0
    r[..., i, i], r[..., i, j], r[..., j, i], r[..., j, j] = c, -s, s, c
    return r


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def _two_bone(
    root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Analytic two-bone IK: middle joint (elbow/knee) bent towards ``pole``; (mid, end)."""
    d = target - root
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    dhat = d / np.maximum(dist, 1e-9)
    dist = np.clip(dist, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999)
    cos_a = np.clip((l1 * l1 + dist * dist - l2 * l2) / (2 * l1 * dist), -1.0, 1.0)
    n = _unit(pole - np.sum(pole * dhat, axis=-1, keepdims=True) * dhat)
    mid = root + l1 * (cos_a * dhat + np.sqrt(1 - cos_a * cos_a) * n)
    return mid, root + dist * dhat


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _envelope(t: np.ndarray, start: float, rise: float, end: float, fall: float) -> np.ndarray:
    """0 -> 1 between ``start`` and ``start+rise``, back to 0 between ``end`` and ``end+fall``."""
    return _smoothstep((t - start) / rise) * (1 - _smoothstep((t - end) / fall))


@dataclass
class _Controls:
    """Per-frame drivers of one body in its local frame (x right, y up, -z forward).

    Wrist targets are ``shoulder + wrist_rel`` blended with ``wrist_abs`` by ``wrist_w``;
    ankle targets are absolute.
    """

    pelvis: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    twist: np.ndarray
    head_pitch: np.ndarray
    head_roll: np.ndarray
    wrist_rel: dict[int, np.ndarray]
    elbow_pole: dict[int, np.ndarray]
    ankle: dict[int, np.ndarray]
    knee_pole: dict[int, np.ndarray]
    wrist_abs: dict[int, np.ndarray] = field(default_factory=dict)
    wrist_w: dict[int, np.ndarray] = field(default_factory=dict)
    hand_state: dict[int, np.ndarray] = field(default_factory=dict)


_SIDES = (-1, 1)  # left, right (right = +x)
_SIDE_NAME = {-1: "Left", 1: "Right"}


def _rest_controls(body: _Body, n: int, rng: np.random.Generator) -> _Controls:
    """Standing still with the arms hanging, plus a little natural sway."""
    sec = np.arange(n) / FPS
    ph = rng.uniform(0, 2 * np.pi, 4)
    pelvis = np.zeros((n, 3))
    pelvis[:, 0] = 0.012 * np.sin(2 * np.pi * 0.35 * sec + ph[0])
    pelvis[:, 1] = body.hip_h
    pelvis[:, 2] = 0.008 * np.sin(2 * np.pi * 0.27 * sec + ph[1])
    ones = np.ones((n, 1))
    return _Controls(
        pelvis=pelvis,
        pitch=0.03 + 0.01 * np.sin(2 * np.pi * 0.2 * sec + ph[2]),
        roll=0.01 * np.sin(2 * np.pi * 0.3 * sec + ph[3]),
        twist=np.zeros(n),
        head_pitch=np.zeros(n),
        head_roll=np.zeros(n),
        wrist_rel={s: ones * (s * 0.06, -0.95 * body.arm, -0.05) for s in _SIDES},
        elbow_pole={s: ones * (s * 0.4, -0.3, 1.0) for s in _SIDES},
        ankle={s: ones * (s * (body.hip_w + 0.02), body.ankle_h, 0.0) for s in _SIDES},
        knee_pole={s: ones * (s * 0.15, 0.0, -1.0) for s in _SIDES},
        hand_state={s: np.ones(n, int) for s in _SIDES},
    )


def _blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a + (b - a) * w[:, None]


def _controls(
    action: int, body: _Body, n: int, rng: np.random.Generator, shared: dict[str, float]
) -> tuple[_Controls, list[tuple[str, np.ndarray]]]:
    """Controls of one class; also the props to attach, as (kind, per-frame parameter)."""
    c = _rest_controls(body, n, rng)
    t = np.arange(n, dtype=float)
    sec = t / FPS
    speed = rng.uniform(0.8, 1.25)
    amp = rng.uniform(0.8, 1.2)
    phase = rng.uniform(0, 2 * np.pi)
    start = rng.uniform(0.06, 0.18) * n
    rise = rng.uniform(0.14, 0.22) * n / speed
    fall = rng.uniform(0.12, 0.2) * n / speed
    end = max(start + rise, rng.uniform(0.9, 0.97) * n - fall)
    env = _envelope(t, start, rise, end, fall)
    props: list[tuple[str, np.ndarray]] = []
    sw, arm, R, L = body.shoulder_w, body.arm, 1, -1
    head_rel = body.neck + body.head - (body.spine_sh - body.shoulder_drop)  # head above shoulder

    if action == 1:  # drink water: cup to the mouth, sip, back down
        mouth = np.array([-sw + 0.02, head_rel - 0.14, -0.13])
        c.wrist_rel[R] = _blend(c.wrist_rel[R], np.broadcast_to(mouth, (n, 3)), env)
        c.elbow_pole[R] = _blend(c.elbow_pole[R], np.broadcast_to((0.5, -1.0, -0.3), (n, 3)), env)
        sip = env * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * speed * sec + phase))
        c.head_pitch = -0.18 * amp * env
        c.hand_state[R][:] = 3
        props.append(("cup", 0.5 * amp * sip))
    elif action == 2:  # wave right hand above the head
        wave = np.sin(2 * np.pi * rng.uniform(1.3, 2.2) * speed * sec + phase)
        up = np.stack([0.10 + 0.12 * amp * wave, np.full(n, 0.7 * arm), np.full(n, -0.05)], -1)
        rel = _blend(c.wrist_rel[R], up, env)
        rel[:, 0] += 0.25 * np.sin(np.pi * env)  # swing out sideways on the way up
        c.wrist_rel[R] = rel
        c.elbow_pole[R] = _blend(c.elbow_pole[R], np.broadcast_to((1.0, -0.3, 0.1), (n, 3)), env)
        c.hand_state[R][env > 0.5] = 2
        c.roll = c.roll - 0.05 * env
    elif action == 3:  # kick forward with the right leg, once or twice
        kicks = int(rng.integers(1, 3))
        u = np.clip((t - start) / max(end + fall - start, 1.0), 0.0, 1.0) * kicks
        frac = np.where((u > 0) & (u < kicks), u % 1.0, 0.0)
        theta = rng.uniform(0.9, 1.3) * amp * np.sin(np.pi * frac)
        reach = 0.98 - 0.35 * np.sin(2 * np.pi * frac) ** 2 * (frac < 0.5)
        leg = body.thigh + body.shin
        hip = np.array([body.hip_w, body.hip_h, 0.0])
        c.ankle[R] = hip + (reach * leg)[:, None] * np.stack(
            [np.zeros(n), -np.cos(theta), -np.sin(theta)], -1
        )
        active = np.sin(np.pi * np.clip(u / kicks, 0, 1))
        c.pitch = c.pitch - 0.15 * np.sin(np.pi * frac) - 0.03 * active
        for s in _SIDES:
            c.wrist_rel[s] = _blend(
                c.wrist_rel[s], np.broadcast_to((s * 0.25, -0.85 * arm, -0.05), (n, 3)), active
            )
    elif action == 4:  # squat down and rise
        depth = rng.uniform(0.18, 0.28) * body.height * amp
        c.pelvis[:, 1] -= depth * env
        c.pelvis[:, 2] += 0.12 * env
        c.pitch = c.pitch + 0.45 * env
        for s in _SIDES:
            fwd = np.broadcast_to((s * 0.03, -0.05, -0.9 * arm), (n, 3))
            c.wrist_rel[s] = _blend(c.wrist_rel[s], fwd, env)
            c.elbow_pole[s] = _blend(c.elbow_pole[s], np.broadcast_to((s, -1.0, 0.0), (n, 3)), env)
    elif action == 5:  # clap hands in front of the chest
        gap = 0.03 + 0.22 * amp * (
            0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(1.6, 2.6) * speed * sec + phase)
        )
        for s in _SIDES:
            chest = np.stack([-s * sw + s * gap / 2, np.full(n, -0.12), np.full(n, -0.30)], -1)
            c.wrist_rel[s] = _blend(c.wrist_rel[s], chest, env)
            c.elbow_pole[s] = _blend(c.elbow_pole[s], np.broadcast_to((s, -1.0, 0.3), (n, 3)), env)
            c.hand_state[s][env > 0.5] = 2
    elif action == 6:  # phone call: left hand holds a phone at the left ear
        env = _envelope(t, 0.3 * start, rise, n + 10.0, fall)
        # wrist at the jaw, in front of the shoulder: the forearm then rises from an elbow
        # held low in front and the hand (with the phone) lies against the ear
        jaw = np.array([sw - 0.09 - 0.02, head_rel - 0.13, -0.10])
        c.wrist_rel[L] = _blend(c.wrist_rel[L], np.broadcast_to(jaw, (n, 3)), env)
        c.elbow_pole[L] = _blend(c.elbow_pole[L], np.broadcast_to((-0.3, -1.0, -0.3), (n, 3)), env)
        c.head_roll = -0.12 * amp * env
        c.head_pitch = 0.05 * np.sin(2 * np.pi * 0.8 * speed * sec + phase) * env
        c.hand_state[L][:] = 3
        props.append(("phone", env))
    elif action == 7:  # handshake: right hands meet half-way between the two people
        d, y_meet = shared["distance"], shared["meet_height"]
        env = _envelope(
            t, shared["start"] + rng.uniform(-2, 2), shared["rise"], shared["end"], shared["fall"]
        )
        shake = 0.035 * shared["amp"] * np.sin(2 * np.pi * shared["freq"] * sec + shared["phase"])
        meet = np.stack([np.full(n, 0.03), y_meet + shake * env, np.full(n, -d / 2 + 0.06)], -1)
        c.wrist_abs[R], c.wrist_w[R] = meet, env
        c.elbow_pole[R] = _blend(c.elbow_pole[R], np.broadcast_to((0.6, -1.0, 0.4), (n, 3)), env)
        c.pitch = c.pitch + 0.08 * env
        c.hand_state[R][env > 0.6] = 3
    else:
        raise ValueError(f"unknown demo action {action}")
    return c, props


def _pose(body: _Body, c: _Controls) -> np.ndarray:
    """Joint positions (T, 25, 3) in the body's local frame from the controls."""
    n = len(c.pelvis)
    out = np.zeros((n, _V, 3))
    rt = _rot(1, c.twist) @ _rot(0, -c.pitch) @ _rot(2, -c.roll)
    rh = rt @ _rot(0, -c.head_pitch) @ _rot(2, -c.head_roll)

    def torso(v: tuple[float, float, float]) -> np.ndarray:
        return c.pelvis + rt @ np.asarray(v, float)

    out[:, _J["SpineBase"]] = c.pelvis
    out[:, _J["SpineMid"]] = torso((0, body.spine_mid, 0.0))
    out[:, _J["SpineShoulder"]] = torso((0, body.spine_sh, 0.0))
    out[:, _J["Neck"]] = torso((0, body.neck, 0.0))
    out[:, _J["Head"]] = out[:, _J["Neck"]] + rh @ np.array([0.0, body.head, 0.01])
    hip_rot = _rot(1, 0.3 * c.twist)
    fwd = np.array([0.0, 0.0, -1.0])
    for s in _SIDES:
        name = _SIDE_NAME[s]
        shoulder = torso((s * body.shoulder_w, body.spine_sh - body.shoulder_drop, 0.01))
        target = shoulder + c.wrist_rel[s]
        if s in c.wrist_abs:
            target = _blend(target, c.wrist_abs[s], c.wrist_w[s])
        elbow, wrist = _two_bone(
            shoulder, target, body.upper_arm, body.forearm, _unit(c.elbow_pole[s])
        )
        fdir = _unit(wrist - elbow)
        hand = wrist + body.hand * fdir
        tdir = _unit(0.6 * fdir + np.array([-s * 0.5, 0.0, 0.0]) + 0.4 * fwd)
        out[:, _J["Shoulder" + name]] = shoulder
        out[:, _J["Elbow" + name]] = elbow
        out[:, _J["Wrist" + name]] = wrist
        out[:, _J["Hand" + name]] = hand
        out[:, _J["HandTip" + name]] = hand + body.hand_tip * fdir
        out[:, _J["Thumb" + name]] = hand + 0.8 * body.thumb * tdir

        hip = c.pelvis + hip_rot @ np.array([s * body.hip_w, -0.005, 0.0])
        knee, ankle = _two_bone(hip, c.ankle[s], body.thigh, body.shin, _unit(c.knee_pole[s]))
        shin = _unit(ankle - knee)
        side_axis = hip_rot @ np.array([1.0, 0.0, 0.0])
        foot_dir = _unit(np.cross(side_axis, shin))
        out[:, _J["Hip" + name]] = hip
        out[:, _J["Knee" + name]] = knee
        out[:, _J["Ankle" + name]] = ankle
        out[:, _J["Foot" + name]] = ankle + body.foot * _unit(0.95 * foot_dir + 0.3 * shin)
    return out


# --------------------------------------------------------------------------------------
# Performances (one per subject x replication x action, seen by every camera)


@dataclass(frozen=True, eq=False)
class _Person:
    """One performer in world coordinates (y up, floor at 0)."""

    joints: np.ndarray  # (T, 25, 3)
    yaw: float  # facing direction (radians about y; 0 = facing camera C002)
    look: Appearance
    lean: np.ndarray  # (T, 2): Kinect leanX, leanY
    hands: np.ndarray  # (T, 4): handLeftConfidence, handLeftState, ...Right...
    props: tuple[tuple[str, np.ndarray, np.ndarray], ...]  # (kind, centre, axis) (T, 3)


@dataclass(frozen=True, eq=False)
class _Performance:
    n_frames: int
    persons: tuple[_Person, ...]


def _props_world(
    kinds: list[tuple[str, np.ndarray]], local: np.ndarray, to_world: np.ndarray
) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    """Cup in the right hand (upright, tilted while sipping), phone along the left hand."""
    out = []
    for kind, param in kinds:
        if kind == "cup":
            hand = local[:, _J["HandRight"]]
            axis = _unit(np.stack([np.zeros_like(param), np.ones_like(param), param], -1))
            centre = hand + np.array([-0.035, 0.015, -0.03])
        else:
            hand = local[:, _J["HandLeft"]]
            axis = _unit(local[:, _J["HandTipLeft"]] - local[:, _J["WristLeft"]])
            centre = hand + np.array([0.03, 0.01, 0.0])
        out.append((kind, centre @ to_world.T, axis @ to_world.T))
    return tuple(out)


def _hand_info(states: dict[int, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Kinect (confidence, state) per hand; now and then the tracker loses the hand state."""
    n = len(states[-1])
    cols = []
    for s in _SIDES:
        state = states[s].copy()
        lost = rng.random(n) < 0.12
        state[lost] = 0
        cols += [(state > 0).astype(int), state]
    return np.stack(cols, -1)


def _performance(
    seed: int, subject: int, replication: int, action: int, frames: tuple[int, int]
) -> _Performance:
    rng = _rng(seed, _S_PERFORMANCE, SETUP, subject, replication, action)
    n = int(rng.integers(frames[0], frames[1] + 1))
    centre = np.array([rng.uniform(-0.2, 0.2), 0.0, rng.uniform(-0.2, 0.2)])
    if action in DEMO_TWO_PERSON_ACTIONS:
        pair_yaw = math.radians(rng.uniform(-15, 15))
        people = [(subject, -1), (_EXTRA_PARTNER + subject, 1)]
        bodies = [_subject(seed, pid) for pid, _ in people]
        shared = {
            "distance": rng.uniform(0.72, 0.85),
            "meet_height": 0.6 * float(np.mean([b.height for b, _ in bodies])),
            "start": rng.uniform(0.05, 0.15) * n, "rise": rng.uniform(0.18, 0.25) * n,
            "end": rng.uniform(0.7, 0.78) * n, "fall": rng.uniform(0.15, 0.2) * n,
            "amp": rng.uniform(0.8, 1.2), "freq": rng.uniform(2.0, 3.0),
            "phase": rng.uniform(0, 2 * np.pi),
        }  # fmt: skip
        # the first person stands on the left facing +x, the partner on the right facing -x
        place = [
            (
                centre + _rot(1, pair_yaw) @ np.array([side * shared["distance"] / 2, 0.0, 0.0]),
                pair_yaw + side * math.pi / 2,
            )
            for _, side in people
        ]
    else:
        people = [(subject, 0)]
        bodies = [_subject(seed, subject)]
        shared = {}
        place = [(centre, math.radians(rng.uniform(-12, 12)))]

    persons = []
    for (body, look), (pos, yaw) in zip(bodies, place, strict=True):
        controls, prop_kinds = _controls(action, body, n, rng, shared)
        local = _pose(body, controls)
        to_world = _rot(1, yaw)
        joints = local @ to_world.T + pos
        lean = np.stack([np.sin(controls.roll), np.sin(controls.pitch)], -1)
        lean = lean + rng.normal(0, 0.01, lean.shape)
        props = _props_world(prop_kinds, local, to_world)
        props = tuple((k, c + pos, a) for k, c, a in props)
        persons.append(
            _Person(joints, yaw, look, lean, _hand_info(controls.hand_state, rng), props)
        )
    return _Performance(n, tuple(persons))


# --------------------------------------------------------------------------------------
# Kinect sensor simulation (per camera)


@dataclass(frozen=True)
class _Camera:
    azimuth: float  # radians
    distance: float
    height: float
    pitch: float  # downward tilt, radians

    def _tilt(self) -> np.ndarray:
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])

    def rotation(self) -> np.ndarray:
        """World-to-camera rotation: about the vertical by the azimuth, then the tilt."""
        return self._tilt() @ _rot(1, self.azimuth)

    def to_camera(self, p: np.ndarray) -> np.ndarray:
        """World points (..., 3) to Kinect camera space (x right in the image, y up, z depth)."""
        return p @ self.rotation().T + self._tilt() @ np.array([0.0, -self.height, self.distance])


def _camera(seed: int, camera: int) -> _Camera:
    rng = _rng(seed, _S_CAMERA, SETUP, camera)
    return _Camera(
        azimuth=math.radians(CAMERA_AZIMUTHS_DEG[camera - 1] + rng.uniform(-3, 3)),
        distance=rng.uniform(3.3, 3.7),
        height=rng.uniform(0.95, 1.1),
        pitch=math.radians(rng.uniform(3, 8)),
    )


def demo_background(seed: int, camera: int, video_size: tuple[int, int]) -> np.ndarray:
    """The empty scene of camera ``camera`` (1-based), as behind every actor in its videos."""
    cam = _camera(seed, camera)
    back_wall = cam.to_camera(np.array([0.0, 0.0, _BACK_WALL]))  # where floor meets the wall
    row = project_color(back_wall)[1] * video_size[1] / COLOR_SIZE[1]
    return background(seed, SETUP, camera, video_size, float(row))


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    aw, av_ = a[..., :1], a[..., 1:]
    bw, bv = b[..., :1], b[..., 1:]
    w = aw * bw - np.sum(av_ * bv, -1, keepdims=True)
    v = aw * bv + bw * av_ + np.cross(av_, bv)
    return np.concatenate([w, v], -1)


def _orientations(joints: np.ndarray, yaw: float) -> np.ndarray:
    """Plausible (T, 25, 4) joint quaternions (w, x, y, z): the bone to the child joint as
    the local y axis, twisted with the body's facing; leaf joints are 0 as in Kinect files."""
    n = len(joints)
    quat = np.zeros((n, _V, 4))
    a = yaw + math.pi  # a Kinect body facing the camera has a ~180 degree yaw
    q_yaw = np.array([math.cos(a / 2), 0.0, math.sin(a / 2), 0.0])
    d = _unit(joints[:, _CHILD_IDX[:, 1]] - joints[:, _CHILD_IDX[:, 0]])
    d = d @ _rot(1, a)  # = R(-a) @ d: bone direction in the body's yaw frame
    arc = np.stack([1 + d[..., 1], d[..., 2], np.zeros_like(d[..., 0]), -d[..., 0]], -1)
    flip = arc[..., 0] < 1e-4
    arc[flip] = (0.0, 1.0, 0.0, 0.0)
    arc = _unit(arc)
    quat[:, _CHILD_IDX[:, 0]] = _quat_mul(np.broadcast_to(q_yaw, arc.shape), arc)
    return quat


@dataclass(frozen=True, eq=False)
class _KinectBody:
    """One body as the Kinect reports it in one sample."""

    body_id: int
    present: np.ndarray  # (T,) bool
    info: np.ndarray  # (T, 9): fields 2..10 of the body-info line
    values: np.ndarray  # (T, 25, 12)


def _kinect_values(xyz: np.ndarray, quat: np.ndarray, state: np.ndarray) -> np.ndarray:
    vals = np.empty((*xyz.shape[:2], 12))
    vals[..., 0:3] = xyz
    vals[..., 3:5] = project_depth(xyz)
    vals[..., 5:7] = project_color(xyz)
    vals[..., 7:11] = quat
    vals[..., 11] = state
    return vals + 0.0  # no negative zeros in the text


def _sense_person(
    person: _Person, cam: _Camera, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space joints with Kinect-like noise, and tracking states: (T, 25, 3), (T, 25)."""
    n = len(person.joints)
    xyz = cam.to_camera(person.joints)
    sigma = np.full(_V, 0.004)
    sigma[_HANDISH] = 0.008
    xyz = xyz + rng.normal(0, 0.004, (1, _V, 3)) + rng.normal(0, 1, (n, _V, 3)) * sigma[:, None]
    state = np.full((n, _V), 2)
    for j in _FRAGILE:
        for _ in range(rng.poisson(0.25 * n / 50)):
            a = int(rng.integers(0, n))
            b = min(n, a + int(rng.integers(2, 9)))
            state[a:b, j] = 1
            xyz[a:b, j] += rng.normal(0, 0.02, 3)
    return xyz, state


def _ghost(n: int, first: int, rng: np.random.Generator) -> _KinectBody:
    """A spurious body: 25 joints jittering in a ~0.15 m cluster (furniture seen as a person)
    for a contiguous run of frames."""
    # Something at chair height beside the actor, seen by this camera only.
    side = rng.choice([-1.0, 1.0])
    centre = np.array(
        [side * rng.uniform(0.7, 1.1), rng.uniform(-0.5, -0.1), rng.uniform(2.9, 4.2)]
    )
    offsets = rng.normal(0, 0.045, (_V, 3))
    offsets -= offsets.mean(0)
    offsets *= np.minimum(1.0, 0.09 / np.linalg.norm(offsets, axis=-1, keepdims=True))
    jitter = np.clip(rng.normal(0, 0.008, (n, _V, 3)), -0.015, 0.015)
    xyz = centre + offsets + jitter
    quat = _unit(rng.normal(0, 1, (_V, 4)) + np.array([0.0, 0.0, 1.0, 0.0]))
    quat = np.broadcast_to(quat, (n, _V, 4)) + rng.normal(0, 0.02, (n, _V, 4))
    quat = _unit(quat)
    quat[:, _LEAVES] = 0.0
    state = np.where(rng.random((n, _V)) < 0.7, 1, 2)
    a = int(rng.integers(max(first, 1), max(first, 1) + max(1, n // 3)))
    length = int(rng.integers(max(4, n // 4), max(5, n - a)))
    present = np.zeros(n, bool)
    present[a : min(n, a + length)] = True
    info = np.zeros((n, 9))
    info[:, 6:8] = rng.uniform(-0.5, 0.5, 2)
    info[:, 8] = 2
    return _KinectBody(
        _KINECT_ID_BASE + int(rng.integers(3000, 60000)),
        present,
        info,
        _kinect_values(xyz, quat, state),
    )


def _skeleton_text(n_frames: int, bodies: list[_KinectBody]) -> bytes:
    """The ``.skeleton`` file content: NTU layout, %.7g numbers, CRLF line ends."""
    lines = [str(n_frames)]
    for t in range(n_frames):
        here = [b for b in bodies if b.present[t]]
        lines.append(str(len(here)))
        for b in here:
            lines.append(_INFO_FMT % (b.body_id, *b.info[t].tolist()))
            lines.append(str(_V))
            lines.append(_BLOCK_FMT % tuple(b.values[t].ravel().tolist()))
    text = "\r\n".join(lines) + "\r\n"
    # Real files come from C#: exponents are written "E-05", not "e-05".
    return text.replace("e", "E").encode("ascii")


# --------------------------------------------------------------------------------------
# Driver


@dataclass(frozen=True)
class _Plan:
    """Which samples carry which artefact (decided once from the seed and the sample list)."""

    missing: frozenset[str]
    ghost: frozenset[str]
    leading_empty: frozenset[str]


def _plan(seed: int, names: list[str], actions: dict[str, int]) -> _Plan:
    rng = _rng(seed, _S_PLAN)
    eligible = [s for s in sorted(names) if actions[s] not in DEMO_TWO_PERSON_ACTIONS]
    order = [eligible[i] for i in rng.permutation(len(eligible))]
    n_missing = min(N_MISSING, max(0, len(eligible) - 2))
    missing, rest = order[:n_missing], order[n_missing:]
    k = max(1, round(0.1 * len(names))) if rest else 0
    ghost = [rest[i] for i in rng.permutation(len(rest))[:k]]
    leading = [rest[i] for i in rng.permutation(len(rest))[:k]]
    return _Plan(frozenset(missing), frozenset(ghost), frozenset(leading))


def _write_sample(
    out_dir: Path,
    name: str,
    seed: int,
    ids: tuple[int, ...],
    perf: _Performance,
    cam: _Camera,
    plan: _Plan,
    bg: np.ndarray,
    video_size: tuple[int, int],
) -> tuple[int, int]:
    """Write one skeleton file and its video; returns (bytes written, video frames)."""
    rng = _rng(seed, _S_SENSOR, *ids)
    n = perf.n_frames
    lead = int(rng.integers(1, 4)) if name in plan.leading_empty else 0
    bodies, actors = [], []
    used_ids: set[int] = set()
    for person in perf.persons:
        xyz, state = _sense_person(person, cam, rng)
        quat = _orientations(xyz, person.yaw + cam.azimuth)
        present = np.ones(n, bool)
        present[:lead] = False
        info = np.zeros((n, 9))
        info[:, 1:5] = person.hands
        info[:, 6:8] = person.lean
        info[:, 8] = 2
        body_id = _KINECT_ID_BASE + int(rng.integers(3000, 60000))
        while body_id in used_ids:
            body_id += 1
        used_ids.add(body_id)
        bodies.append(_KinectBody(body_id, present, info, _kinect_values(xyz, quat, state)))
        r = cam.rotation()
        props = tuple(
            Prop(
                center=cam.to_camera(centre),
                axis=axis @ r.T,
                width=0.075 if kind == "cup" else 0.07,
                length=0.11 if kind == "cup" else 0.14,
                color=(30, 80, 225) if kind == "cup" else (215, 35, 35),
                rim=(225, 235, 250) if kind == "cup" else (55, 20, 20),
            )
            for kind, centre, axis in person.props
        )
        actors.append(Actor(xyz, person.look, props))
    if name in plan.ghost:
        bodies.append(_ghost(n, lead, rng))
    if name in plan.missing:
        bodies = []

    skel = out_dir / "skeletons" / f"{name}.skeleton"
    skel.write_bytes(_skeleton_text(n, bodies))
    video = out_dir / "videos" / f"{name}_rgb.avi"
    written = write_video(video, render_frames(actors, bg, n), video_size)
    return skel.stat().st_size + video.stat().st_size, written


def generate_demo(
    out_dir: Path,
    *,
    seed: int = 0,
    subjects: int = 6,
    replications: int = 2,
    cameras: int = 3,
    frames: tuple[int, int] = (40, 56),
    video_size: tuple[int, int] = (480, 270),
) -> DemoSummary:
    """Write the demo dataset (skeletons, videos, missing-skeleton list) under ``out_dir``.

    Samples are all combinations of subject P001.., replication R001.., camera C001..C003
    and action A001..A007 in setup S001. Existing files of the same names are overwritten.
    """
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if not 1 <= cameras <= len(CAMERA_AZIMUTHS_DEG):
        raise ValueError(f"cameras must be 1..{len(CAMERA_AZIMUTHS_DEG)}")
    if subjects < 1 or replications < 1:
        raise ValueError("subjects and replications must be >= 1")
    if not 8 <= frames[0] <= frames[1]:
        raise ValueError("frames must be (lo, hi) with 8 <= lo <= hi")
    if video_size[0] % 2 or video_size[1] % 2 or min(video_size) < 16:
        raise ValueError("video_size must be even and at least 16x16 (yuv420p)")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    (out_dir / "skeletons").mkdir(parents=True, exist_ok=True)
    (out_dir / "videos").mkdir(parents=True, exist_ok=True)

    actions = range(1, len(DEMO_CLASSES) + 1)
    perf_keys = [
        (p, r, a)
        for p in range(1, subjects + 1)
        for r in range(1, replications + 1)
        for a in actions
    ]
    names = {
        sample_name(SETUP, c, p, r, a): a for p, r, a in perf_keys for c in range(1, cameras + 1)
    }
    plan = _plan(seed, list(names), names)
    cams = {c: _camera(seed, c) for c in range(1, cameras + 1)}
    bgs = {c: demo_background(seed, c, video_size) for c in cams}
    log.info("demo: writing %d samples (seed %d) to %s", len(names), seed, out_dir)

    total_bytes = n_frames = n_videos = 0
    with progress(total=len(names), desc="demo", unit="sample") as bar:
        for p, r, a in perf_keys:
            perf = _performance(seed, p, r, a, frames)
            for c in cams:
                name = sample_name(SETUP, c, p, r, a)
                size, written = _write_sample(
                    out_dir,
                    name,
                    seed,
                    (SETUP, c, p, r, a),
                    perf,
                    cams[c],
                    plan,
                    bgs[c],
                    video_size,
                )
                total_bytes += size
                n_frames += perf.n_frames
                n_videos += written > 0
                bar.update()

    missing = tuple(sorted(plan.missing))
    text = MISSING_HEADER.format(n=len(missing)) + "".join(f"{m}\n" for m in missing)
    (out_dir / "missing_skeletons.txt").write_text(text, encoding="ascii", newline="\n")

    summary = DemoSummary(
        out_dir=out_dir,
        n_samples=len(names),
        n_missing=len(missing),
        n_videos=n_videos,
        n_frames=n_frames,
        n_two_person=sum(a in DEMO_TWO_PERSON_ACTIONS for a in names.values()),
        n_ghost=len(plan.ghost),
        n_leading_empty=len(plan.leading_empty),
        total_bytes=total_bytes,
        seconds=time.perf_counter() - t0,
        missing=missing,
    )
    log.info(
        "demo: %d samples, %d frames, %.1f MB in %.1f s",
        summary.n_samples,
        summary.n_frames,
        summary.total_bytes / 1e6,
        summary.seconds,
    )
    return summary
