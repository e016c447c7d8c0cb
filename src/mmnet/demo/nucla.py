"""Deterministic generator of the ``demo_nucla`` dataset, in N-UCLA's exact raw formats.

Why: N-UCLA ships skeletons in two forms and RGB as frame folders, not videos, whose
``fileList.txt`` maps frames to files through a rule with odd cases (spec §1.3, §4.3.5). The
demo writes all of it, so the N-UCLA readers, view protocols and frame mapping run on it:

- skeletons, each sample in exactly one form (about half each): the authors' reformatted
  ``multiview_action_skeleton/S{SS}A{AA}E{EE}V{VV}.skeleton`` (NTU-like: frame count; per
  frame the body count 1, a 10-field body-info line, the joint count 20 and 20 lines
  ``x,y,z,trackingState``; ``%.6g``, CRLF ends as NTU's, whose layout the authors copied;
  no real file was available to check the number format and line ends) or the shared
  ``all_sqe/aAA_sSS_eEE_vVV.json`` (``file_name``, ``skeletons`` [frames][20][3] with 6
  significant digits, ``label`` = A, written as the real ones: ``json.dumps`` spacing, no
  final newline). 20 Kinect v1 joints (the first 20 of Kinect v2's), camera space, metres;
- ``multiview_action/view_V/aAA_sSS_eEE/``: ``frame_<i>_tc_<tc>_rgb.jpg`` (320x240, JPEG
  quality 80; the real ones are 640x480), ``frame_<i>_tc_<tc'>_depth.png`` (16-bit
  millimetres, 160x120, 0 beyond the Kinect v1's 4 m; the real ones 320x240) and
  ``fileList.txt``. The depth stream has its own time codes (``tc' != tc``): the original
  looks depth files up by frame number with a wildcard time code;
- ``openpose_ucla/S{SS}A{AA}E{EE}V{VV}/S{SS}A{AA}E{EE}V{VV}_%012d_keypoints.json``: BODY_25
  of OpenPose index k = entry k of the original's filtered frame list
  (:func:`mmnet.datasets.nucla.filter_file_list`), see :mod:`mmnet.demo.keypoints`.

``fileList.txt`` (one line per capture instant; no real one was found to copy, so this is a
model built to meet every case of the original's parsing rule): a complete record is
``<i> <tc> <tc'>`` (frame number, RGB time code, depth time code; the original reads only
the first two). Artefacts, at random instants away from the ends: an incomplete record
``<i> <tc>`` on its own line (skipped by the rule); an incomplete record with the next
instant's complete record on the same line (5 tokens, tokens 3-5 kept); two incomplete
records on one line (4 tokens: skipped); a stale frame logged under the next instant's
frame number just before it (two consecutive lines with the same frame number: the rule
keeps the second, which shows the right instant). Frame numbers start at a random offset,
time codes are milliseconds. Every line's image files exist (the folder holds more frames
than the list uses); skeleton frame t and the images of instant t show the same pose.

Classes: the 6 single-person demo classes as A01-A06 (folders a01-a06). Views 1, 2, 3 are
cameras at azimuths -45, 0, +45 degrees. Planted, in different samples (names in
:class:`NuclaDemoSummary`): a frame folder missing, a ``fileList.txt`` missing, a listed
frame file missing, a listed frame file truncated (unreadable); one sample carries every
``fileList.txt`` artefact; a few JSON frames list a spurious detection first, on the
background, where the depth image has no reading (the depth rule must pass it over).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mmnet.datasets.demo import DEMO_CLASSES, DEMO_TWO_PERSON_ACTIONS
from mmnet.datasets.nucla import (
    FILE_LIST,
    FileListEntry,
    filter_file_list,
    frames_relpath,
    original_name,
)
from mmnet.demo import keypoints
from mmnet.demo.performers import (
    Camera,
    action_controls,
    axis_rotation,
    camera_props,
    make_subject,
    pose,
    props_world,
    seeded_rng,
    sense_joints,
)
from mmnet.demo.render import KINECT_V1_COLOR, Actor, background, render_depth, render_frames
from mmnet.logs import progress

log = logging.getLogger(__name__)

#: Camera azimuths (degrees) of views 1, 2, 3.
CAMERA_AZIMUTHS_DEG = (-45.0, 0.0, 45.0)
ACTIONS = tuple(a for a in range(1, len(DEMO_CLASSES) + 1) if a not in DEMO_TWO_PERSON_ACTIONS)
JOINTS = 20  # Kinect v1: the first 20 joints of Kinect v2's order
JPEG_QUALITY = 80
DEPTH_RANGE_MM = 4000  # Kinect v1 reports 0 beyond
#: Planted cases (keys of :attr:`NuclaDemoSummary.planted`).
PLANTED = (
    "missing_frame_folder",
    "missing_file_list",
    "missing_frame_file",
    "corrupt_frame_file",
    "every_file_list_case",
)
#: fileList.txt artefacts (keys of :attr:`NuclaDemoSummary.file_list_cases`) and their
#: chance per instant: rare, as the original's log suggests (it names 3 samples with a
#: duplicate frame number).
ARTEFACTS = {"duplicate": 0.005, "incomplete": 0.01, "merged": 0.01, "two_incomplete": 0.003}

_BACK_WALL = 2.0
_FRAME_PERIOD_MS = 1000 / 30
_STALE_MS = 20  # a stale frame's time codes are this much earlier than the right one's
_SPURIOUS = 0.03  # share of JSON frames with a false detection
# Seed-stream tags (1: the subjects, in mmnet.demo.performers).
_S_PERFORMANCE, _S_CAMERA, _S_SENSOR, _S_LIST, _S_FORM, _S_KEYPOINTS, _S_PLAN = range(31, 38)


@dataclass(frozen=True)
class NuclaDemoSummary:
    """What :func:`generate_demo_nucla` wrote.

    ``planted``: case (:data:`PLANTED`) -> sample id; ``file_list_cases``: artefact
    (:data:`ARTEFACTS`) -> number of lines carrying it.
    """

    out_dir: Path
    n_samples: int
    n_skeleton_files: int  # .skeleton form; the others are all_sqe .json
    n_frames: int
    n_images: int
    total_bytes: int
    seconds: float
    planted: Mapping[str, str] = field(default_factory=dict)
    file_list_cases: Mapping[str, int] = field(default_factory=dict)


def sample_name(subject: int, action: int, environment: int, view: int) -> str:
    """The original's id ``S{SS}A{AA}E{EE}V{VV}``."""
    return f"S{subject:02d}A{action:02d}E{environment:02d}V{view:02d}"


