"""Deterministic generator of the ``demo_pku`` dataset, in PKU-MMD's exact raw formats.

Why: PKU-MMD is laid out unlike NTU: long recordings, each holding several labelled action
instances separated by unlabelled gaps, seen from three views, with labels, official splits,
videos and the authors' OpenPose output in separate files. The demo writes exactly that
(spec §1.2, §1.4), so the PKU-MMD readers, split rules and RGB mapping run on it unchanged:

- ``PKU_Skeleton_Renew/0fff-V.txt``: one row per video frame, 150 numbers ``%.6f`` separated
  by single spaces (persons 1 and 2 x 25 Kinect v2 joints x ``x y z``, camera space in
  metres), LF line ends; person 2 all zeros when absent, as in the real files;
- ``Train_Label_PKU_final/0fff-V.txt``: ``class,start,end,confidence`` per instance in time
  order, frames 1-based and inclusive (label frame n = row n of the skeleton file);
- ``Split/cross-subject.txt``, ``Split/cross-view.txt``: the official 4-line format, headers
  ``Training videos: `` and the misspelt ``Validataion videos: ``, names joined by ``, ``
  (the training line ends ``, ``, the validation line ``,``, as in the real files);
- ``RGB_VIDEO/0fff-V.avi``: MPEG-4 in AVI, 480x270 (the real ones are 1920x1080), people
  drawn where the skeleton's joints project;
- ``openpose_pkummd/0fff-V.avi/0fff-V_%012d_keypoints.json``: BODY_25 per video frame, index
  over the whole long video, the authors' naming (:mod:`mmnet.demo.keypoints`).

Frame alignment, the one rule everything follows: video frame f (0-based) shows the instant
of skeleton row f + 1 and is OpenPose index f. So label frame n is row n, video frame n - 1
and JSON index n - 1 (:meth:`mmnet.datasets.pku.PKUDataset.sample_video`).

Content: ``fff`` counts sequences from 0002. Each subject performs ``sequences`` solo
sequences (one instance of each of the 6 single-person demo classes, in random order) and one
sequence of 3 handshakes with a partner (class 7, two people throughout). Views L, M, R are
cameras at azimuths -45, 0, +45 degrees; each view's recording starts and stops a few frames
apart, so labels differ by a few frames between views (as the real ones do), and the
annotator's start and end vary by a frame. Cross-subject: videos of subjects 1, 2, 4, 5 (the
NTU demo's training subjects) train; cross-view: L and R train, M is validation.

Planted cases, each in a different solo file (names in :class:`PkuDemoSummary`): a window
ending on the last frame of its video and skeleton; a window running past both (the
recording stops early: the skeleton stage rejects the sample); a video shorter than its
skeleton, so that the last window runs past the video only (the RGB stage records it);
two overlapping windows; rows where nobody is tracked inside an instance. In the pair files
the partner drops out for a few rows now and then; a few JSON frames list a spurious
detection after the people.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from mmnet.datasets.demo import DEMO_CLASSES, DEMO_TWO_PERSON_ACTIONS
from mmnet.datasets.ntu import NTU60_XSUB_TRAIN
from mmnet.demo import keypoints
from mmnet.demo.performers import (
    PARTNER_OFFSET,
    Camera,
    action_controls,
    axis_rotation,
    camera_props,
    make_subject,
    pose,
    props_world,
    rest_controls,
    seeded_rng,
    sense_joints,
)
from mmnet.demo.render import (
    COLOR_SIZE,
    KINECT_V2_COLOR,
    Actor,
    Appearance,
    background,
    project_color,
    render_frames,
    write_video,
)
from mmnet.logs import progress

log = logging.getLogger(__name__)

VIEWS = "LMR"
#: Camera azimuths (degrees) of views L, M, R.
CAMERA_AZIMUTHS_DEG = (-45.0, 0.0, 45.0)
FIRST_VIDEO_ID = 2  # PKU-MMD's video ids start at 0002
HANDSHAKE = 7
PAIR_INSTANCES = 3
SOLO_MOTIONS = tuple(a for a in range(1, len(DEMO_CLASSES) + 1) if a not in DEMO_TWO_PERSON_ACTIONS)
SPLIT_HEADERS = ("Training videos: ", "Validataion videos: ")  # sic, as the official files
#: Planted cases (keys of :attr:`PkuDemoSummary.planted`).
PLANTED = (
    "window_ends_on_last_frame",
    "window_past_skeleton_end",
    "window_past_video_end",
    "overlapping_windows",
    "nobody_tracked",
)

_ROOM = 1000  # background id of the PKU-MMD room (the NTU demo's are setups 1...)
_BACK_WALL = 2.0
_MAX_OFFSET = 6  # frames a view's recording may start late or stop early
_SPURIOUS = 0.02  # share of JSON frames with a false detection
# Seed-stream tags (1: the subjects, in mmnet.demo.performers).
_S_ORDER, _S_TIMELINE, _S_CAMERA, _S_VIEW, _S_SENSOR, _S_KEYPOINTS, _S_PLAN = range(21, 28)


@dataclass(frozen=True)
class PkuDemoSummary:
    """What :func:`generate_demo_pku` wrote.

    ``planted``: case (:data:`PLANTED`) -> the sample(s) or rows it is in.
    """

    out_dir: Path
    n_videos: int
    n_samples: int
    n_frames: int
    n_two_person: int
    total_bytes: int
    seconds: float
    planted: Mapping[str, str] = field(default_factory=dict)


def video_name(video_id: int, view: int) -> str:
    """``(5, 3)`` -> ``"0005-R"``."""
    return f"{video_id:04d}-{VIEWS[view - 1]}"


def sample_name(video_id: int, view: int, action: int, instance: int) -> str:
    """PKU-MMD's instance id ``F{fff}V{vvv}C{ccc}L{iii}`` (as the original's converter)."""
    return f"F{video_id:03d}V{view:03d}C{action:03d}L{instance:03d}"


@dataclass(frozen=True)
class _Sequence:
    video_id: int
    subject: int
    motions: tuple[int, ...]

    @property
    def pair(self) -> bool:
        return HANDSHAKE in self.motions


def _sequences(seed: int, subjects: int, sequences: int) -> list[_Sequence]:
    out = []
    video_id = FIRST_VIDEO_ID
    for subject in range(1, subjects + 1):
        for r in range(sequences):
            order = seeded_rng(seed, _S_ORDER, subject, r).permutation(SOLO_MOTIONS)
            out.append(_Sequence(video_id, subject, tuple(int(m) for m in order)))
            video_id += 1
        out.append(_Sequence(video_id, subject, (HANDSHAKE,) * PAIR_INSTANCES))
        video_id += 1
    return out


@dataclass(frozen=True, eq=False)
class _Timeline:
    """One performance of a sequence, in world coordinates (y up, floor at 0).

    ``joints``: per person ``(N, 25, 3)``; ``props``: per person, ``(kind, centre (N, 3),
    axis (N, 3), visible (N,))``; ``instances``: ``[a, b)`` instants of each instance.
    """

    joints: tuple[np.ndarray, ...]
    looks: tuple[Appearance, ...]
    props: tuple[tuple[tuple[str, np.ndarray, np.ndarray, np.ndarray], ...], ...]
    instances: tuple[tuple[int, int], ...]

    @property
    def n_frames(self) -> int:
        return len(self.joints[0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def _gap(rest: np.ndarray, before: np.ndarray | None, after: np.ndarray | None) -> np.ndarray:
    """Joints of an unlabelled gap: standing at rest, cross-faded from the pose the previous
    instance ended in to the one the next starts in, so that nothing jumps."""
    w = _smoothstep(np.arange(1, len(rest) + 1) / (len(rest) + 1))[:, None, None]
    start = rest[0] if before is None else before
    end = rest[-1] if after is None else after
    return rest + (1 - w) * (start - rest[0]) + w * (end - rest[-1])


def _placements(
    seq: _Sequence, rng: np.random.Generator
) -> tuple[list[tuple[np.ndarray, float]], float]:
    """Where each person stands and faces (world position, yaw), and the pair's distance."""
    centre = np.array([rng.uniform(-0.2, 0.2), 0.0, rng.uniform(-0.2, 0.2)])
    if not seq.pair:
        return [(centre, math.radians(rng.uniform(-12, 12)))], 0.0
    pair_yaw = math.radians(rng.uniform(-15, 15))
    distance = rng.uniform(0.72, 0.85)
    # the subject stands on the left facing +x, the partner on the right facing -x
    return [
        (
            centre + axis_rotation(1, pair_yaw) @ np.array([side * distance / 2, 0.0, 0.0]),
            pair_yaw + side * math.pi / 2,
        )
        for side in (-1, 1)
    ], distance


