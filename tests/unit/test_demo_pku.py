"""The PKU-MMD demo generator: PKU-MMD's exact raw formats (checked by strict readers written
here), determinism, the frame alignment of skeleton rows, videos and OpenPose JSON, the
readers of mmnet.datasets on its files, and the planted cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest

from mmnet.config import SkeletonOptions
from mmnet.datasets.base import UnusableSample
from mmnet.datasets.demo import DEMO_PKU
from mmnet.datasets.pku import read_split_file
from mmnet.demo import generate_raw, pku
from mmnet.demo.pku import PLANTED, PkuDemoSummary, generate_demo_pku
from mmnet.stages.index import write_index
from mmnet.stages.skeleton import build_skeletons
from mmnet.status import STATUS_FRAME_COUNT_MISMATCH
from mmnet.video import VideoError, open_sample_video

SEED = 5
SIZE = (192, 108)
SMALL = {"subjects": 2, "sequences": 1, "frames": (20, 24), "gaps": (12, 14), "video_size": SIZE}
NUMBER = re.compile(r"-?\d+\.\d{6}")
LABEL = re.compile(r"(\d+),(\d+),(\d+),([12])")
OPENPOSE_KEYS = [
    "person_id", "pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d",
    "hand_right_keypoints_2d", "pose_keypoints_3d", "face_keypoints_3d",
    "hand_left_keypoints_3d", "hand_right_keypoints_3d",
]  # fmt: skip
# BODY_25 keypoint -> Kinect v2 joint, sides mirrored as OpenPose names them on these frames.
NECK, MIDHIP, RWRIST, LWRIST = (1, 2), (8, 0), (4, 6), (7, 10)


def read_rows(path: Path) -> np.ndarray:
    """Strict reader of a skeleton file: LF lines of 150 ``%.6f`` numbers, single spaces."""
    text = path.read_text("ascii")
    assert text.endswith("\n") and "\r" not in text and "\n\n" not in text
    rows = []
    for line in text[:-1].split("\n"):
        tokens = line.split(" ")
        assert len(tokens) == 150 and all(NUMBER.fullmatch(t) for t in tokens), line[:80]
        assert "-0.000000" not in tokens
        rows.append([float(t) for t in tokens])
    return np.array(rows).reshape(-1, 2, 25, 3)


def read_labels(path: Path) -> list[tuple[int, int, int, int]]:
    text = path.read_text("ascii")
    assert text.endswith("\n") and "\r" not in text
    return [tuple(map(int, LABEL.fullmatch(line).groups())) for line in text[:-1].split("\n")]


def video_of(sample: str) -> str:
    """``F004V002C002L006`` -> ``0004-M``, the long video of an instance."""
    return f"{int(sample[1:4]):04d}-{'LMR'[int(sample[5:8]) - 1]}"


def n_decoded(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def project(joints: np.ndarray) -> np.ndarray:
    """Kinect v2 colour pixels of camera-space joints, scaled to the demo's video size."""
    x = 1048.0 * joints[..., 0] / joints[..., 2] + 976.4
    y = -1056.4 * joints[..., 1] / joints[..., 2] + 567.3
    return np.stack([x * SIZE[0] / 1920, y * SIZE[1] / 1080], -1)


def people(out: Path, video: str, frame: int) -> list[np.ndarray]:
    path = out / "openpose_pkummd" / f"{video}.avi" / f"{video}_{frame:012d}_keypoints.json"
    return [
        np.array(p["pose_keypoints_2d"]).reshape(25, 3)
        for p in json.loads(path.read_text())["people"]
    ]


def mismatch(detected: list[np.ndarray], person: np.ndarray) -> float:
    """Largest pixel distance between a skeleton person's projected neck, mid-hip and wrists
    and the matching (nearest-neck) detection's keypoints."""
    pix = project(person)
    ref = {k: pix[j] for k, j in (NECK, MIDHIP, RWRIST, LWRIST)}
    best = min(detected, key=lambda p: np.linalg.norm(p[1, :2] - ref[1]))
    return max(float(np.linalg.norm(best[k, :2] - ref[k])) for k in ref if best[k, 2] > 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, PkuDemoSummary]:
    out = tmp_path_factory.mktemp("demo_pku")
    return out, generate_demo_pku(out, seed=SEED, **SMALL)


@pytest.fixture(scope="module")
def table(demo, tmp_path_factory) -> pd.DataFrame:
    """samples.parquet of the demo through the real index and skeleton stages."""
    out, _ = demo
    work = tmp_path_factory.mktemp("stage")
    raw = DEMO_PKU.generated.raw_paths(out)
    write_index(DEMO_PKU, raw, ["xsub", "xview"], work / "index.parquet")
    build_skeletons(DEMO_PKU, SkeletonOptions(), work / "index.parquet", work / "skeleton.zarr",
                    work / "samples.parquet", protocols=["xview"])  # xsub: all 2 subjects train  # fmt: skip
    return pd.read_parquet(work / "samples.parquet").set_index("sample", drop=False)


