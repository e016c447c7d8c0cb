"""The N-UCLA demo generator: N-UCLA's exact raw formats (both skeleton forms, frame folders,
fileList.txt, depth images, OpenPose JSON; checked by strict readers written here),
determinism, the frame mapping of fileList.txt to skeleton frames and JSON, the readers of
mmnet.datasets on its files, and the planted cases."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmnet.config import SkeletonOptions
from mmnet.datasets.base import FramesUnavailable, RawPaths
from mmnet.datasets.demo import DEMO_NUCLA
from mmnet.demo import nucla
from mmnet.demo.nucla import ARTEFACTS, PLANTED, NuclaDemoSummary, generate_demo_nucla
from mmnet.stages.index import write_index
from mmnet.stages.skeleton import build_skeletons

SEED = 4
SMALL = {"subjects": 1, "environments": 1, "frames": (16, 20)}
SIZE, DEPTH_SIZE = (320, 240), (160, 120)
SAMPLE = re.compile(r"S01A0[1-6]E01V0[1-3]")
ALL_SQE = re.compile(r"a0[1-6]_s01_e00_v0[1-3]")


def read_reformatted(path: Path) -> np.ndarray:
    """Strict reader of the authors' reformatted ``.skeleton``: CRLF, 1 body per frame, a
    10-field body-info line, 20 joints of ``x,y,z,state``; ``(F, 20, 3)``."""
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = iter(raw.decode("ascii").split("\r\n")[:-1])
    frames = []
    for _ in range(int(next(lines))):
        assert next(lines) == "1"
        assert len(next(lines).split(" ")) == 10
        assert next(lines) == "20"
        joints = [next(lines).split(",") for _ in range(20)]
        assert all(len(j) == 4 and j[3] in ("1", "2") for j in joints)
        frames.append([[float(v) for v in j[:3]] for j in joints])
    assert next(lines, None) is None
    return np.array(frames)


def significant(value: float) -> int:
    """Significant digits of a float as Python writes it (``repr``, as ``json.dumps``)."""
    return len(re.sub(r"e.*", "", repr(abs(value))).replace(".", "").strip("0"))


def read_all_sqe(path: Path) -> tuple[dict, np.ndarray]:
    text = path.read_text("ascii")
    content = json.loads(text)
    assert text == json.dumps(content) and not text.endswith("\n")  # json.dumps spacing
    assert list(content) == ["file_name", "skeletons", "label"]
    assert all(significant(v) <= 6 for f in content["skeletons"] for j in f for v in j)
    return content, np.array(content["skeletons"])


def kept_lines(path: Path) -> list[list[str]]:
    """The original's token rule (spec §1.3), written out again."""
    out = []
    for line in path.read_text().splitlines():
        tokens = line.split()
        tokens = tokens[2:5] if len(tokens) > 3 else tokens
        if len(tokens) >= 3:
            out.append(tokens)
    return out