def _timeline(
    seed: int, seq: _Sequence, frames: tuple[int, int], gaps: tuple[int, int]
) -> _Timeline:
    """The sequence performed once: gap, instance, gap, ..., instance, gap; every view
    records this one performance (from its own start and stop)."""
    rng = seeded_rng(seed, _S_TIMELINE, seq.video_id)
    people = [seq.subject] + ([PARTNER_OFFSET + seq.subject] if seq.pair else [])
    subjects = [make_subject(seed, pid) for pid in people]
    bodies = [body for body, _ in subjects]
    lengths = [int(rng.integers(frames[0], frames[1] + 1)) for _ in seq.motions]
    gap_lengths = [int(rng.integers(gaps[0], gaps[1] + 1)) for _ in range(len(seq.motions) + 1)]
    place, distance = _placements(seq, rng)
    instances, t = [], gap_lengths[0]
    for n, gap in zip(lengths, gap_lengths[1:], strict=True):
        instances.append((t, t + n))
        t += n + gap
    shared = [
        {
            "distance": distance,
            "meet_height": 0.6 * float(np.mean([b.height for b in bodies])),
            "start": rng.uniform(0.05, 0.15) * n,
            "rise": rng.uniform(0.18, 0.25) * n,
            "end": rng.uniform(0.7, 0.78) * n,
            "fall": rng.uniform(0.15, 0.2) * n,
            "amp": rng.uniform(0.8, 1.2),
            "freq": rng.uniform(2.0, 3.0),
            "phase": rng.uniform(0, 2 * np.pi),
        }
        for n in lengths
    ]
    joints, props = [], []
    for body, (pos, yaw) in zip(bodies, place, strict=True):
        to_world = axis_rotation(1, yaw)
        acted = []
        person_props = []
        for motion, n, common, (a, _) in zip(seq.motions, lengths, shared, instances, strict=True):
            controls, kinds = action_controls(motion, body, n, rng, common)
            local = pose(body, controls)
            acted.append(local)
            for kind, centre, axis in props_world(kinds, local, to_world):
                person_props.append((kind, centre + pos, axis, a))
        segments = []
        for i, gap in enumerate(gap_lengths):
            before = acted[i - 1][-1] if i > 0 else None
            after = acted[i][0] if i < len(acted) else None
            segments.append(_gap(pose(body, rest_controls(body, gap, rng)), before, after))
            if i < len(acted):
                segments.append(acted[i])
        local = np.concatenate(segments)
        joints.append(local @ to_world.T + pos)
        props.append(
            tuple(
                _whole(kind, centre, axis, a, len(local)) for kind, centre, axis, a in person_props
            )
        )
    return _Timeline(
        tuple(joints), tuple(look for _, look in subjects), tuple(props), tuple(instances)
    )