@dataclass(frozen=True)
class _Line:
    """One fileList.txt line and the instant its kept record shows (None: skipped)."""

    tokens: tuple[str, ...]
    instant: int | None


@dataclass(frozen=True)
class _Image:
    """One frame file to write: its name and the instant it shows."""

    name: str
    instant: int
    depth: bool


def _file_list(
    n: int, rng: np.random.Generator, forced: Mapping[int, str] | None
) -> tuple[list[_Line], list[_Image], dict[str, int]]:
    """The fileList.txt lines of a sample of ``n`` instants, the files they name, and how
    many lines carry each artefact. ``forced``: instant -> artefact, instead of random ones."""
    first = int(rng.integers(0, 300))
    tc0 = int(rng.integers(10_000_000, 99_000_000))
    tc = [tc0 + round(t * _FRAME_PERIOD_MS) + int(rng.integers(-2, 3)) for t in range(n)]
    dtc = [c + int(rng.choice([-1, 1]) * rng.integers(2, 9)) for c in tc]
    number = [str(first + t) for t in range(n)]
    if forced is None:
        draws = rng.random(n)
        edges = np.cumsum(list(ARTEFACTS.values()))
        forced = {
            t: list(ARTEFACTS)[int(np.searchsorted(edges, draws[t], side="right"))]
            for t in range(2, n - 3)
            if draws[t] < edges[-1]
        }
    lines: list[_Line] = []
    images: list[_Image] = []
    counts = dict.fromkeys(ARTEFACTS, 0)

    def files(t: int, rgb_tc: int, depth_tc: int, shows: int) -> None:
        images.append(_Image(f"frame_{number[t]}_tc_{rgb_tc}_rgb.jpg", shows, False))
        images.append(_Image(f"frame_{number[t]}_tc_{depth_tc}_depth.png", shows, True))

    t = 0
    while t < n:
        artefact = forced.get(t)
        complete = (number[t], str(tc[t]), str(dtc[t]))
        if artefact in ("merged", "two_incomplete") and t + 1 < n:
            files(t, tc[t], dtc[t], t)
            files(t + 1, tc[t + 1], dtc[t + 1], t + 1)
            nxt = (number[t + 1], str(tc[t + 1]))
            if artefact == "merged":
                lines.append(_Line((number[t], str(tc[t]), *nxt, str(dtc[t + 1])), t + 1))
            else:
                lines.append(_Line((number[t], str(tc[t]), *nxt), None))
            counts[artefact] += 1
            t += 2
            continue
        if artefact == "duplicate" and t > 0:  # a stale frame logged under this number first
            stale_tc, stale_dtc = tc[t] - _STALE_MS, dtc[t] - _STALE_MS
            files(t, stale_tc, stale_dtc, t - 1)
            lines.append(_Line((number[t], str(stale_tc), str(stale_dtc)), t - 1))
            counts[artefact] += 1
        files(t, tc[t], dtc[t], t)
        if artefact == "incomplete":
            lines.append(_Line(complete[:2], None))
            counts[artefact] += 1
        else:
            lines.append(_Line(complete, t))
        t += 1
    return lines, images, counts


