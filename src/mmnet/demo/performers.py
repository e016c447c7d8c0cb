"""Synthetic performers shared by the demo generators (:mod:`mmnet.demo`).

Subjects (body sizes, proportions, clothes), the demo classes' motions as per-frame controls
of a simple rig, their poses as the 25 Kinect v2 joints, and the camera with Kinect-like
sensor noise. The NTU, PKU-MMD and N-UCLA demos all draw their people from here, so one
subject looks the same and one class moves alike in every demo; each generator only adds its
dataset's timeline, views and file formats.

Motions are numbered like the demo classes (:data:`mmnet.datasets.demo.DEMO_CLASSES`,
1-based): 1 drink water ... 7 handshake (two people). Randomness comes from generators
seeded with ``(seed, stream, ids)`` (:func:`seeded_rng`), so nothing depends on call order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mmnet.demo.render import FPS, Appearance, Prop
from mmnet.skeleton.layouts import KINECT_V2_JOINTS

N_JOINTS = len(KINECT_V2_JOINTS)
_V = N_JOINTS
_J = {name: i for i, name in enumerate(KINECT_V2_JOINTS)}
_S_SUBJECT = 1  # seed stream of the subjects (shared by every demo)
#: Subject id of the partner of subject p in two-person classes: PARTNER_OFFSET + p.
PARTNER_OFFSET = 500

_FRAGILE = np.array([_J[n] for n in (
    "ElbowLeft", "WristLeft", "HandLeft", "HandTipLeft", "ThumbLeft", "ElbowRight",
    "WristRight", "HandRight", "HandTipRight", "ThumbRight", "AnkleLeft", "FootLeft",
    "AnkleRight", "FootRight",
)])  # fmt: skip
_HANDISH = np.array([_J[n] for n in (
    "HandLeft", "HandTipLeft", "ThumbLeft", "HandRight", "HandTipRight", "ThumbRight",
)])  # fmt: skip


def seeded_rng(seed: int, stream: int, *ids: int) -> np.random.Generator:
    """The generator of one kind of randomness (``stream``) for one thing (``ids``)."""
    return np.random.default_rng([seed, stream, *ids])


# --------------------------------------------------------------------------------------
# Subjects


@dataclass(frozen=True)
class Body:
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


def make_subject(seed: int, pid: int) -> tuple[Body, Appearance]:
    """Size, proportions and clothes of subject ``pid`` (same in every sample)."""
    # Palette permutations shared by all subjects, so that subjects 1..9 all wear different
    # shirts and subjects 1..5 different trousers.
    perm = seeded_rng(seed, _S_SUBJECT, 0)
    shirts, trousers = perm.permutation(len(_SHIRT)), perm.permutation(len(_TROUSERS))
    rng = seeded_rng(seed, _S_SUBJECT, pid)
    h = rng.uniform(1.58, 1.85)
    leg, arm = rng.uniform(0.96, 1.04), rng.uniform(0.95, 1.05)
    shoulder, hip = rng.uniform(0.9, 1.1), rng.uniform(0.9, 1.1)
    body = Body(
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


def axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) right-handed rotations about x (0), y (1) or z (2)."""
    angle = np.asarray(angle, float)
    c, s = np.cos(angle), np.sin(angle)
    r = np.zeros((*angle.shape, 3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    r[..., axis, axis] = 1.0
    r[..., i, i], r[..., i, j], r[..., j, i], r[..., j, j] = c, -s, s, c
    return r


def unit(v: np.ndarray) -> np.ndarray:
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
    n = unit(pole - np.sum(pole * dhat, axis=-1, keepdims=True) * dhat)
    mid = root + l1 * (cos_a * dhat + np.sqrt(1 - cos_a * cos_a) * n)
    return mid, root + dist * dhat


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _envelope(t: np.ndarray, start: float, rise: float, end: float, fall: float) -> np.ndarray:
    """0 -> 1 between ``start`` and ``start+rise``, back to 0 between ``end`` and ``end+fall``."""
    return _smoothstep((t - start) / rise) * (1 - _smoothstep((t - end) / fall))


@dataclass
class Controls:
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


SIDES = (-1, 1)  # left, right (right = +x)
_SIDE_NAME = {-1: "Left", 1: "Right"}


def rest_controls(body: Body, n: int, rng: np.random.Generator) -> Controls:
    """Standing still with the arms hanging, plus a little natural sway."""
    sec = np.arange(n) / FPS
    ph = rng.uniform(0, 2 * np.pi, 4)
    pelvis = np.zeros((n, 3))
    pelvis[:, 0] = 0.012 * np.sin(2 * np.pi * 0.35 * sec + ph[0])
    pelvis[:, 1] = body.hip_h
    pelvis[:, 2] = 0.008 * np.sin(2 * np.pi * 0.27 * sec + ph[1])
    ones = np.ones((n, 1))
    return Controls(
        pelvis=pelvis,
        pitch=0.03 + 0.01 * np.sin(2 * np.pi * 0.2 * sec + ph[2]),
        roll=0.01 * np.sin(2 * np.pi * 0.3 * sec + ph[3]),
        twist=np.zeros(n),
        head_pitch=np.zeros(n),
        head_roll=np.zeros(n),
        wrist_rel={s: ones * (s * 0.06, -0.95 * body.arm, -0.05) for s in SIDES},
        elbow_pole={s: ones * (s * 0.4, -0.3, 1.0) for s in SIDES},
        ankle={s: ones * (s * (body.hip_w + 0.02), body.ankle_h, 0.0) for s in SIDES},
        knee_pole={s: ones * (s * 0.15, 0.0, -1.0) for s in SIDES},
        hand_state={s: np.ones(n, int) for s in SIDES},
    )


def blend(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> np.ndarray:
    return a + (b - a) * w[:, None]


def action_controls(
    action: int, body: Body, n: int, rng: np.random.Generator, shared: dict[str, float]
) -> tuple[Controls, list[tuple[str, np.ndarray]]]:
    """Controls of one class; also the props to attach, as (kind, per-frame parameter)."""
    c = rest_controls(body, n, rng)
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
        c.wrist_rel[R] = blend(c.wrist_rel[R], np.broadcast_to(mouth, (n, 3)), env)
        c.elbow_pole[R] = blend(c.elbow_pole[R], np.broadcast_to((0.5, -1.0, -0.3), (n, 3)), env)
        sip = env * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * speed * sec + phase))
        c.head_pitch = -0.18 * amp * env
        c.hand_state[R][:] = 3
        props.append(("cup", 0.5 * amp * sip))
    elif action == 2:  # wave right hand above the head
        wave = np.sin(2 * np.pi * rng.uniform(1.3, 2.2) * speed * sec + phase)
        up = np.stack([0.10 + 0.12 * amp * wave, np.full(n, 0.7 * arm), np.full(n, -0.05)], -1)
        rel = blend(c.wrist_rel[R], up, env)
        rel[:, 0] += 0.25 * np.sin(np.pi * env)  # swing out sideways on the way up
        c.wrist_rel[R] = rel
        c.elbow_pole[R] = blend(c.elbow_pole[R], np.broadcast_to((1.0, -0.3, 0.1), (n, 3)), env)
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
        for s in SIDES:
            c.wrist_rel[s] = blend(
                c.wrist_rel[s], np.broadcast_to((s * 0.25, -0.85 * arm, -0.05), (n, 3)), active
            )
    elif action == 4:  # squat down and rise
        depth = rng.uniform(0.18, 0.28) * body.height * amp
        c.pelvis[:, 1] -= depth * env
        c.pelvis[:, 2] += 0.12 * env
        c.pitch = c.pitch + 0.45 * env
        for s in SIDES:
            fwd = np.broadcast_to((s * 0.03, -0.05, -0.9 * arm), (n, 3))
            c.wrist_rel[s] = blend(c.wrist_rel[s], fwd, env)
            c.elbow_pole[s] = blend(c.elbow_pole[s], np.broadcast_to((s, -1.0, 0.0), (n, 3)), env)
    elif action == 5:  # clap hands in front of the chest
        gap = 0.03 + 0.22 * amp * (
            0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(1.6, 2.6) * speed * sec + phase)
        )
        for s in SIDES:
            chest = np.stack([-s * sw + s * gap / 2, np.full(n, -0.12), np.full(n, -0.30)], -1)
            c.wrist_rel[s] = blend(c.wrist_rel[s], chest, env)
            c.elbow_pole[s] = blend(c.elbow_pole[s], np.broadcast_to((s, -1.0, 0.3), (n, 3)), env)
            c.hand_state[s][env > 0.5] = 2
    elif action == 6:  # phone call: left hand holds a phone at the left ear
        env = _envelope(t, 0.3 * start, rise, n + 10.0, fall)
        # wrist at the jaw, in front of the shoulder: the forearm then rises from an elbow
        # held low in front and the hand (with the phone) lies against the ear
        jaw = np.array([sw - 0.09 - 0.02, head_rel - 0.13, -0.10])
        c.wrist_rel[L] = blend(c.wrist_rel[L], np.broadcast_to(jaw, (n, 3)), env)
        c.elbow_pole[L] = blend(c.elbow_pole[L], np.broadcast_to((-0.3, -1.0, -0.3), (n, 3)), env)
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
        c.elbow_pole[R] = blend(c.elbow_pole[R], np.broadcast_to((0.6, -1.0, 0.4), (n, 3)), env)
        c.pitch = c.pitch + 0.08 * env
        c.hand_state[R][env > 0.6] = 3
    else:
        raise ValueError(f"unknown demo action {action}")
    return c, props


