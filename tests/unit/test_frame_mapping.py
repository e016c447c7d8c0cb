"""The dataset layer the RGB stages call: which frames a sample is (PKU-MMD windows of long
videos, N-UCLA's fileList.txt rule) and the authors' OpenPose file naming. Synthetic files
only; the demos (test_demo_pku.py, test_demo_nucla.py) check the same on rendered data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mmnet.datasets.base import FramesUnavailable, RawPaths
from mmnet.datasets.demo import DEMO_NUCLA, DEMO_PKU
from mmnet.datasets.nucla import NUCLA, FileListEntry, filter_file_list, read_file_list
from mmnet.datasets.pku import PKU


def rgb_frames_original(lines: list[str]) -> list[str]:
    """The original's ``rgb_frames`` (bruceyo/MMNet ``feeder/segment_rgbbody_nucla.py``),
    transcribed statement by statement: the oracle for :func:`filter_file_list`."""
    skl_list_ = []
    for line in lines:
        line = line.split()
        if len(line) > 3:
            line = line[2:5]
        if len(line) < 3:  # filter out the unconsistent frames
            continue
        skl_list_.append(line)
    skl_list_denoise = []
    duplicate = 0
    for i in range(0, len(skl_list_) - 1):
        if i == duplicate:
            continue
        if skl_list_[i][0] == skl_list_[i + 1][0]:
            skl_list_denoise.append(skl_list_[i + 1])
            duplicate = i + 1
        else:
            skl_list_denoise.append(skl_list_[i])
            duplicate = i
    return [f"frame_{int(s[0])}_tc_{int(s[1])}_rgb.jpg" for s in skl_list_denoise]


def _names(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "fileList.txt"
    path.write_text(text)
    return [entry.rgb_name for entry in filter_file_list(read_file_list(path))]


# --- PKU-MMD -----------------------------------------------------------------------------

ROW = {"sample": "F036V001C026L001", "video": "0036-L", "start": 206, "end": 265,
       "video_path": "/v/0036-L.avi"}  # fmt: skip


def test_pku_label_frame_n_is_video_frame_n_minus_1():
    video = PKU.sample_video(ROW)
    assert video.path == "/v/0036-L.avi" and not video.whole_video
    assert video.first_frame == 205  # label frame 206 (1-based) = row 206 = video frame 205
    assert video.n_frames == 60  # 206..265 inclusive
    assert video.first_frame + video.n_frames - 1 == 264  # label frame 265, the last one
    no_video = PKU.sample_video({**ROW, "video_path": None})
    assert no_video.path is None and no_video.first_frame == 205


def test_pku_openpose_json_in_the_authors_layout():
    path = PKU.openpose_json(Path("/op"), ROW, 205)
    assert path == Path("/op/0036-L.avi/0036-L_000000000205_keypoints.json")
    assert PKU.frame_stem(ROW, 12345) == "0036-L_000000012345"  # 12 digits past 9999 too
    assert DEMO_PKU.openpose_json(Path("/op"), ROW, 0).name == "0036-L_000000000000_keypoints.json"


def test_pku_two_person_classes_are_the_original_roi_list():
    assert PKU.two_person_actions == frozenset({12, 14, 16, 18, 21, 24, 26, 27})
    assert DEMO_PKU.two_person_actions == frozenset({7})
    assert DEMO_PKU.class_names[6] == "handshake"


# --- N-UCLA fileList.txt -----------------------------------------------------------------


def test_file_list_rule_drops_first_and_last_and_keeps_the_later_duplicate(tmp_path):
    text = "10 1000 7\n11 1033 7\n12 1066 7\n12 1070 7\n13 1100 7\n14 1133 7\n"
    assert _names(text, tmp_path) == [
        "frame_11_tc_1033_rgb.jpg",  # entry 0 (frame 10) is never used
        "frame_12_tc_1070_rgb.jpg",  # of 12/12 the later line
        "frame_13_tc_1100_rgb.jpg",  # entry 5 (frame 14, the last) is not used
    ]


def test_file_list_token_counts(tmp_path):
    text = (
        "1 100 5\n"
        "2 133 5\n"
        "3 166\n"  # fewer than 3 tokens: skipped
        "4 200 5 6\n"  # 4 tokens: tokens 3-4 are only two, skipped
        "5 233 6 266 5\n"  # 5 tokens: tokens 3-5 kept (frame 6, tc 266)
        "7 300 8 333 5 9 9\n"  # 7 tokens: tokens 3-5 kept (frame 8, tc 333)
        "\n"  # blank: skipped
        "10 366 5\n"
        "11 400 5\n"
    )
    assert _names(text, tmp_path) == [
        "frame_2_tc_133_rgb.jpg",
        "frame_6_tc_266_rgb.jpg",
        "frame_8_tc_333_rgb.jpg",
        "frame_10_tc_366_rgb.jpg",
    ]


def test_file_list_duplicates_at_the_edges_and_in_threes(tmp_path):
    # a duplicate of the first two: entry 0 is skipped unseen, entry 1 is kept
    assert _names("1 10 0\n1 11 0\n2 20 0\n3 30 0\n", tmp_path) == [
        "frame_1_tc_11_rgb.jpg", "frame_2_tc_20_rgb.jpg",
    ]  # fmt: skip
    # a duplicate at the end: the last entry stands in for the one before it
    assert _names("1 10 0\n2 20 0\n3 30 0\n3 31 0\n", tmp_path) == [
        "frame_2_tc_20_rgb.jpg", "frame_3_tc_31_rgb.jpg",
    ]  # fmt: skip
    # three equal numbers: the second and the third are kept
    assert _names("1 10 0\n2 20 0\n2 21 0\n2 22 0\n3 30 0\n4 40 0\n", tmp_path) == [
        "frame_2_tc_21_rgb.jpg", "frame_2_tc_22_rgb.jpg", "frame_3_tc_30_rgb.jpg",
    ]  # fmt: skip
    # numbers are compared as text, as the original does: 07 and 7 are not duplicates
    assert _names("1 10 0\n07 20 0\n7 21 0\n8 30 0\n", tmp_path) == [
        "frame_7_tc_20_rgb.jpg", "frame_7_tc_21_rgb.jpg",
    ]  # fmt: skip
    assert _names("1 10 0\n", tmp_path) == [] and _names("", tmp_path) == []


def test_file_list_rule_equals_the_original_on_random_lists(tmp_path):
    rng = random.Random(7)
    for _ in range(300):
        lines, number = [], rng.randrange(300)
        for _ in range(rng.randrange(0, 12)):
            number += rng.choice([0, 1, 1, 1, 2])
            tokens = [str(number), str(rng.randrange(10**7, 10**8)), str(rng.randrange(9))]
            kind = rng.random()
            if kind < 0.15:
                tokens = tokens[:2]
            elif kind < 0.3:
                tokens = [str(number - 1), str(rng.randrange(10**7)), *tokens]
            elif kind < 0.35:
                tokens = [*tokens, "x"]
            lines.append(" ".join(tokens))
        assert _names("\n".join(lines) + "\n", tmp_path) == rgb_frames_original(lines), lines


def test_file_list_errors_name_the_file_and_line(tmp_path):
    path = tmp_path / "fileList.txt"
    with pytest.raises(FramesUnavailable, match=f"{path}: no fileList.txt"):
        read_file_list(path)
    path.write_text("1 100 5\n2 1x3 5\n")
    with pytest.raises(FramesUnavailable, match=f"{path}, line 2: frame number and time code"):
        read_file_list(path)
    path.write_text("1 100 5\n")
    assert read_file_list(path) == [FileListEntry("1", "100", 1)]


@pytest.fixture
def frame_folder(tmp_path) -> tuple[Path, dict]:
    """``multiview_action/view_2/a08_s01_e00`` (sample S01A07E01V02) with a fileList.txt
    and depth files whose time codes differ from the RGB ones."""
    root = tmp_path / "multiview_action"
    folder = root / "view_2" / "a08_s01_e00"
    folder.mkdir(parents=True)
    (folder / "fileList.txt").write_text("5 500 0\n6 533 0\n6 540 0\n7 566 0\n8 600 0\n")
    for name in (
        "frame_6_tc_520_depth.png",
        "frame_6_tc_538_depth.png",
        "frame_7_tc_560_depth.png",
    ):
        (folder / name).touch()
    skeletons = tmp_path / "all_sqe"
    skeletons.mkdir()
    (skeletons / "a08_s01_e00_v02.json").write_text(
        '{"file_name": "a08_s01_e00_v02", "skeletons": [], "label": 7}'
    )
    table = NUCLA.list_samples(RawPaths(skeletons=(skeletons,), extra={"frames": root}))
    return folder, table.iloc[0].to_dict()


def test_nucla_frame_files_follow_the_file_list(frame_folder):
    folder, row = frame_folder
    assert row["sample"] == "S01A07E01V02" and row["frames_dir"] == str(folder)
    assert NUCLA.frame_files(row) == [
        folder / "frame_6_tc_540_rgb.jpg",
        folder / "frame_7_tc_566_rgb.jpg",
    ]
    # the depth file of each: same frame number, the time code nearest the RGB frame's
    assert NUCLA.depth_files(row) == [
        folder / "frame_6_tc_538_depth.png",
        folder / "frame_7_tc_560_depth.png",
    ]
    (folder / "frame_7_tc_560_depth.png").unlink()
    assert NUCLA.depth_files(row)[1] is None


def test_nucla_missing_frames_give_a_reason_naming_the_path(frame_folder, tmp_path):
    folder, row = frame_folder
    (folder / "fileList.txt").write_text("5 500 0\n")
    with pytest.raises(FramesUnavailable, match=f"{folder / 'fileList.txt'}: no usable frame line"):
        NUCLA.frame_files(row)
    (folder / "fileList.txt").unlink()
    with pytest.raises(FramesUnavailable, match=f"{folder / 'fileList.txt'}: no fileList.txt"):
        NUCLA.frame_files(row)
    gone = tmp_path / "multiview_action" / "view_2" / "a01_s09_e00"
    with pytest.raises(
        FramesUnavailable, match=f"{gone}: the sample's frame folder does not exist"
    ):
        NUCLA.frame_files({**row, "frames_dir": str(gone)})
    with pytest.raises(FramesUnavailable, match="S01A07E01V02: no frame folder"):
        NUCLA.depth_files({**row, "frames_dir": None})


def test_nucla_openpose_json_and_frame_stem():
    row = {"sample": "S01A07E01V02"}
    path = NUCLA.openpose_json(Path("/op"), row, 3)
    assert path == Path("/op/S01A07E01V02/S01A07E01V02_000000000003_keypoints.json")
    assert DEMO_NUCLA.frame_stem(row, 3) == "S01A07E01V02_000000000003"
    assert PKU.frame_files(ROW) is None and PKU.depth_files(ROW) is None  # PKU-MMD: videos