def _whole(
    kind: str, centre: np.ndarray, axis: np.ndarray, first: int, n: int
) -> tuple[str, np.ndarray, np.ndarray, np.ndarray]:
    """A prop of one instance over the whole timeline: held still outside it, and hidden."""
    before, after = first, n - first - len(centre)
    pad = ((before, after), (0, 0))
    visible = np.zeros(n, dtype=bool)
    visible[first : first + len(centre)] = True
    return kind, np.pad(centre, pad, mode="edge"), np.pad(axis, pad, mode="edge"), visible


def _camera(seed: int, video_id: int, view: int) -> Camera:
    rng = seeded_rng(seed, _S_CAMERA, video_id, view)
    return Camera(
        azimuth=math.radians(CAMERA_AZIMUTHS_DEG[view - 1] + rng.uniform(-3, 3)),
        distance=rng.uniform(3.3, 3.7),
        height=rng.uniform(0.95, 1.1),
        pitch=math.radians(rng.uniform(3, 8)),
    )


@dataclass(frozen=True)
class _Plan:
    """Which (video id, view) carries which planted case (decided once from the seed)."""

    files: Mapping[str, tuple[int, int]]

    def case(self, video_id: int, view: int) -> str | None:
        for name, where in self.files.items():
            if where == (video_id, view):
                return name
        return None


def _plan(seed: int, sequences: list[_Sequence]) -> _Plan:
    solo = [(s.video_id, v) for s in sequences if not s.pair for v in (1, 2, 3)]
    order = seeded_rng(seed, _S_PLAN).permutation(len(solo))
    return _Plan({name: solo[i] for name, i in zip(PLANTED, order, strict=False)})


@dataclass(frozen=True)
class _View:
    """One view's recording of a sequence and what its files say."""

    rows: np.ndarray  # (n_rows, 150): the skeleton file
    labels: list[tuple[int, int, int, int]]  # (class, start, end, confidence)
    actors: list[Actor]
    n_video: int  # frames the video holds
    note: str  # where the planted case is, for the summary