def pose(body: Body, c: Controls) -> np.ndarray:
    """Joint positions (T, 25, 3) in the body's local frame from the controls."""
    n = len(c.pelvis)
    out = np.zeros((n, _V, 3))
    rt = axis_rotation(1, c.twist) @ axis_rotation(0, -c.pitch) @ axis_rotation(2, -c.roll)
    rh = rt @ axis_rotation(0, -c.head_pitch) @ axis_rotation(2, -c.head_roll)

    def torso(v: tuple[float, float, float]) -> np.ndarray:
        return c.pelvis + rt @ np.asarray(v, float)

    out[:, _J["SpineBase"]] = c.pelvis
    out[:, _J["SpineMid"]] = torso((0, body.spine_mid, 0.0))
    out[:, _J["SpineShoulder"]] = torso((0, body.spine_sh, 0.0))
    out[:, _J["Neck"]] = torso((0, body.neck, 0.0))
    out[:, _J["Head"]] = out[:, _J["Neck"]] + rh @ np.array([0.0, body.head, 0.01])
    hip_rot = axis_rotation(1, 0.3 * c.twist)
    fwd = np.array([0.0, 0.0, -1.0])
    for s in SIDES:
        name = _SIDE_NAME[s]
        shoulder = torso((s * body.shoulder_w, body.spine_sh - body.shoulder_drop, 0.01))
        target = shoulder + c.wrist_rel[s]
        if s in c.wrist_abs:
            target = blend(target, c.wrist_abs[s], c.wrist_w[s])
        elbow, wrist = _two_bone(
            shoulder, target, body.upper_arm, body.forearm, unit(c.elbow_pole[s])
        )
        fdir = unit(wrist - elbow)
        hand = wrist + body.hand * fdir
        tdir = unit(0.6 * fdir + np.array([-s * 0.5, 0.0, 0.0]) + 0.4 * fwd)
        out[:, _J["Shoulder" + name]] = shoulder
        out[:, _J["Elbow" + name]] = elbow
        out[:, _J["Wrist" + name]] = wrist
        out[:, _J["Hand" + name]] = hand
        out[:, _J["HandTip" + name]] = hand + body.hand_tip * fdir
        out[:, _J["Thumb" + name]] = hand + 0.8 * body.thumb * tdir

        hip = c.pelvis + hip_rot @ np.array([s * body.hip_w, -0.005, 0.0])
        knee, ankle = _two_bone(hip, c.ankle[s], body.thigh, body.shin, unit(c.knee_pole[s]))
        shin = unit(ankle - knee)
        side_axis = hip_rot @ np.array([1.0, 0.0, 0.0])
        foot_dir = unit(np.cross(side_axis, shin))
        out[:, _J["Hip" + name]] = hip
        out[:, _J["Knee" + name]] = knee
        out[:, _J["Ankle" + name]] = ankle
        out[:, _J["Foot" + name]] = ankle + body.foot * unit(0.95 * foot_dir + 0.3 * shin)
    return out


