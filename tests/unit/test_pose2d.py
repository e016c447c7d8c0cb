"""2D pose backends and the extract_pose2d stage, on the real NTU video and skeleton."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import REPO, realdata
from openpose_stub import FAKE_POSE, write_fake_openpose, write_fake_pyopenpose
from PIL import Image
from realvideos import real_videos, samples_table

from mmnet.config import SkeletonOptions
from mmnet.datasets.base import RawPaths
from mmnet.datasets.ntu import NTU60
from mmnet.datasets.ntu_format import read_skeleton_file
from mmnet.frames import FrameConfig, evaluation_frames
from mmnet.pose2d import make_backend, reads_image_files
from mmnet.pose2d.base import FrameRequest, PoseOptions, parse_openpose_json
from mmnet.pose2d.from_json import ImportBackend
from mmnet.pose2d.kinect import KinectBackend
from mmnet.pose2d.openpose import OpenPoseBackend, OpenPosePythonBackend
from mmnet.stages.frames import write_shard_frames
from mmnet.stages.index import write_index
from mmnet.stages.pose2d import estimate_shard, merge_poses
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import build_skeletons
from mmnet.video import VideoReader

SAMPLE = "S001C001P001R001A001"
#: Where visual checks go (git-ignored); MMNET_CHECKS moves them.
CHECKS = Path(os.environ.get("MMNET_CHECKS", REPO / "results" / "checks"))


@pytest.fixture(scope="module")
def a001():
    """The only real sample with both skeleton and video: its row and decoded frames."""
    row = {
        "sample": SAMPLE,
        "skeleton_path": str(realdata("ntu60", "skeletons", f"{SAMPLE}.skeleton")),
        "video_path": str(realdata("ntu60", "videos", f"{SAMPLE}_rgb.avi")),
        "n_frames": 103,
        "label": 0,
    }
    with VideoReader(row["video_path"]) as reader:
        frames = reader.read(range(reader.n_frames))
    colour = read_skeleton_file(row["skeleton_path"], fields=(5, 6)).dense(1)[0]  # (F, V, 2)
    return row, frames, colour


def draw_people(image: np.ndarray, people: np.ndarray, keypoints=(0, 4, 7, 10, 13)) -> np.ndarray:
    """A copy of ``image`` with ``keypoints`` of every person drawn (for checking by eye):
    circles in one colour per keypoint, the person's index written at the first one."""
    from PIL import ImageDraw

    colours = ("white", "red", "blue", "orange", "cyan", "magenta", "yellow", "lime")
    canvas = Image.fromarray(image)
    draw = ImageDraw.Draw(canvas)
    radius = max(3, image.shape[0] // 150)
    for index, person in enumerate(people):
        for i, keypoint in enumerate(keypoints):
            x, y, confidence = (float(v) for v in person[keypoint])
            if confidence <= 0:
                continue
            box = (x - radius, y - radius, x + radius, y + radius)
            draw.ellipse(box, outline=colours[i % len(colours)], width=max(1, radius // 2))
            if i == 0:
                draw.text((x + radius + 2, y - radius), str(index), fill="yellow")
    return np.asarray(canvas)


def _requests(row, frames, size=(1920, 1080), images=None, pixels=None, scale=1.0):
    return [
        FrameRequest(row=row, frame=f, video_frame=f, image=(images or {}).get(f),
                     pixels=(pixels or {}).get(f), scale=scale, video_size=size)
        for f in frames
    ]  # fmt: skip


@pytest.mark.realdata
def test_kinect_points_lie_on_the_person_and_move_with_the_skeleton(a001):
    row, frames, colour = a001
    wanted = list(evaluation_frames(103)) + [0, 102]
    people = KinectBackend(NTU60).estimate(_requests(row, wanted))
    CHECKS.mkdir(parents=True, exist_ok=True)
    panels = []
    for frame, found in zip(wanted, people, strict=True):
        assert found.shape == (1, 25, 3)
        points = found[0, [0, 4, 7, 10, 13]]
        assert (points[:, 2] > 0).all()
        assert ((points[:, 0] > 0) & (points[:, 0] < 1920)).all()
        assert ((points[:, 1] > 0) & (points[:, 1] < 1080)).all()
        # nose, right/left wrist, right/left knee in OpenPose's sides (the default) are the
        # Kinect joints Head, WristLeft, WristRight, KneeLeft, KneeRight (Kinect mirrors sides)
        np.testing.assert_allclose(points[:, :2], colour[frame, [3, 6, 10, 13, 17]], atol=1e-3)
        image = frames[frame]
        for x, y in points[:, :2].astype(int):  # on the person: unlike the wall 250 px aside
            person = image[y - 10 : y + 10, x - 10 : x + 10].astype(float)
            wall = image[y - 10 : y + 10, x - 260 : x - 240].astype(float)
            assert np.abs(person.mean(axis=(0, 1)) - wall.mean(axis=(0, 1))).max() > 25
        panels.append(draw_people(image, found)[200:800, 800:1300])
    Image.fromarray(np.concatenate(panels, axis=1)).save(CHECKS / f"kinect_{SAMPLE}.png")
    # the drinking hand (OpenPose's LWrist) rises to the mouth and comes back down
    wrist = np.array([p[0, 7, 1] for p in people[:5]])
    assert wrist[0] - wrist.min() > 80
    np.testing.assert_allclose(wrist, colour[wanted[:5], 10, 1], atol=1e-3)


@pytest.mark.realdata
def test_kinect_points_scale_to_the_video_size(a001):
    row, _, colour = a001
    (found,) = KinectBackend(NTU60).estimate(_requests(row, [17], size=(480, 270)))
    np.testing.assert_allclose(found[0, 0, :2], colour[17, 3] / 4, atol=1e-3)
    assert KinectBackend(NTU60).estimate(_requests(row, [200])) == [None]  # beyond the file


@pytest.mark.realdata
def test_mediapipe_finds_the_kinect_joints_in_the_real_video(a001):
    """BlazePose's nose, wrist and knees lie near the Kinect colour joints of the same frames.

    Sides are mirrored: on NTU's videos the person faces the camera, and the learned model's
    left wrist (the person's left) is Kinect's WristRight (docs/rgb.md).
    """
    row, _, colour = a001
    frames = list(evaluation_frames(103))
    with VideoReader(row["video_path"]) as reader:
        pixels = reader.read(frames, size=(960, 540))
    backend = make_backend("mediapipe", NTU60)
    people = backend.estimate(_requests(row, frames, pixels=pixels, scale=2.0))
    distances = {"nose-Head": [], "LWrist-WristRight": [], "RKnee-KneeLeft": [],
                 "LKnee-KneeRight": [], "LWrist-WristLeft": []}  # fmt: skip
    for frame, found in zip(frames, people, strict=True):
        assert found.shape == (1, 25, 3)
        point = found[0]
        for name, keypoint, joint in (("nose-Head", 0, 3), ("LWrist-WristRight", 7, 10),
                                      ("RKnee-KneeLeft", 10, 13), ("LKnee-KneeRight", 13, 17),
                                      ("LWrist-WristLeft", 7, 6)):  # fmt: skip
            distances[name].append(np.hypot(*(point[keypoint, :2] - colour[frame, joint])))
    median = {name: float(np.median(d)) for name, d in distances.items()}
    print("median distances (px):", median)
    assert median["nose-Head"] < 30, median
    assert median["LWrist-WristRight"] < 30, median  # the cup hand
    assert median["RKnee-KneeLeft"] < 40 and median["LKnee-KneeRight"] < 40, median
    assert median["LWrist-WristLeft"] > 2 * median["LWrist-WristRight"], median  # mirrored


@pytest.mark.realdata
@pytest.mark.parametrize("sides", ["openpose", "kinect"])
def test_kinect_sides_follow_openpose_by_default(a001, sides):
    """Default ``sides: openpose``: our kinect RWrist / RKnee lie nearer the learned model's
    RWrist / RKnee than its LWrist / LKnee on every frame where both are found (Kinect tracked,
    model confident), and the same for the left ones; ``sides: kinect`` exchanges them.

    The model here is MediaPipe: the real OpenPose output in realdata is for two videos whose
    skeleton files are not there; ``test_mediapipe_agrees_with_real_openpose_output`` shows
    that MediaPipe and OpenPose agree on sides.
    """
    row, frames, _ = a001
    wanted = list(range(0, 103, 3))
    pixels = {f: np.asarray(Image.fromarray(frames[f]).resize((960, 540))) for f in wanted}
    learned = make_backend("mediapipe", NTU60).estimate(
        _requests(row, wanted, pixels=pixels, scale=2.0)
    )
    settings = {"kinect": {"sides": sides}}
    kinect = make_backend("kinect", NTU60, options=PoseOptions.from_dict(settings)).estimate(
        _requests(row, wanted)
    )
    compared = 0
    for model, ours in zip(learned, kinect, strict=True):
        for right, left in ((4, 7), (10, 13)):  # wrists, knees
            for mine, same, other in ((right, right, left), (left, left, right)):
                if ours[0, mine, 2] < 1 or model[0, same, 2] < 0.5 or model[0, other, 2] < 0.5:
                    continue  # Kinect only inferred it, or the model is unsure
                to_same = np.hypot(*(ours[0, mine, :2] - model[0, same, :2]))
                to_other = np.hypot(*(ours[0, mine, :2] - model[0, other, :2]))
                assert (to_same < to_other) == (sides == "openpose"), (mine, to_same, to_other)
                compared += 1
    assert compared >= 60


def _stgcn_poses(sample: str, size: tuple[int, int]) -> dict[int, np.ndarray]:
    """The 2D poses of ``realdata/ntu60/pose2d_stgcn_json`` as ``{video frame: (P, 18, 2)
    pixels}``. Another project made them with OpenPose's COCO-18 model (the x, y fractions
    fall on its 656x368 network grid) in st-gcn's Kinetics-skeleton layout (1-based
    ``frame_index``)."""
    data = json.loads(realdata("ntu60", "pose2d_stgcn_json", f"{sample}_rgb.json").read_text())
    poses = {}
    for entry in data["data"]:
        people = np.array([person["pose"] for person in entry["skeleton"]]).reshape(-1, 18, 2)
        poses[entry["frame_index"] - 1] = people * size
    return poses


@pytest.mark.realdata
def test_mediapipe_agrees_with_real_openpose_output():
    """On S004C003P003R001A007 ("throw"), BlazePose's BODY_25 nose, wrists and knees lie a
    few pixels from real OpenPose output for the same frames, side for side: the learned
    models agree on left and right (Kinect mirrors them, docs/rgb.md)."""
    sample = "S004C003P003R001A007"
    path = realdata("ntu60", "videos", f"{sample}_rgb.avi")
    with VideoReader(path) as reader:
        frames = [int(f) for f in FrameConfig().select(reader.n_frames, sample).frames()]
        pixels = reader.read(frames, size=(960, 540))
    openpose = _stgcn_poses(sample, (1920, 1080))
    found = make_backend("mediapipe", NTU60).estimate(
        _requests({"sample": sample}, frames, pixels=pixels, scale=2.0)
    )
    # BODY_25 index -> COCO-18 index of the same point
    pairs = {"nose": (0, 0), "RWrist": (4, 4), "LWrist": (7, 7), "RKnee": (10, 9),
             "LKnee": (13, 12), "LWrist-RWrist": (7, 4)}  # fmt: skip
    distances = {name: [] for name in pairs}
    for frame, people in zip(frames, found, strict=True):
        assert len(people) == 1, frame
        ours = people[0]
        theirs = min(openpose[frame], key=lambda p: np.hypot(*(p[0] - ours[0, :2])))
        for name, (body_25, coco) in pairs.items():
            if theirs[coco].any():  # (0, 0): OpenPose did not find it
                distances[name].append(np.hypot(*(ours[body_25, :2] - theirs[coco])))
    median = {name: float(np.median(d)) for name, d in distances.items()}
    print("median distances to OpenPose (px):", median)
    assert all(len(d) >= len(frames) // 2 for d in distances.values()), distances
    for name in ("nose", "RWrist", "LWrist", "RKnee", "LKnee"):
        assert median[name] < 20, median
    assert median["LWrist-RWrist"] > 5 * median["LWrist"], median  # sides as OpenPose's


@pytest.mark.realdata
def test_mediapipe_finds_one_person_in_the_other_real_videos():
    backend = make_backend("mediapipe", NTU60)
    for path in sorted(realdata("ntu60", "videos").glob("S004*.avi"))[:3]:
        with VideoReader(path) as reader:
            frames = list(evaluation_frames(reader.n_frames))
            pixels = reader.read(frames, size=(960, 540))
        row = {"sample": path.stem[:20]}
        found = backend.estimate(_requests(row, frames, pixels=pixels, scale=2.0))
        assert sum(len(p) == 1 for p in found) >= 4, path.name
        assert all(len(p) <= 1 for p in found)  # one person per frame at most


def test_openpose_binary_contract(tmp_path):
    binary = write_fake_openpose(tmp_path / "bin")
    images = {}
    for frame in (3, 9):
        images[frame] = tmp_path / f"S001C001P001R001A001_rgb_{frame:012d}.jpg"
        Image.new("RGB", (960, 540), "gray").save(images[frame])
    backend = OpenPoseBackend(binary, tmp_path / "models", ["--net_resolution", "-1x368"])
    row = {"sample": SAMPLE}
    people = backend.estimate(_requests(row, [3, 9], images=images, scale=2.0))
    call = (tmp_path / "bin" / "calls.txt").read_text().split()
    for flag, value in (("--display", "0"), ("--render_pose", "0"), ("--model_pose", "BODY_25"),
                        ("--net_resolution", "-1x368")):  # fmt: skip
        assert call[call.index(flag) + 1] == value
    assert call[call.index("--model_folder") + 1].rstrip("/") == str(tmp_path / "models")
    for found in people:  # read back from the JSON files and scaled to full resolution
        assert found.shape == (1, 25, 3)
        np.testing.assert_allclose(found[0, 0], [0.5 * 1920, 0.2 * 1080, 0.9], rtol=1e-5)
        np.testing.assert_allclose(found[0, 13, :2], np.array(FAKE_POSE[13]) * [1920, 1080])


def test_openpose_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"pose2d\.openpose\.binary"):
        OpenPoseBackend(tmp_path / "no-openpose.bin")
    failing = tmp_path / "fail.bin"
    failing.write_text("#!/bin/sh\necho 'Check failed: cudaSuccess' >&2\nexit 1\n")
    failing.chmod(0o755)
    image = tmp_path / "x_000000000000.jpg"
    Image.new("RGB", (8, 8)).save(image)
    with pytest.raises(RuntimeError, match="cudaSuccess"):
        OpenPoseBackend(failing).estimate(_requests({"sample": "x"}, [0], images={0: image}))


def _openpose_json(path: Path, people: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    listed = [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()} for p in people]
    path.write_text(json.dumps({"version": 1.3, "people": listed}))


def test_openpose_json_is_read_exactly_and_bad_files_are_named(tmp_path):
    people = np.random.default_rng(0).uniform(0, 1000, (3, 25, 3)).astype(np.float32)
    _openpose_json(tmp_path / "a_keypoints.json", people)
    np.testing.assert_array_equal(parse_openpose_json(tmp_path / "a_keypoints.json"), people)
    coco = tmp_path / "coco_keypoints.json"
    coco.write_text(json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 54}]}))
    with pytest.raises(ValueError, match=r"coco_keypoints\.json: person 0 has 54"):
        parse_openpose_json(coco)
    broken = tmp_path / "broken_keypoints.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken_keypoints\.json"):
        parse_openpose_json(broken)
    empty = tmp_path / "empty_keypoints.json"
    empty.write_text(json.dumps({"version": 1.3, "people": []}))
    assert parse_openpose_json(empty).shape == (0, 25, 3)