def test_layout_and_summary(demo):
    out, summary = demo
    videos = [f"{v:04d}-{view}" for v in range(2, 6) for view in "LMR"]  # 2 solo + 2 pair
    assert sorted(p.name for p in out.iterdir()) == [
        "PKU_Skeleton_Renew", "RGB_VIDEO", "Split", "Train_Label_PKU_final", "openpose_pkummd",
    ]  # fmt: skip
    assert sorted(p.stem for p in (out / "PKU_Skeleton_Renew").iterdir()) == videos
    assert sorted(p.stem for p in (out / "Train_Label_PKU_final").iterdir()) == videos
    assert sorted(p.name for p in (out / "RGB_VIDEO").iterdir()) == [f"{v}.avi" for v in videos]
    assert sorted(p.name for p in (out / "openpose_pkummd").iterdir()) == [
        f"{v}.avi" for v in videos
    ]
    assert summary.n_videos == 12 and summary.n_samples == 2 * 3 * 6 + 2 * 3 * 3
    assert set(summary.planted) == set(PLANTED)


def test_skeleton_and_label_files_are_exact(demo):
    out, summary = demo
    for path in sorted((out / "PKU_Skeleton_Renew").iterdir()):
        rows = read_rows(path)
        labels = read_labels(out / "Train_Label_PKU_final" / path.name)
        classes = [c for c, *_ in labels]
        starts = [s for _, s, _, _ in labels]
        assert starts == sorted(starts) and all(1 <= s <= e for _, s, e, _ in labels)
        second = np.abs(rows[:, 1]).sum(axis=(1, 2)) > 0
        if 7 in classes:  # the handshake sequences: two people, three handshakes
            assert classes == [7, 7, 7] and second.mean() > 0.8 and not second.all()
        else:  # solo: the six single-person classes once each, nobody in slot 2
            assert sorted(classes) == [1, 2, 3, 4, 5, 6] and not second.any()
        # the recording covers every window, except the planted one cut short
        if path.stem != video_of(summary.planted["window_past_skeleton_end"]):
            assert labels[-1][2] <= len(rows)
    video, rows_at = summary.planted["nobody_tracked"].split(" rows ")
    first, last = map(int, rows_at.split(".."))
    rows = read_rows(out / "PKU_Skeleton_Renew" / f"{video}.txt")
    assert not rows[first - 1 : last].any() and rows[first - 2].any() and rows[last].any()


def test_split_files_are_the_official_format(demo):
    out, _ = demo
    names = sorted(p.stem for p in (out / "PKU_Skeleton_Renew").iterdir())
    for file in ("cross-subject.txt", "cross-view.txt"):
        text = (out / "Split" / file).read_text("ascii")
        lines = text.split("\n")
        assert lines[0] == "Training videos: " and lines[2] == "Validataion videos: "
        assert lines[1].endswith(", ") and lines[3].endswith(",") and lines[4:] == [""]
        train = lines[1][:-2].split(", ")
        test = [name for name in lines[3][:-1].split(", ") if name]  # empty: all train
        assert sorted(train + test) == names and not set(train) & set(test)
        assert read_split_file(out / "Split" / file) == (frozenset(train), frozenset(test))
    train, test = read_split_file(out / "Split" / "cross-view.txt")
    assert {n[-1] for n in train} == {"L", "R"} and {n[-1] for n in test} == {"M"}
    train, _ = read_split_file(out / "Split" / "cross-subject.txt")
    assert train == set(names)  # subjects 1 and 2 are both cross-subject training subjects


def test_videos_and_openpose_json(demo):
    out, summary = demo
    short = video_of(summary.planted["window_past_video_end"])
    for path in sorted((out / "PKU_Skeleton_Renew").iterdir()):
        video = path.stem
        n_rows = len(path.read_text().splitlines())
        n_frames = n_decoded(out / "RGB_VIDEO" / f"{video}.avi")
        assert (n_frames < n_rows) if video == short else (n_frames == n_rows), video
        folder = out / "openpose_pkummd" / f"{video}.avi"
        names = sorted(p.name for p in folder.iterdir())
        assert names == [f"{video}_{f:012d}_keypoints.json" for f in range(n_frames)]
    content = json.loads(next(folder.iterdir()).read_text())
    assert list(content) == ["version", "people"] and content["version"] == 1.3
    for person in content["people"]:
        assert list(person) == OPENPOSE_KEYS and person["person_id"] == [-1]
        assert len(person["pose_keypoints_2d"]) == 75


