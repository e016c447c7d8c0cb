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

The performers (subjects, motions, camera, sensor noise) are shared with the PKU-MMD and
N-UCLA demos (:mod:`mmnet.demo.performers`). Everything follows from ``seed``: performance,
camera, subject and sensor randomness come from generators seeded with ``(seed, stream,
ids)``, so no file depends on generation order.
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
from mmnet.demo.performers import (
    PARTNER_OFFSET,
    SIDES,
    Camera,
    action_controls,
    axis_rotation,
    camera_props,
    make_subject,
    pose,
    props_world,
    seeded_rng,
    sense_joints,
    unit,
)
from mmnet.demo.render import (
    COLOR_SIZE,
    Actor,
    Appearance,
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

# Seed-stream tags: each kind of randomness gets its own stream (1: the subjects, in
# mmnet.demo.performers).
_S_CAMERA, _S_PERFORMANCE, _S_SENSOR, _S_PLAN = 2, 3, 4, 5

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


def _hand_info(states: dict[int, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Kinect (confidence, state) per hand; now and then the tracker loses the hand state."""
    n = len(states[-1])
    cols = []
    for s in SIDES:
        state = states[s].copy()
        lost = rng.random(n) < 0.12
        state[lost] = 0
        cols += [(state > 0).astype(int), state]
    return np.stack(cols, -1)


def _performance(
    seed: int, subject: int, replication: int, action: int, frames: tuple[int, int]
) -> _Performance:
    rng = seeded_rng(seed, _S_PERFORMANCE, SETUP, subject, replication, action)
    n = int(rng.integers(frames[0], frames[1] + 1))
    centre = np.array([rng.uniform(-0.2, 0.2), 0.0, rng.uniform(-0.2, 0.2)])
    if action in DEMO_TWO_PERSON_ACTIONS:
        pair_yaw = math.radians(rng.uniform(-15, 15))
        people = [(subject, -1), (PARTNER_OFFSET + subject, 1)]
        bodies = [make_subject(seed, pid) for pid, _ in people]
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
                centre
                + axis_rotation(1, pair_yaw) @ np.array([side * shared["distance"] / 2, 0.0, 0.0]),
                pair_yaw + side * math.pi / 2,
            )
            for _, side in people
        ]
    else:
        people = [(subject, 0)]
        bodies = [make_subject(seed, subject)]
        shared = {}
        place = [(centre, math.radians(rng.uniform(-12, 12)))]

    persons = []
    for (body, look), (pos, yaw) in zip(bodies, place, strict=True):
        controls, prop_kinds = action_controls(action, body, n, rng, shared)
        local = pose(body, controls)
        to_world = axis_rotation(1, yaw)
        joints = local @ to_world.T + pos
        lean = np.stack([np.sin(controls.roll), np.sin(controls.pitch)], -1)
        lean = lean + rng.normal(0, 0.01, lean.shape)
        props = props_world(prop_kinds, local, to_world)
        props = tuple((k, c + pos, a) for k, c, a in props)
        persons.append(
            _Person(joints, yaw, look, lean, _hand_info(controls.hand_state, rng), props)
        )
    return _Performance(n, tuple(persons))


# --------------------------------------------------------------------------------------
# Kinect sensor simulation (per camera)


def _camera(seed: int, camera: int) -> Camera:
    rng = seeded_rng(seed, _S_CAMERA, SETUP, camera)
    return Camera(
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
    d = unit(joints[:, _CHILD_IDX[:, 1]] - joints[:, _CHILD_IDX[:, 0]])
    d = d @ axis_rotation(1, a)  # = R(-a) @ d: bone direction in the body's yaw frame
    arc = np.stack([1 + d[..., 1], d[..., 2], np.zeros_like(d[..., 0]), -d[..., 0]], -1)
    flip = arc[..., 0] < 1e-4
    arc[flip] = (0.0, 1.0, 0.0, 0.0)
    arc = unit(arc)
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
    quat = unit(rng.normal(0, 1, (_V, 4)) + np.array([0.0, 0.0, 1.0, 0.0]))
    quat = np.broadcast_to(quat, (n, _V, 4)) + rng.normal(0, 0.02, (n, _V, 4))
    quat = unit(quat)
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
    rng = seeded_rng(seed, _S_PLAN)
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
    cam: Camera,
    plan: _Plan,
    bg: np.ndarray,
    video_size: tuple[int, int],
) -> tuple[int, int]:
    """Write one skeleton file and its video; returns (bytes written, video frames)."""
    rng = seeded_rng(seed, _S_SENSOR, *ids)
    n = perf.n_frames
    lead = int(rng.integers(1, 4)) if name in plan.leading_empty else 0
    bodies, actors = [], []
    used_ids: set[int] = set()
    for person in perf.persons:
        xyz, state = sense_joints(person.joints, cam, rng)
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
        actors.append(Actor(xyz, person.look, camera_props(person.props, cam)))
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