@pytest.fixture
def a001_samples(tmp_path):
    """samples.parquet of the real NTU60 files; only A001 has its video."""
    raw = RawPaths(skeletons=(realdata("ntu60", "skeletons"),), videos=realdata("ntu60", "videos"))
    write_index(NTU60, raw, ["xsub"], tmp_path / "index.parquet")
    build_skeletons(
        NTU60,
        SkeletonOptions(),
        tmp_path / "index.parquet",
        tmp_path / "sk.zarr",
        tmp_path / "s.parquet",
    )
    return tmp_path / "s.parquet"


@pytest.mark.realdata
def test_import_backend_reads_the_original_naming_and_falls_back(a001_samples, tmp_path):
    """JSON named like the authors' (`<id>/<id>_rgb_000000000NNN_keypoints.json`); frame 17
    has no file and frame 18 nobody, so the stage goes on to frame 19."""
    root = tmp_path / "openpose"
    colour = NTU60.color_joints(
        {"skeleton_path": str(realdata("ntu60", "skeletons", f"{SAMPLE}.skeleton"))}
    )
    kinect = KinectBackend(NTU60)
    row = {
        "sample": SAMPLE,
        "skeleton_path": str(realdata("ntu60", "skeletons", f"{SAMPLE}.skeleton")),
    }
    for frame in range(colour.shape[1]):
        if frame == 17:
            continue
        (people,) = kinect.estimate(_requests(row, [frame]))
        if frame == 18:
            people = people[:0]
        _openpose_json(root / SAMPLE / f"{SAMPLE}_rgb_{frame:012d}_keypoints.json", people)
    config = FrameConfig(training_candidates=1)
    backend = ImportBackend(NTU60, root)
    table = estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        a001_samples,
        ShardOutput(tmp_path / "p.zarr", tmp_path / "p.parquet"),
    )
    first = table.iloc[0]
    assert first["pose_status"] == "ok" and first["video_frames"] == 103
    assert (table["pose_status"].iloc[1:] == "video_missing").all()
    store = zarr.open_group(tmp_path / "p.zarr", mode="r")
    frames, counts = store["frame"][0], store["people"][0]
    entries = dict(zip(frames[frames >= 0].tolist(), counts[frames >= 0].tolist(), strict=True))
    assert entries[17] == -1 and entries[18] == 0 and entries[19] == 1  # no file, nobody, found
    assert 20 not in entries  # no further than needed
    (expected,) = kinect.estimate(_requests(row, [34]))
    index = int(np.flatnonzero(frames == 34)[0])
    np.testing.assert_array_equal(store["keypoints"][0, index, :1], expected)
    assert first["pose_frames"] == len(entries) < 103  # only selected frames (+ fallbacks)