def test_label_frame_n_is_row_n_and_video_frame_n_minus_1(demo, table):
    """The first and the last frame of instances: JSON index ``start - 1`` is row ``start``
    projected (to JSON's 6 digits), index ``start`` (the original's off-by-one) is not;
    and the decoded video frame shows the person there."""
    out, _ = demo
    checked = 0
    for sample in ("F002V001C", "F003V002C", "F004V003C"):  # solo L, pair M, solo R
        rows_of = table[table["sample"].str.startswith(sample) & (table["status"] == "ok")]
        row = rows_of.iloc[1].to_dict()
        video = DEMO_PKU.sample_video(row)
        rows = read_rows(Path(row["skeleton_path"]))
        assert (
            video.first_frame == row["start"] - 1
            and video.n_frames == row["end"] - row["start"] + 1
        )
        for label_frame in (row["start"], row["end"]):
            frame = label_frame - 1
            persons = [p for p in rows[label_frame - 1] if p.any()]
            detected = people(out, row["video"], frame)
            assert max(mismatch(detected, p) for p in persons) < 0.02
            late = people(out, row["video"], frame + 1)  # what the original read
            assert max(mismatch(late, p) for p in persons) > 0.05
            with av.open(str(out / "RGB_VIDEO" / f"{row['video']}.avi")) as container:
                image = next(f for i, f in enumerate(container.decode(video=0)) if i == frame)
            pixels = image.to_ndarray(format="rgb24").astype(int)
            x, y = (int(v) for v in project(persons[0][1]))  # the spine: shirt or arms
            wall = np.concatenate([pixels[y, 2:10], pixels[y, -10:-2]]).mean(axis=0)
            assert np.abs(pixels[y, x] - wall).max() > 25
            checked += 1
    assert checked == 6


def test_readers_accept_the_files_and_the_planted_cases_are_there(demo, table):
    out, summary = demo
    assert len(table) == summary.n_samples
    assert (table["label"] == table["action"] - 1).all() and table["label"].between(0, 6).all()
    past = summary.planted["window_past_skeleton_end"]
    assert table.loc[table["status"] != "ok", "sample"].tolist() == [past]
    assert "end after the last of its" in table.loc[past, "reason"]
    with pytest.raises(UnusableSample, match=re.escape(table.loc[past, "skeleton_path"])):
        DEMO_PKU.read_skeleton(table.loc[past])
    first, second = summary.planted["overlapping_windows"].split()
    assert table.loc[first, "reason"].startswith("warning: frames")
    assert table.loc[second, "reason"].startswith("warning: frames")
    assert (table.loc[~table["sample"].isin([first, second, past]), "reason"] == "").all()
    # a window ending on the video's last frame opens and reads to that frame
    row = table.loc[summary.planted["window_ends_on_last_frame"]].to_dict()
    assert row["end"] == len(Path(row["skeleton_path"]).read_text().splitlines())
    row["video_path"] = str(out / "RGB_VIDEO" / f"{row['video']}.avi")
    video = DEMO_PKU.sample_video(row)
    with open_sample_video(video) as reader:
        assert reader.n_frames == video.first_frame + video.n_frames
        assert reader.read([video.first_frame + video.n_frames - 1])
    # a window past the video's end (not the skeleton's) is recorded by the video stage
    row = table.loc[summary.planted["window_past_video_end"]].to_dict()
    assert row["status"] == "ok"
    row["video_path"] = str(out / "RGB_VIDEO" / f"{row['video']}.avi")
    with pytest.raises(VideoError) as info:
        open_sample_video(DEMO_PKU.sample_video(row))
    assert info.value.status == STATUS_FRAME_COUNT_MISMATCH


def test_two_person_class_and_spurious_detections(demo, table):
    out, _ = demo
    shakes = table[table["action"] == 7]
    assert len(shakes) == 18 and (shakes["n_bodies"] == 2).all()
    counts, spurious = [], 0
    for row in shakes.itertuples():
        for frame in range(row.start - 1, row.end):
            found = people(out, row.video, frame)
            counts.append(len([p for p in found if (p[:, 2] > 0.4).sum() > 10]))
            last = found[-1]
            spurious += bool((last[:, 2] > 0).sum() <= 6 and last[:, 2].max() < 0.4)
    assert np.mean(np.array(counts) == 2) > 0.95 and spurious >= 1


def test_deterministic(demo, tmp_path):
    out, _ = demo
    again = tmp_path / "again"
    options = {key: list(v) if isinstance(v, tuple) else v for key, v in SMALL.items()}
    generate_raw("demo_pku", again, {"seed": SEED, **options})  # as the rule calls it
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert files == sorted(out / p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for path in files:
        assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path.name
    seq = pku._sequences(SEED, 2, 1)[0]
    one, other = (pku._timeline(s, seq, (20, 24), (12, 14)) for s in (SEED, SEED + 1))
    assert one.instances != other.instances or not np.allclose(one.joints[0], other.joints[0])


def test_argument_checks(tmp_path):
    for kwargs in (
        {"subjects": 1},
        {"frames": (30, 20)},
        {"gaps": (4, 20)},
        {"video_size": (321, 180)},
    ):
        with pytest.raises(ValueError):
            generate_demo_pku(tmp_path, **kwargs)