def _record(seed: int, seq: _Sequence, view: int, timeline: _Timeline, case: str | None) -> _View:
    """The recording of one view: its frames, rows, labels and what the video shows."""
    rng = seeded_rng(seed, _S_VIEW, seq.video_id, view)
    offset = int(rng.integers(0, _MAX_OFFSET + 1))
    last_b = timeline.instances[-1][1]
    n_rows = timeline.n_frames - offset - int(rng.integers(0, _MAX_OFFSET + 1))
    if case == "window_ends_on_last_frame":
        n_rows = last_b - offset
    elif case == "window_past_skeleton_end":
        n_rows = last_b - offset - 6
    labels = []
    for motion, (a, b) in zip(seq.motions, timeline.instances, strict=True):
        start = max(1, a - offset + 1 + int(rng.integers(-1, 2)))
        end = b - offset + int(rng.integers(-1, 2))
        labels.append([motion, start, end, 1 if rng.random() < 0.1 else 2])
    if case in ("window_ends_on_last_frame", "window_past_skeleton_end"):
        labels[-1][2] = last_b - offset
    if case == "overlapping_windows":
        labels[1][2] = labels[2][1] + 2

    cam = _camera(seed, seq.video_id, view)
    sensor = seeded_rng(seed, _S_SENSOR, seq.video_id, view)
    window = slice(offset, offset + n_rows)
    actors, rows = [], np.zeros((n_rows, 2, 25, 3))
    for k, world in enumerate(timeline.joints):
        xyz, _ = sense_joints(world[window], cam, sensor)
        held = timeline.props[k]
        drawn = camera_props(tuple((kind, c[window], x[window]) for kind, c, x, _ in held), cam)
        props = tuple(replace(p, visible=v[window]) for p, (*_, v) in zip(drawn, held, strict=True))
        actors.append(Actor(xyz, timeline.looks[k], props))
        rows[:, k] = xyz
    note = ""
    if seq.pair:  # the Kinect loses the partner for a few rows now and then
        for _ in range(int(rng.integers(1, 3))):
            a = int(rng.integers(0, n_rows - 6))
            rows[a : a + int(rng.integers(2, 7)), 1] = 0.0
    if case == "nobody_tracked":
        first = labels[0][1] + 5
        rows[first - 1 : first + 2] = 0.0  # label rows first..first+2 (1-based)
        note = f"{video_name(seq.video_id, view)} rows {first}..{first + 2}"
    n_video = n_rows
    if case == "window_past_video_end":
        n_video = labels[-1][2] - 5
    return _View(
        rows.reshape(n_rows, -1), [tuple(label) for label in labels], actors, n_video, note
    )


def _skeleton_text(rows: np.ndarray) -> bytes:
    """Rows of ``%.6f`` numbers separated by single spaces, LF ends; no negative zeros."""
    values = np.where(np.round(rows, 6) == 0, 0.0, rows)
    fmt = " ".join(["%.6f"] * values.shape[1])
    return "".join(fmt % tuple(row) + "\n" for row in values.tolist()).encode("ascii")


def _label_text(labels: list[tuple[int, int, int, int]]) -> bytes:
    return "".join(f"{c},{s},{e},{conf}\n" for c, s, e, conf in labels).encode("ascii")


def split_text(train: list[str], test: list[str]) -> str:
    """An official split file: headers, the names joined by ``, `` (training line ending
    ``, ``, validation line ``,``, exactly as the real files)."""
    return f"{SPLIT_HEADERS[0]}\n{', '.join(train)}, \n{SPLIT_HEADERS[1]}\n{', '.join(test)},\n"


def _write_keypoints(
    folder: Path,
    name: str,
    actors: list[Actor],
    n_frames: int,
    size: tuple[int, int],
    rng: np.random.Generator,
) -> None:
    people = [keypoints.detect(a.joints[:n_frames], KINECT_V2_COLOR, size, rng) for a in actors]
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(n_frames):
        found = keypoints.openpose_order([p[f] for p in people if (p[f, :, 2] > 0).any()])
        if rng.random() < _SPURIOUS:
            found.append(keypoints.spurious(size, rng, (0.05 * size[0], 0.95 * size[0])))
        (folder / f"{name}_{f:012d}_keypoints.json").write_text(keypoints.keypoints_json(found))