def _filtered(lines: list[_Line]) -> list[tuple[FileListEntry, int]]:
    """Entry and instant of each OpenPose index k: the original's rule on the lines."""
    entries, shows = [], {}
    for number, line in enumerate(lines, start=1):
        kept = line.tokens[2:5] if len(line.tokens) > 3 else line.tokens
        if len(kept) >= 3:
            entries.append(FileListEntry(kept[0], kept[1], number))
            shows[number] = line.instant
    return [(entry, shows[entry.line]) for entry in filter_file_list(entries)]


def _camera(seed: int, view: int, environment: int) -> Camera:
    rng = seeded_rng(seed, _S_CAMERA, view, environment)
    return Camera(
        azimuth=math.radians(CAMERA_AZIMUTHS_DEG[view - 1] + rng.uniform(-4, 4)),
        distance=rng.uniform(2.6, 3.2),
        height=rng.uniform(0.9, 1.2),
        pitch=math.radians(rng.uniform(5, 12)),
    )


def _backgrounds(
    seed: int, view: int, environment: int, cam: Camera, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The empty scene of one camera: RGB ``size`` and depth (half size, millimetres), the
    floor and back wall as that camera sees them."""
    w, h = size[0] // 2, size[1] // 2
    u, v = np.meshgrid(
        (np.arange(w) + 0.5) * KINECT_V1_COLOR.size[0] / w,
        (np.arange(h) + 0.5) * KINECT_V1_COLOR.size[1] / h,
    )
    (fx, fy), (cx, cy) = KINECT_V1_COLOR.f, KINECT_V1_COLOR.c
    rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)], -1) @ cam.rotation()
    origin = -cam.rotation().T @ cam.to_camera(np.zeros(3))  # camera centre, world
    with np.errstate(divide="ignore", invalid="ignore"):
        floor = np.where(rays[..., 1] < 0, -origin[1] / rays[..., 1], np.inf)
        wall = np.where(rays[..., 2] > 0, (_BACK_WALL - origin[2]) / rays[..., 2], np.inf)
    depth_mm = np.rint(np.minimum(floor, wall) * 1000)
    depth_mm[depth_mm > DEPTH_RANGE_MM] = 0
    horizon = KINECT_V1_COLOR.project(cam.to_camera(np.array([0.0, 0.0, _BACK_WALL])))[1]
    rgb = background(seed, 2000 + environment, view, size, float(horizon * size[1] / 480))
    return rgb, depth_mm.astype(np.uint16)


def _skeleton_text(xyz: np.ndarray, state: np.ndarray, body_id: int) -> bytes:
    """The authors' reformatted ``.skeleton`` layout, one body per frame."""
    lines = [str(len(xyz))]
    for frame, states in zip(xyz.tolist(), state.tolist(), strict=True):
        lines += ["1", f"{body_id} 0 0 0 0 0 0 0 0 2", str(JOINTS)]
        lines += [
            f"{x:.6g},{y:.6g},{z:.6g},{s}" for (x, y, z), s in zip(frame, states, strict=True)
        ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _all_sqe_text(name: str, xyz: np.ndarray, action: int) -> str:
    """An ``all_sqe`` file: 6 significant digits, ``json.dumps`` spacing, no final newline."""
    values = [[[float(f"{v:.6g}") for v in joint] for joint in frame] for frame in xyz.tolist()]
    return json.dumps({"file_name": name, "skeletons": values, "label": action})


def _plan(seed: int, names: list[str]) -> dict[str, str]:
    order = seeded_rng(seed, _S_PLAN).permutation(len(names))
    return {case: names[i] for case, i in zip(PLANTED, order, strict=False)}


def generate_demo_nucla(
    out_dir: Path,
    *,
    seed: int = 0,
    subjects: int = 6,
    environments: int = 2,
    frames: tuple[int, int] = (40, 56),
    image_size: tuple[int, int] = (320, 240),
) -> NuclaDemoSummary:
    """Write the demo_nucla dataset under ``out_dir`` (see the module docstring for what and
    how); existing files of the same names are overwritten."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if subjects < 1 or environments < 1:
        raise ValueError("subjects and environments must be >= 1")
    if not 12 <= frames[0] <= frames[1]:
        raise ValueError("frames must be (lo, hi) with 12 <= lo <= hi")
    if image_size[0] % 4 or image_size[1] % 4 or min(image_size) < 32:
        raise ValueError("image_size must be multiples of 4, at least 32x32")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    roots = {
        name: out_dir / name
        for name in ("multiview_action_skeleton", "all_sqe", "multiview_action", "openpose_ucla")
    }
    for folder in roots.values():
        folder.mkdir(parents=True, exist_ok=True)
    keys = [
        (p, a, e)
        for p in range(1, subjects + 1)
        for a in ACTIONS
        for e in range(1, environments + 1)
    ]
    names = [sample_name(p, a, e, v) for p, a, e in keys for v in (1, 2, 3)]
    planted = _plan(seed, names)
    cams = {(v, e): _camera(seed, v, e) for v in (1, 2, 3) for e in range(1, environments + 1)}
    scenes = {key: _backgrounds(seed, *key, cam, image_size) for key, cam in cams.items()}
    log.info("demo_nucla: writing %d samples (seed %d) to %s", len(names), seed, out_dir)

    cases = dict.fromkeys(ARTEFACTS, 0)
    n_frames = n_images = n_skeleton = 0
    with progress(total=len(names), desc="demo_nucla", unit="sample") as bar:
        for p, a, e in keys:
            rng = seeded_rng(seed, _S_PERFORMANCE, p, a, e)
            n = int(rng.integers(frames[0], frames[1] + 1))
            body, look = make_subject(seed, p)
            controls, kinds = action_controls(a, body, n, rng, {})
            local = pose(body, controls)
            position = np.array([rng.uniform(-0.3, 0.3), 0.0, rng.uniform(-0.3, 0.3)])
            to_world = axis_rotation(1, math.radians(rng.uniform(-15, 15)))
            world = local @ to_world.T + position
            held = tuple(
                (kind, centre + position, axis)
                for kind, centre, axis in props_world(kinds, local, to_world)
            )
            for v in (1, 2, 3):
                name = sample_name(p, a, e, v)
                cam = cams[v, e]
                xyz, state = sense_joints(world, cam, seeded_rng(seed, _S_SENSOR, p, a, e, v))
                actor = Actor(xyz, look, camera_props(held, cam))
                n_skeleton += _write_skeleton(roots, seed, (p, a, e, v), xyz, state)
                folder = roots["multiview_action"] / frames_relpath(p, a, e, v)
                forced = _forced(n) if planted["every_file_list_case"] == name else None
                lines, images, counts = _file_list(n, seeded_rng(seed, _S_LIST, p, a, e, v), forced)
                for key, count in counts.items():
                    cases[key] += count
                listed = _filtered(lines)
                case = next((c for c, s in planted.items() if s == name), None)
                if case != "missing_frame_folder":
                    n_images += _write_frames(folder, actor, scenes[v, e], lines, images, case)
                if case in ("missing_frame_file", "corrupt_frame_file"):
                    _spoil(folder / listed[len(listed) // 2][0].rgb_name, case)
                    n_images -= case == "missing_frame_file"
                _write_keypoints(
                    roots["openpose_ucla"] / name,
                    name,
                    xyz,
                    [t for _, t in listed],
                    scenes[v, e][1],
                    seeded_rng(seed, _S_KEYPOINTS, p, a, e, v),
                )
                n_frames += n
                bar.update()

    summary = NuclaDemoSummary(
        out_dir=out_dir,
        n_samples=len(names),
        n_skeleton_files=n_skeleton,
        n_frames=n_frames,
        n_images=n_images,
        total_bytes=sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()),
        seconds=time.perf_counter() - t0,
        planted=planted,
        file_list_cases=cases,
    )
    log.info(
        "demo_nucla: %d samples (%d .skeleton, %d all_sqe), %d images, %.1f MB in %.1f s; "
        "planted: %s; fileList.txt cases: %s",
        summary.n_samples, n_skeleton, summary.n_samples - n_skeleton, n_images,
        summary.total_bytes / 1e6, summary.seconds, planted, cases,
    )  # fmt: skip
    return summary


def _forced(n: int) -> dict[int, str]:
    """Every fileList.txt artefact once, spread over a sample of ``n`` instants."""
    return {
        round(n * f): artefact
        for f, artefact in zip((0.2, 0.35, 0.5, 0.65), ARTEFACTS, strict=True)
    }


def _write_skeleton(
    roots: Mapping[str, Path],
    seed: int,
    ids: tuple[int, int, int, int],
    xyz: np.ndarray,
    state: np.ndarray,
) -> int:
    """Write the sample's skeleton in one of the two forms; 1 for ``.skeleton``, 0 for json."""
    p, a, e, v = ids
    rng = seeded_rng(seed, _S_FORM, *ids)
    if rng.random() < 0.5:
        body_id = int(rng.integers(1, 7))
        text = _skeleton_text(xyz[:, :JOINTS], state[:, :JOINTS], body_id)
        (roots["multiview_action_skeleton"] / f"{sample_name(*ids)}.skeleton").write_bytes(text)
        return 1
    name = original_name(p, a, e, v)
    (roots["all_sqe"] / f"{name}.json").write_text(_all_sqe_text(name, xyz[:, :JOINTS], a))
    return 0


def _write_frames(
    folder: Path,
    actor: Actor,
    scene: tuple[np.ndarray, np.ndarray],
    lines: list[_Line],
    images: list[_Image],
    case: str | None,
) -> int:
    """The frame folder: every line's RGB and depth files and fileList.txt; returns the
    number of image files written."""
    folder.mkdir(parents=True, exist_ok=True)
    n = len(actor.joints)
    rgb = list(render_frames([actor], scene[0], n, KINECT_V1_COLOR))
    depth = list(render_depth([actor], scene[1], n, KINECT_V1_COLOR))
    for image in images:
        if image.depth:
            Image.fromarray(depth[image.instant]).save(folder / image.name)
        else:
            rgb[image.instant].save(folder / image.name, quality=JPEG_QUALITY)
    if case != "missing_file_list":
        text = "".join(" ".join(line.tokens) + "\n" for line in lines)
        (folder / FILE_LIST).write_text(text, encoding="ascii", newline="\n")
    return len(images)


def _spoil(path: Path, case: str) -> None:
    """A listed frame file deleted, or cut to its first 100 bytes (an unreadable JPEG)."""
    if case == "missing_frame_file":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])