@pytest.mark.realdata
def test_openpose_stage_runs_on_kept_frames_only(a001_samples, tmp_path):
    """frames.keep: extract_frames -> extract_pose2d with the binary; shards and gather."""
    binary = write_fake_openpose(tmp_path / "bin")
    config = FrameConfig(training_candidates=2, pose_height=270)
    backend = make_backend(
        "openpose",
        NTU60,
        options=PoseOptions.from_dict({"openpose": {"interface": "binary", "binary": str(binary)}}),
    )
    stores, tables = [], []
    for shard in range(2):
        frames_dir = tmp_path / f"frames{shard}"
        written = write_shard_frames(
            NTU60, config, Shard(shard, 2), a001_samples, frames_dir, samples_per_file=4
        )
        assert set(written["row"]) == ({0, 1, 2, 3} if shard == 0 else {4, 5, 6})
        stores.append(tmp_path / f"p{shard}.zarr")
        tables.append(tmp_path / f"p{shard}.parquet")
        estimate_shard(
            NTU60,
            backend,
            config,
            Shard(shard, 2),
            a001_samples,
            ShardOutput(stores[-1], tables[-1]),
            frames_dir=frames_dir,
            samples_per_file=4,
        )
    images = sorted((tmp_path / "frames0" / "images").glob("*.jpg"))
    selected = set(FrameConfig(training_candidates=2).select(103, SAMPLE).frames())
    assert {int(p.stem[-12:]) for p in images} == selected  # only the selected frames
    assert images[0].name.startswith(f"{SAMPLE}_rgb_0000000000")
    assert Image.open(images[0]).size == (480, 270)
    table = merge_poses(  # six of the seven real samples have no video: no floor here
        a001_samples, stores, tables, tmp_path / "pose2d.zarr", tmp_path / "pose2d.parquet",
        min_kept=0,
    )  # fmt: skip
    assert list(table["pose_status"]) == ["ok"] + ["video_missing"] * 6
    assert table.loc[0, "pose_frames"] == len(selected)
    store = zarr.open_group(tmp_path / "pose2d.zarr", mode="r")
    assert store.attrs["backend"] == "openpose"
    np.testing.assert_allclose(store["keypoints"][0, 0, 0, 0], [960, 216, 0.9], rtol=1e-5)
    assert (store["people"][1:] == -1).all()
    assert pd.read_parquet(tmp_path / "pose2d.parquet").equals(table)
    shutil.rmtree(tmp_path / "frames0")