def project(joints: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Kinect v1 colour pixels (640x480 camera, 525 px focal length) scaled to ``size``."""
    x = 525.0 * joints[..., 0] / joints[..., 2] + 319.5
    y = -525.0 * joints[..., 1] / joints[..., 2] + 239.5
    return np.stack([x * size[0] / 640, y * size[1] / 480], -1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, NuclaDemoSummary]:
    out = tmp_path_factory.mktemp("demo_nucla")
    return out, generate_demo_nucla(out, seed=SEED, **SMALL)


@pytest.fixture(scope="module")
def table(demo, tmp_path_factory) -> pd.DataFrame:
    """samples.parquet through the real index and skeleton stages, with the frames path."""
    out, _ = demo
    work = tmp_path_factory.mktemp("stage")
    raw = DEMO_NUCLA.generated.raw_paths(out)
    raw = RawPaths(skeletons=raw.skeletons, extra={"frames": out / "multiview_action"})
    write_index(DEMO_NUCLA, raw, ["123", "132", "231"], work / "index.parquet")
    build_skeletons(DEMO_NUCLA, SkeletonOptions(), work / "index.parquet", work / "skeleton.zarr",
                    work / "samples.parquet", protocols=["123", "132", "231"])  # fmt: skip
    return pd.read_parquet(work / "samples.parquet").set_index("sample", drop=False)


def skeleton_of(out: Path, row: dict) -> np.ndarray:
    path = Path(row["skeleton_path"])
    return read_reformatted(path) if path.suffix == ".skeleton" else read_all_sqe(path)[1]


def test_both_skeleton_forms_each_sample_once(demo):
    out, summary = demo
    reformatted = sorted(p.stem for p in (out / "multiview_action_skeleton").iterdir())
    shared = sorted(p.stem for p in (out / "all_sqe").iterdir())
    assert all(SAMPLE.fullmatch(s) for s in reformatted) and all(
        ALL_SQE.fullmatch(s) for s in shared
    )
    as_ids = {f"S{s[5:7]}A{s[1:3]}E{int(s[9:11]) + 1:02d}V{s[13:15]}" for s in shared}
    assert not as_ids & set(reformatted) and len(as_ids) + len(reformatted) == 18
    assert summary.n_samples == 18 and summary.n_skeleton_files == len(reformatted)
    assert reformatted and shared  # both forms present
    for path in (out / "multiview_action_skeleton").iterdir():
        assert 16 <= len(read_reformatted(path)) <= 20
    for path in (out / "all_sqe").iterdir():
        content, joints = read_all_sqe(path)
        assert content["file_name"] == path.stem and content["label"] == int(path.stem[1:3])
        assert joints.shape[1:] == (20, 3) and 16 <= len(joints) <= 20


def test_frame_folders_file_lists_and_images(demo):
    out, summary = demo
    folders = sorted((out / "multiview_action").glob("view_*/*"))
    missing = summary.planted["missing_frame_folder"]
    assert len(folders) == 17  # one planted missing
    assert not (
        out / "multiview_action" / f"view_{int(missing[-1])}" / f"a{missing[4:6]}_s01_e00"
    ).exists()
    for folder in folders:
        lines = (folder / "fileList.txt").read_text() if (folder / "fileList.txt").exists() else ""
        assert all(re.fullmatch(r"\d+( \d+){1,4}", line) for line in lines.splitlines())
        for name in (p.name for p in folder.iterdir() if p.name != "fileList.txt"):
            assert re.fullmatch(r"frame_\d+_tc_\d+_(rgb\.jpg|depth\.png)", name), name
    folder = folders[0]
    rgb = Image.open(next(folder.glob("*_rgb.jpg")))
    depth = Image.open(next(folder.glob("*_depth.png")))
    assert rgb.format == "JPEG" and rgb.size == SIZE and rgb.mode == "RGB"
    assert depth.format == "PNG" and depth.size == DEPTH_SIZE and depth.mode.startswith("I;16")
    # the depth stream has its own time codes: same frame numbers, other time codes
    rgb_names = {p.name.split("_tc_")[0]: p.name for p in folder.glob("*_rgb.jpg")}
    depth_names = {p.name.split("_tc_")[0]: p.name for p in folder.glob("*_depth.png")}
    assert rgb_names.keys() == depth_names.keys()
    assert all(rgb_names[k].split("_")[3] != depth_names[k].split("_")[3] for k in rgb_names)


def test_every_file_list_case_is_planted(demo):
    out, summary = demo
    assert all(summary.file_list_cases[case] >= 1 for case in ARTEFACTS)
    sample = summary.planted["every_file_list_case"]
    folder = out / "multiview_action" / f"view_{int(sample[-1])}" / f"a{sample[4:6]}_s01_e00"
    lines = [line.split() for line in (folder / "fileList.txt").read_text().splitlines()]
    assert {len(tokens) for tokens in lines} == {2, 3, 4, 5}
    assert any(a[0] == b[0] for a, b in itertools.pairwise(lines))  # consecutive duplicate


def test_json_index_k_is_the_kth_listed_frame(demo, table):
    """For every sample with frames: OpenPose index k is the k-th frame of the original's
    filtered list, and its keypoints are that frame's skeleton joints projected; the RGB
    file shows the person there and the depth file reads the joints' depth."""
    out, summary = demo
    checked = 0
    for row in table.to_dict("records"):
        folder = Path(row["frames_dir"])
        json_dir = out / "openpose_ucla" / row["sample"]
        if not (folder / "fileList.txt").exists():
            assert row["sample"] in (
                summary.planted["missing_frame_folder"],
                summary.planted["missing_file_list"],
            )
            continue
        files = DEMO_NUCLA.frame_files(row)
        depth = DEMO_NUCLA.depth_files(row)
        assert len(files) == len(depth) == len(list(json_dir.iterdir()))
        first = int(kept_lines(folder / "fileList.txt")[0][0])
        joints = skeleton_of(out, row)
        for k, path in enumerate(files):
            instant = int(path.name.split("_")[1]) - first  # frame numbers count instants
            keypoints = json.loads(
                (json_dir / f"{row['sample']}_{k:012d}_keypoints.json").read_text()
            )
            person = [np.array(p["pose_keypoints_2d"]).reshape(25, 3) for p in keypoints["people"]][
                -1
            ]
            neck = project(joints[instant, 2], SIZE)  # ShoulderCenter: BODY_25 Neck
            assert np.linalg.norm(person[1, :2] - neck) < 0.02 or person[1, 2] == 0
            if (
                k == len(files) // 2
                and path.exists()
                and row["sample"] != summary.planted["corrupt_frame_file"]
            ):
                x, y = (int(v) for v in project(joints[instant, 1], SIZE))  # Spine: the shirt
                image = np.asarray(Image.open(path)).astype(int)
                wall = np.concatenate([image[y, 2:8], image[y, -8:-2]]).mean(axis=0)
                assert np.abs(image[y, x] - wall).max() > 25
                x, y = (int(v) for v in project(joints[instant, 1], DEPTH_SIZE))
                reading = int(np.asarray(Image.open(depth[k]))[y, x])  # the body, maybe an arm
                assert -600 < reading - 1000 * joints[instant, 1, 2] < 150
                checked += 1
    assert checked >= 14


def test_spurious_detections_sit_where_depth_has_no_reading(demo, table):
    out, _ = demo
    found = 0
    for row in table.to_dict("records"):
        if not (Path(row["frames_dir"]) / "fileList.txt").exists():
            continue
        depth = DEMO_NUCLA.depth_files(row)
        for k, path in enumerate(sorted((out / "openpose_ucla" / row["sample"]).iterdir())):
            people = [
                np.array(p["pose_keypoints_2d"]).reshape(25, 3)
                for p in json.loads(path.read_text())["people"]
            ]
            if len(people) < 2:
                continue
            ghost = people[0]  # listed first: the depth rule, not the order, must skip it
            assert (ghost[:, 2] > 0).sum() <= 6 and ghost[:, 2].max() < 0.4
            assert ghost[8, 2] > 0  # the mid-hip, where the depth rule looks (halved)
            x, y = (ghost[8, :2] // 2).astype(int)
            window = np.asarray(Image.open(depth[k]))[max(0, y - 2) : y + 3, max(0, x - 2) : x + 3]
            assert not (window > 0).any() or window[window > 0].mean() > 4000
            found += 1
    assert found >= 1


def test_readers_and_planted_frame_problems(demo, table):
    out, summary = demo
    assert len(table) == 18 and (table["status"] == "ok").all() and (table["reason"] == "").all()
    assert (table["label"] == table["action"] - 1).all() and set(table["label"]) == set(range(6))
    assert {p: int(table[p].sum()) for p in ("123", "132", "231")} == dict.fromkeys(
        ("123", "132", "231"), 12
    )
    for case, message in (("missing_frame_folder", "frame folder does not exist"),
                          ("missing_file_list", "no fileList.txt")):  # fmt: skip
        row = table.loc[summary.planted[case]].to_dict()
        with pytest.raises(FramesUnavailable, match=re.escape(row["frames_dir"]) + ".*" + message):
            DEMO_NUCLA.frame_files(row)
    row = table.loc[summary.planted["missing_frame_file"]].to_dict()
    assert sum(not p.exists() for p in DEMO_NUCLA.frame_files(row)) == 1
    row = table.loc[summary.planted["corrupt_frame_file"]].to_dict()
    broken = 0
    for path in DEMO_NUCLA.frame_files(row):
        try:
            Image.open(path).load()
        except OSError:
            broken += 1
    assert broken == 1
    # the skeleton's frames are the capture instants: one per distinct frame number
    row = table.loc[summary.planted["every_file_list_case"]].to_dict()
    lines = [
        line.split() for line in (Path(row["frames_dir"]) / "fileList.txt").read_text().splitlines()
    ]
    numbers = {int(t[0]) for t in lines} | {int(t[2]) for t in lines if len(t) > 3}
    assert numbers == set(range(min(numbers), min(numbers) + row["n_frames"]))
    assert row["n_frames"] == len(skeleton_of(out, row))


def test_deterministic(demo, tmp_path):
    out, _ = demo
    again = tmp_path / "again"
    generate_demo_nucla(again, seed=SEED, **SMALL)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert files == sorted(out / p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in files:
        assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path.name
    lines = [nucla._file_list(30, nucla.seeded_rng(s, 0), None)[0] for s in (SEED, SEED + 1)]
    assert lines[0] != lines[1]


def test_argument_checks(tmp_path):
    for kwargs in ({"subjects": 0}, {"frames": (8, 20)}, {"image_size": (322, 240)}):
        with pytest.raises(ValueError):
            generate_demo_nucla(tmp_path, **kwargs)
    assert PLANTED[-1] == "every_file_list_case"