def _write_keypoints(
    folder: Path,
    name: str,
    xyz: np.ndarray,
    shown: list[int],
    scene_depth: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """One JSON per OpenPose index k (the k-th frame of the filtered list)."""
    folder.mkdir(parents=True, exist_ok=True)
    size = (2 * scene_depth.shape[1], 2 * scene_depth.shape[0])
    people = keypoints.detect(xyz, KINECT_V1_COLOR, size, rng)
    for k, instant in enumerate(shown):
        person = people[instant]
        found = [person] if (person[:, 2] > 0).any() else []
        if rng.random() < _SPURIOUS:
            ghost = _ghost(person, scene_depth, rng)
            if ghost is not None:
                found.insert(0, ghost)  # listed first: the depth rule must pass it over
        (folder / f"{name}_{k:012d}_keypoints.json").write_text(keypoints.keypoints_json(found))


def _ghost(
    person: np.ndarray, scene_depth: np.ndarray, rng: np.random.Generator
) -> np.ndarray | None:
    """A spurious detection on the background, on the side away from the person, where the
    depth camera has no reading around its mid-hip (5x5, at half resolution); None if no
    such place turns up in 20 draws."""
    h, w = scene_depth.shape
    left = person[8, 0] > w  # the person's mid-hip is on the right half
    x_range = (0.1 * w, 0.6 * w) if left else (1.4 * w, 1.9 * w)
    for _ in range(20):
        ghost = keypoints.spurious((2 * w, 2 * h), rng, x_range)
        x, y = (int(v) // 2 for v in ghost[8, :2])
        if (scene_depth[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3] == 0).all():
            return ghost
    return None