@pytest.mark.realdata
def test_openpose_binary_without_kept_frames_holds_one_block_on_disk(tmp_path):
    """frames.keep off: the stage decodes each block's frames into its scratch folder, so
    while OpenPose runs the disk holds that block's frames and nothing else, and nothing is
    left afterwards; the poses equal those from extract_frames' kept frames."""
    samples = tmp_path / "samples.parquet"
    samples_table(real_videos(realdata("ntu60", "videos")), samples)
    binary = write_fake_openpose(tmp_path / "bin")
    backend = make_backend(
        "openpose",
        NTU60,
        options=PoseOptions.from_dict({"openpose": {"interface": "binary", "binary": str(binary)}}),
    )
    config = FrameConfig(training_candidates=1, pose_height=135)
    work = tmp_path / "work"
    work.mkdir()
    table = estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        samples,
        ShardOutput(work / "p.zarr", work / "p.parquet"),
        samples_per_file=2,
    )
    assert (table["pose_status"] == "ok").all() and len(table) == 7
    calls = [[int(v) for v in line.split()] for line in (binary.parent / "disk.txt").open()]
    per_block = [table["pose_frames"][i : i + 2].sum() for i in range(0, 7, 2)]
    assert [images for images, _, _ in calls] == per_block  # one openpose.bin call per block
    assert all(images == held for images, held, _ in calls)  # only that block on disk
    assert not [p for p in tmp_path.rglob("*.jpg")]
    write_shard_frames(NTU60, config, Shard(0, 1), samples, tmp_path / "frames", samples_per_file=2)
    kept = tmp_path / "kept"
    kept.mkdir()
    estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        samples,
        ShardOutput(kept / "p.zarr", kept / "p.parquet"),
        frames_dir=tmp_path / "frames",
        samples_per_file=2,
    )
    a, b = (zarr.open_group(d / "p.zarr", mode="r") for d in (work, kept))
    for name in ("keypoints", "frame", "people"):
        np.testing.assert_array_equal(a[name][:], b[name][:], err_msg=name)
    kept_bytes = sum(f.stat().st_size for f in (tmp_path / "frames" / "images").iterdir())
    assert sum(held_bytes for _, _, held_bytes in calls) == kept_bytes  # the same JPEG files