def generate_demo_pku(
    out_dir: Path,
    *,
    seed: int = 0,
    subjects: int = 6,
    sequences: int = 2,
    frames: tuple[int, int] = (40, 56),
    gaps: tuple[int, int] = (12, 30),
    video_size: tuple[int, int] = (480, 270),
) -> PkuDemoSummary:
    """Write the demo_pku dataset under ``out_dir`` (see the module docstring for what and
    how); existing files of the same names are overwritten."""
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if subjects < 2 or sequences < 1:
        raise ValueError(
            "subjects must be >= 2 and sequences >= 1 (the planted cases need 5 solo files)"
        )
    if not 8 <= frames[0] <= frames[1]:
        raise ValueError("frames must be (lo, hi) with 8 <= lo <= hi")
    if not 2 * _MAX_OFFSET <= gaps[0] <= gaps[1]:
        raise ValueError(f"gaps must be (lo, hi) with {2 * _MAX_OFFSET} <= lo <= hi")
    if video_size[0] % 2 or video_size[1] % 2 or min(video_size) < 16:
        raise ValueError("video_size must be even and at least 16x16 (yuv420p)")
    t0 = time.perf_counter()
    out_dir = Path(out_dir)
    folders = {
        key: out_dir / name
        for key, name in (
            ("skeletons", "PKU_Skeleton_Renew"), ("labels", "Train_Label_PKU_final"),
            ("splits", "Split"), ("videos", "RGB_VIDEO"), ("openpose", "openpose_pkummd"),
        )
    }  # fmt: skip
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    seqs = _sequences(seed, subjects, sequences)
    plan = _plan(seed, seqs)
    log.info("demo_pku: writing %d sequences x 3 views (seed %d) to %s", len(seqs), seed, out_dir)

    planted: dict[str, str] = {}
    n_samples = n_frames = n_two_person = 0
    with progress(total=3 * len(seqs), desc="demo_pku", unit="video") as bar:
        for seq in seqs:
            timeline = _timeline(seed, seq, frames, gaps)
            for view in (1, 2, 3):
                name = video_name(seq.video_id, view)
                case = plan.case(seq.video_id, view)
                rec = _record(seed, seq, view, timeline, case)
                (folders["skeletons"] / f"{name}.txt").write_bytes(_skeleton_text(rec.rows))
                (folders["labels"] / f"{name}.txt").write_bytes(_label_text(rec.labels))
                bg = _background(seed, _camera(seed, seq.video_id, view), view, video_size)
                write_video(
                    folders["videos"] / f"{name}.avi",
                    render_frames(rec.actors, bg, rec.n_video),
                    video_size,
                )
                _write_keypoints(
                    folders["openpose"] / f"{name}.avi", name, rec.actors, rec.n_video, video_size,
                    seeded_rng(seed, _S_KEYPOINTS, seq.video_id, view),
                )  # fmt: skip
                if case is not None:
                    planted[case] = rec.note or _planted_samples(case, seq, view, rec.labels)
                n_samples += len(rec.labels)
                n_frames += len(rec.rows)
                n_two_person += sum(c in DEMO_TWO_PERSON_ACTIONS for c, *_ in rec.labels)
                bar.update()

    names = [video_name(s.video_id, v) for s in seqs for v in (1, 2, 3)]
    trains = {
        "cross-subject.txt": {
            video_name(s.video_id, v)
            for s in seqs
            for v in (1, 2, 3)
            if s.subject in NTU60_XSUB_TRAIN
        },
        "cross-view.txt": {name for name in names if name.endswith(("-L", "-R"))},
    }
    for file, train in trains.items():
        text = split_text([n for n in names if n in train], [n for n in names if n not in train])
        (folders["splits"] / file).write_text(text, encoding="ascii", newline="\n")

    summary = PkuDemoSummary(
        out_dir=out_dir,
        n_videos=len(names),
        n_samples=n_samples,
        n_frames=n_frames,
        n_two_person=n_two_person,
        total_bytes=sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file()),
        seconds=time.perf_counter() - t0,
        planted=dict(sorted(planted.items())),
    )
    log.info(
        "demo_pku: %d videos, %d samples, %d frames, %.1f MB in %.1f s; planted: %s",
        summary.n_videos, summary.n_samples, summary.n_frames, summary.total_bytes / 1e6,
        summary.seconds, summary.planted,
    )  # fmt: skip
    return summary


def _planted_samples(case: str, seq: _Sequence, view: int, labels: list) -> str:
    """The sample id(s) of a planted case."""
    ids = [sample_name(seq.video_id, view, c, i) for i, (c, *_) in enumerate(labels, start=1)]
    return f"{ids[1]} {ids[2]}" if case == "overlapping_windows" else ids[-1]


def _background(seed: int, cam: Camera, view: int, size: tuple[int, int]) -> np.ndarray:
    """The room seen by ``cam``: one room for all videos, the floor line where ``cam`` sees it."""
    back_wall = cam.to_camera(np.array([0.0, 0.0, _BACK_WALL]))
    row = project_color(back_wall)[1] * size[1] / COLOR_SIZE[1]
    return background(seed, _ROOM, view, size, float(row))