def props_world(
    kinds: list[tuple[str, np.ndarray]], local: np.ndarray, to_world: np.ndarray
) -> tuple[tuple[str, np.ndarray, np.ndarray], ...]:
    """Cup in the right hand (upright, tilted while sipping), phone along the left hand."""
    out = []
    for kind, param in kinds:
        if kind == "cup":
            hand = local[:, _J["HandRight"]]
            axis = unit(np.stack([np.zeros_like(param), np.ones_like(param), param], -1))
            centre = hand + np.array([-0.035, 0.015, -0.03])
        else:
            hand = local[:, _J["HandLeft"]]
            axis = unit(local[:, _J["HandTipLeft"]] - local[:, _J["WristLeft"]])
            centre = hand + np.array([0.03, 0.01, 0.0])
        out.append((kind, centre @ to_world.T, axis @ to_world.T))
    return tuple(out)


# --------------------------------------------------------------------------------------
# Camera and sensor


@dataclass(frozen=True)
class Camera:
    """A Kinect looking at the scene centre from ``distance`` metres."""

    azimuth: float  # radians
    distance: float
    height: float
    pitch: float  # downward tilt, radians

    def _tilt(self) -> np.ndarray:
        c, s = math.cos(self.pitch), math.sin(self.pitch)
        return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])

    def rotation(self) -> np.ndarray:
        """World-to-camera rotation: about the vertical by the azimuth, then the tilt."""
        return self._tilt() @ axis_rotation(1, self.azimuth)

    def to_camera(self, p: np.ndarray) -> np.ndarray:
        """World points (..., 3) to Kinect camera space (x right in the image, y up, z depth)."""
        return p @ self.rotation().T + self._tilt() @ np.array([0.0, -self.height, self.distance])


def sense_joints(
    joints: np.ndarray, cam: Camera, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """World joints ``(T, 25, 3)`` as the Kinect reports them: camera-space joints with
    sensor noise, and tracking states (2 tracked, 1 inferred): (T, 25, 3), (T, 25)."""
    n = len(joints)
    xyz = cam.to_camera(joints)
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


def camera_props(
    props: tuple[tuple[str, np.ndarray, np.ndarray], ...], cam: Camera
) -> tuple[Prop, ...]:
    """Hand-held props (world ``(kind, centre, axis)``, see :func:`props_world`) as drawn by
    ``cam``: the blue cup, the red phone."""
    r = cam.rotation()
    return tuple(
        Prop(
            center=cam.to_camera(centre),
            axis=axis @ r.T,
            width=0.075 if kind == "cup" else 0.07,
            length=0.11 if kind == "cup" else 0.14,
            color=(30, 80, 225) if kind == "cup" else (215, 35, 35),
            rim=(225, 235, 250) if kind == "cup" else (55, 20, 20),
        )
        for kind, centre, axis in props
    )