@pytest.mark.realdata
def test_mediapipe_stage_decodes_in_memory_and_writes_no_frame(a001_samples, a001, tmp_path):
    """No extract_frames output: the selected frames are decoded in memory, shrunk to
    pose_height, and the keypoints come back in full-resolution pixels."""
    config = FrameConfig(training_candidates=1, pose_height=540)
    backend = make_backend("mediapipe", NTU60)
    work = tmp_path / "work"
    work.mkdir()
    table = estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        a001_samples,
        ShardOutput(work / "p.zarr", work / "p.parquet"),
    )
    assert table.loc[0, "pose_status"] == "ok" and table.loc[0, "frames_with_people"] >= 5
    assert not [p for p in work.rglob("*") if p.suffix in (".jpg", ".png")]
    store = zarr.open_group(work / "p.zarr", mode="r")
    frames, people = store["frame"][0], store["people"][0]
    nose = store["keypoints"][0, :, 0, 0, :2]
    _, _, colour = a001
    found = (frames >= 0) & (people == 1)
    distances = np.hypot(*(nose[found] - colour[frames[found], 3]).T)
    assert np.median(distances) < 30  # full-resolution pixels, near the Kinect head


@pytest.mark.realdata
def test_pyopenpose_interface_runs_in_memory(a001_samples, tmp_path, monkeypatch):
    """interface: python -> the bindings get BGR frames shrunk to pose_height, their
    parameters come from the config, keypoints return in full-resolution pixels, and no
    frame file is written."""
    monkeypatch.syspath_prepend(str(write_fake_pyopenpose(tmp_path / "bindings")))
    monkeypatch.setitem(sys.modules, "pyopenpose", None)  # so that teardown unloads the stub
    del sys.modules["pyopenpose"]
    settings = {"openpose": {"interface": "python", "model_folder": "/models",
                             "extra_args": ["--net_resolution", "-1x368"]}}  # fmt: skip
    backend = make_backend("openpose", NTU60, options=PoseOptions.from_dict(settings))
    assert backend.needs_pixels and not backend.needs_images
    assert not reads_image_files("openpose", PoseOptions.from_dict(settings))
    assert reads_image_files(
        "openpose", PoseOptions.from_dict({"openpose": {"interface": "binary"}})
    )
    work = tmp_path / "work"
    work.mkdir()
    config = FrameConfig(training_candidates=1, pose_height=270)
    table = estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        a001_samples,
        ShardOutput(work / "p.zarr", work / "p.parquet"),
    )
    fake = sys.modules["pyopenpose"]
    assert fake.CONFIGURED == [{"model_pose": "BODY_25", "display": "0", "render_pose": "0",
                                "model_folder": "/models/", "net_resolution": "-1x368"}]  # fmt: skip
    assert set(fake.SEEN) == {((270, 480, 3), "uint8")}
    assert table.loc[0, "pose_status"] == "ok"
    assert not [p for p in work.rglob("*") if p.suffix in (".jpg", ".png")]
    keypoints = zarr.open_group(work / "p.zarr", mode="r")["keypoints"][0, 0, 0]
    np.testing.assert_allclose(keypoints[0], [960, 216, 0.9], rtol=1e-5)  # nose, full res
    auto = {"openpose": {**settings["openpose"], "interface": "auto"}}  # bindings importable
    assert isinstance(
        make_backend("openpose", NTU60, options=PoseOptions.from_dict(auto)), OpenPosePythonBackend
    )
    with pytest.raises(ValueError, match="--flag value pairs"):
        make_backend("openpose", NTU60, options=PoseOptions.from_dict({"openpose": {**settings["openpose"],
                                                               "extra_args": ["-1x368"]}}))  # fmt: skip


def test_pyopenpose_missing_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopenpose", None)  # import fails
    monkeypatch.setitem(sys.modules, "openpose", None)
    with pytest.raises(ImportError, match="-DBUILD_PYTHON=ON"):
        make_backend(
            "openpose", NTU60, options=PoseOptions.from_dict({"openpose": {"interface": "python"}})
        )
    auto = {"openpose": {"interface": "auto", "binary": sys.executable}}  # any executable
    assert isinstance(
        make_backend("openpose", NTU60, options=PoseOptions.from_dict(auto)), OpenPoseBackend
    )
