"""PKU-MMD on the real files: instances, windows, splits, joint values, bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import reference_original as ref
import zarr
from conftest import realdata

from mmnet.config import SkeletonOptions
from mmnet.datasets import get_dataset
from mmnet.datasets.base import RawPaths
from mmnet.datasets.pku import PKU, read_label_file, read_sequence, read_split_file
from mmnet.stages.index import write_index
from mmnet.stages.skeleton import build_skeletons

pytestmark = pytest.mark.realdata

# (class, start, end) of every line of the six real label files, in file order.
LABELS = {
    "0036-L": [
        (26, 206, 265),
        (18, 395, 446),
        (27, 530, 594),
        (24, 704, 773),
        (21, 830, 887),
        (16, 991, 1086),
        (14, 1144, 1224),
    ],
    "0036-M": [
        (26, 203, 261),
        (18, 386, 436),
        (27, 518, 569),
        (24, 689, 761),
        (21, 816, 869),
        (16, 972, 1069),
        (14, 1126, 1203),
    ],
    "0036-R": [
        (26, 207, 267),
        (18, 395, 443),
        (27, 528, 577),
        (24, 702, 773),
        (21, 830, 882),
        (16, 984, 1082),
        (14, 1140, 1220),
    ],
    "0310-L": [
        (27, 157, 216),
        (18, 304, 333),
        (26, 448, 515),
        (16, 556, 696),
        (24, 777, 853),
        (21, 955, 1035),
        (12, 1109, 1213),
        (14, 1258, 1360),
    ],
    "0310-M": [
        (27, 171, 229),
        (18, 318, 348),
        (26, 462, 528),
        (16, 577, 713),
        (24, 790, 867),
        (21, 968, 1046),
        (12, 1118, 1245),
        (14, 1269, 1374),
    ],
    "0310-R": [
        (27, 148, 192),
        (18, 261, 282),
        (26, 374, 430),
        (16, 468, 577),
        (24, 643, 706),
        (21, 791, 856),
        (12, 920, 1013),
        (14, 1045, 1134),
    ],
}
SEQUENCE_ROWS = {"0036-L": 1261, "0036-M": 1258, "0036-R": 1307, "0310-R": 1158}


def _real_raw() -> RawPaths:
    root = realdata("pku_mmd")
    return RawPaths(
        skeletons=(root / "PKU_Skeleton_Renew",),
        extra={"labels": root / "Train_Label_PKU_final", "splits": root / "Split"},
    )


def _copy_raw(tmp_path: Path, videos: tuple[str, ...] = ("0036-L",)) -> RawPaths:
    """A writable copy of some real sequences (labels copied too), plus the real splits."""
    real = _real_raw()
    skeletons, labels = tmp_path / "skeletons", tmp_path / "labels"
    skeletons.mkdir()
    labels.mkdir()
    for video in videos:
        shutil.copy(real.skeletons[0] / f"{video}.txt", skeletons)
        shutil.copy(real.extra["labels"] / f"{video}.txt", labels)
    return RawPaths(
        skeletons=(skeletons,), extra={"labels": labels, "splits": real.extra["splits"]}
    )


def _stage(
    tmp_path: Path, raw: RawPaths, min_kept: float = 0.5, **kwargs
) -> tuple[pd.DataFrame, zarr.Array]:
    out = tmp_path / "out"
    write_index(PKU, raw, ["xsub", "xview"], out / "index.parquet")
    samples = build_skeletons(
        PKU,
        SkeletonOptions(**kwargs),
        out / "index.parquet",
        out / "skeleton.zarr",
        out / "samples.parquet",
        min_kept=min_kept,
    )
    return samples, zarr.open_group(out / "skeleton.zarr", mode="r")["joint"]


@pytest.fixture(scope="module")
def real_index(tmp_path_factory) -> pd.DataFrame:
    return write_index(
        PKU, _real_raw(), ["xsub", "xview"], tmp_path_factory.mktemp("pku") / "index.parquet"
    )


def test_every_label_line_is_one_sample_named_as_the_original(real_index):
    expected = sorted(
        (f"F{int(video[:4]):03d}V{'LMR'.index(video[-1]) + 1:03d}C{c:03d}L{i:03d}", video, c, s, e)
        for video, lines in LABELS.items()
        for i, (c, s, e) in enumerate(lines, start=1)
    )
    assert len(real_index) == len(expected) == 45
    got = real_index[["sample", "video", "action", "start", "end"]].itertuples(index=False)
    assert [tuple(row) for row in got] == expected
    assert (real_index["label"] == real_index["action"] - 1).all()
    assert list(real_index["sample"]) == sorted(real_index["sample"])
    first = real_index.set_index("sample").loc["F036V001C026L001"]
    assert (first["video_id"], first["view"], first["instance"], first["confidence"]) == (
        36,
        1,
        1,
        2,
    )


def test_label_file_without_skeleton_file_is_rejected_with_a_reason(real_index):
    no_skeleton = real_index["video"].isin(["0310-L", "0310-M"])
    assert no_skeleton.sum() == 16
    assert (real_index.loc[no_skeleton, "status"] == "rejected").all()
    reasons = real_index.loc[no_skeleton, "reason"]
    assert reasons.str.contains("no skeleton file 0310-[LM].txt", regex=True).all()
    assert (real_index.loc[~no_skeleton, "status"] == "ok").all()


def test_splits_follow_the_official_files(real_index):
    by_video = real_index.groupby("video")[["xsub", "xview"]].agg(["min", "max"])
    assert (by_video.xs("min", axis=1, level=1) == by_video.xs("max", axis=1, level=1)).all().all()
    membership = real_index.groupby("video")[["xsub", "xview"]].first().to_dict("index")
    assert membership == {
        "0036-L": {"xsub": True, "xview": True},
        "0036-M": {"xsub": True, "xview": False},  # cross-view tests on the middle camera
        "0036-R": {"xsub": True, "xview": True},
        "0310-L": {"xsub": False, "xview": True},  # cross-subject tests on videos 0291-0334
        "0310-M": {"xsub": False, "xview": False},
        "0310-R": {"xsub": False, "xview": True},
    }


def test_official_split_files_parse_with_their_misspelt_header():
    split = realdata("pku_mmd", "Split")
    assert "Validataion videos:" in (split / "cross-subject.txt").read_text()
    sizes = {}
    for name in ("cross-subject.txt", "cross-view.txt"):
        train, test = read_split_file(split / name)
        sizes[name] = (len(train), len(test))
        assert len(train | test) == 1076  # 359 video ids x 3 views
    assert sizes == {"cross-subject.txt": (944, 132), "cross-view.txt": (717, 359)}
    _, xsub_test = read_split_file(split / "cross-subject.txt")
    assert {int(v[:4]) for v in xsub_test} == set(range(291, 335))
    _, xview_test = read_split_file(split / "cross-view.txt")
    assert {v[-1] for v in xview_test} == {"M"}


def test_split_file_errors_name_the_file_and_the_video(tmp_path):
    both = tmp_path / "both.txt"
    both.write_text("Training videos: \n0002-L, 0003-L\nValidation videos: \n0003-L, 0004-L\n")
    with pytest.raises(ValueError, match=r"both.txt: video\(s\) \['0003-L'\] are in both"):
        read_split_file(both)
    bad = tmp_path / "bad.txt"
    bad.write_text("Training videos: \n0002-L, 2-X\n")
    with pytest.raises(ValueError, match=r"bad.txt, line 2: '2-X' is not a video name"):
        read_split_file(bad)
    correct_spelling = tmp_path / "ok.txt"
    correct_spelling.write_text("Training videos:\n0002-L,\n\nValidation videos:\n 0002-M \n")
    assert read_split_file(correct_spelling) == ({"0002-L"}, {"0002-M"})


def test_joint_values_are_the_label_window_rows_of_the_sequence_file(real_index):
    row = real_index.set_index("sample").loc["F036V001C026L001"].to_dict()
    raw = PKU.read_skeleton(row)
    assert raw.joints.shape == (2, 265 - 206 + 1, 25, 3) and raw.max_bodies == 2
    # line 206 of 0036-L.txt: person 1 SpineBase, person 1 Head, person 2 SpineBase, person 2 ThumbRight
    np.testing.assert_array_equal(raw.joints[0, 0, 0], [-0.078905, -0.055399, 2.751393])
    np.testing.assert_array_equal(raw.joints[0, 0, 3], [-0.042207, 0.740805, 2.701307])
    np.testing.assert_array_equal(raw.joints[1, 0, 0], [0.678462, -0.013490, 3.245855])
    np.testing.assert_array_equal(raw.joints[1, 0, 24], [0.840349, -0.069653, 3.143000])
    # line 265, the window's last frame
    np.testing.assert_array_equal(raw.joints[0, -1, 0], [-0.113361, -0.085503, 2.669664])
    np.testing.assert_array_equal(raw.joints[1, -1, 0], [0.494758, -0.011525, 3.231011])
    for video, rows in SEQUENCE_ROWS.items():
        path = real_index.loc[real_index["video"] == video, "skeleton_path"].iloc[0]
        assert read_sequence(path).shape == (rows, 2, 25, 3)


def test_store_equals_the_original_converter_then_the_ntu_preprocessing(real_index, tmp_path):
    out = tmp_path / "out"
    samples = build_skeletons(
        PKU,
        SkeletonOptions(),
        _write(real_index, out / "index.parquet"),
        out / "sk.zarr",
        out / "samples.parquet",
    )
    joint = zarr.open_group(out / "sk.zarr", mode="r")["joint"]
    assert joint.shape == (45, 3, 300, 25, 2) and joint.attrs["layout"] == "ntu-rgb+d"
    ok = samples["status"] == "ok"
    assert (
        samples.loc[ok, "n_frames"] == samples.loc[ok, "end"] - samples.loc[ok, "start"] + 1
    ).all()
    assert (samples.loc[ok, "n_bodies"] == 2).all()
    lines = {}
    for i in np.flatnonzero(ok):
        row = samples.iloc[i]
        path = row["skeleton_path"]
        lines.setdefault(path, Path(path).read_text().splitlines())
        converted = ref.pku_instance_to_ntu(lines[path], int(row["start"]), int(row["end"]))
        expected = ref.process_like_ntu(ref.read_pku_xyz(converted), 300, keep=2)
        np.testing.assert_array_equal(joint[i], expected, err_msg=row["sample"])
    assert not joint[int(np.flatnonzero(~ok)[0])].any()  # rejected rows stay zero


def _write(table: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(path, index=False)
    return path


def test_a_shard_reads_each_sequence_file_once(tmp_path):
    read_sequence.cache_clear()
    samples, _ = _stage(tmp_path, _copy_raw(tmp_path, ("0036-L", "0036-M", "0036-R")))
    assert (samples["status"] == "ok").sum() == 21
    info = read_sequence.cache_info()
    assert (info.misses, info.hits) == (3, 18)


def test_bad_windows_and_overlaps_get_reasons_never_a_crash(tmp_path):
    raw = _copy_raw(tmp_path)
    (raw.extra["labels"] / "0036-L.txt").write_text(
        "26,206,265,2\n"
        "18,250,300,2\n"  # overlaps L001
        "27,1200,1300,2\n"  # ends after the sequence's 1261 frames
        "24,0,10,1\n"  # starts before frame 1
        "21,500,400,1\n"  # empty window
        "52,600,700,1\n"  # no class 52
        "\n"
    )
    samples, joint = _stage(tmp_path, raw, on_error="fail")
    by_instance = samples.set_index("instance")
    assert list(by_instance["status"].sort_index()) == [
        "ok",
        "ok",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    reasons = by_instance["reason"]
    assert reasons[1] == "warning: frames 206..265 overlap L002 (250..300)"
    assert reasons[2] == "warning: frames 250..300 overlap L001 (206..265)"
    assert reasons[3].endswith(
        "0036-L.txt: label frames 1200..1300 end after the last of its 1261 frames"
    )
    assert "frame window 0..10 is empty or starts before 1" in reasons[4]
    assert "frame window 500..400 is empty or starts before 1" in reasons[5]
    assert "class 52 is not one of the 51 classes" in reasons[6]
    assert by_instance.loc[6, "label"] == -1
    ok_rows = np.flatnonzero(samples["status"] == "ok")
    assert all(joint[int(i)].any() for i in ok_rows)


def test_packaged_missing_list_excludes_the_original_six(tmp_path):
    raw = _copy_raw(tmp_path)
    # video 0043-L with 21 instances: the 21st, class 1, is F043V001C001L021 of the list
    shutil.copy(raw.skeletons[0] / "0036-L.txt", raw.skeletons[0] / "0043-L.txt")
    lines = [f"{c},{10 * i + 1},{10 * i + 9},1" for i, c in enumerate([5] * 20 + [1])]
    (raw.extra["labels"] / "0043-L.txt").write_text("\n".join(lines) + "\n")
    table = PKU.list_samples(raw)
    excluded = table[table["status"] == "excluded"]
    assert list(excluded["sample"]) == ["F043V001C001L021"]
    assert excluded["reason"].iloc[0] == "listed in pku_missing_skeletons.txt"
    packaged = PKU.missing_samples(RawPaths(skeletons=()))[0]
    assert packaged == {
        "F089V001C023L001", "F089V002C023L001", "F089V003C023L001",
        "F043V001C001L021", "F133V002C033L013", "F241V003C001L025",
    }  # fmt: skip


def test_malformed_files_raise_naming_file_and_line(tmp_path):
    raw = _copy_raw(tmp_path)
    sequence = raw.skeletons[0] / "0036-L.txt"
    lines = sequence.read_text().splitlines()
    sequence.write_text("\n".join([*lines[:2], lines[2].rsplit(" ", 1)[0], *lines[3:]]) + "\n")
    read_sequence.cache_clear()
    with pytest.raises(ValueError, match=r"0036-L.txt, line 3: expected 150 numbers .* found 149"):
        read_sequence(str(sequence))
    sequence.write_text("\n".join([*lines[:4], lines[4] + " 1.0", *lines[5:]]))
    read_sequence.cache_clear()
    with pytest.raises(ValueError, match=r"0036-L.txt, line 5: expected 150 numbers .* found 151"):
        read_sequence(str(sequence))
    sequence.write_text("\n".join([*lines[:6], lines[6].replace("0.", "0,", 1), *lines[7:]]))
    read_sequence.cache_clear()
    with pytest.raises(ValueError, match=r"0036-L.txt, line 7: '.*0,.*' is not a number"):
        read_sequence(str(sequence))
    sequence.write_text("")
    read_sequence.cache_clear()
    with pytest.raises(ValueError, match=r"0036-L\.txt: file is empty"):
        read_sequence(str(sequence))
    samples, _ = _stage(tmp_path, raw, on_error="reject", min_kept=0)  # all broken on purpose
    assert (samples["status"] == "rejected").all()
    assert samples["reason"].str.endswith("0036-L.txt: file is empty").all()
    label = raw.extra["labels"] / "0036-L.txt"
    label.write_text("26,206,265,2\n18,395\n")
    with pytest.raises(
        ValueError, match=r"0036-L.txt, line 2: expected 'class, start, end, confidence'"
    ):
        read_label_file(label)


def test_video_paths_and_class_names(tmp_path):
    raw = _copy_raw(tmp_path)
    with_videos = RawPaths(raw.skeletons, videos=tmp_path / "videos", extra=raw.extra)
    table = PKU.list_samples(with_videos)
    assert set(table["video_path"]) == {str(tmp_path / "videos" / "0036-L.avi")}
    assert PKU.list_samples(raw)["video_path"].isna().all()
    names = get_dataset("pku").class_names
    assert (len(names), names[0], names[13], names[50]) == (51, "bow", "handshaking", "writing")
    assert all("other person" in names[a - 1] or a == 14 for a in PKU.two_person_actions)


def test_irregular_blanks_read_the_same_and_blank_lines_inside_are_errors(tmp_path):
    real = realdata("pku_mmd", "PKU_Skeleton_Renew", "0310-R.txt")
    lines = real.read_text().splitlines()
    irregular = tmp_path / "0310-R.txt"
    irregular.write_text(
        "\r\n".join(" " + line.replace(" ", " \t ", 7) for line in lines) + "\n\n\n"
    )
    read_sequence.cache_clear()
    np.testing.assert_array_equal(read_sequence(str(irregular)), read_sequence(str(real)))
    irregular.write_text("\n".join([*lines[:9], "", *lines[9:]]) + "\n")
    read_sequence.cache_clear()
    with pytest.raises(ValueError, match=r"0310-R.txt, line 10: expected 150 numbers .* found 0"):
        read_sequence(str(irregular))
