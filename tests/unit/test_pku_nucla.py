"""PKU-MMD and N-UCLA on their real files: instances, windows, values, splits, labels."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import reference_original as ref
import zarr
from conftest import realdata

from mmnet.datasets.base import RawPaths
from mmnet.datasets.nucla import ACTION_OF_FOLDER, NUCLA, read_all_sqe
from mmnet.datasets.pku import PKU, read_split_file
from mmnet.index import index_samples
from mmnet.skeleton.stage import build_skeletons


def pku_raw(root: Path | None = None) -> RawPaths:
    root = root or realdata("pku_mmd")
    return RawPaths(
        skeletons=(root / "PKU_Skeleton_Renew",),
        extra={"labels": root / "Train_Label_PKU_final", "splits": root / "Split"},
    )


def test_pku_instances_windows_and_splits(tmp_path):
    table = index_samples(PKU, pku_raw(), ["xsub", "xview"], tmp_path / "index.parquet")
    assert len(table) == 3 * 7 + 3 * 8  # one row per label line of the 6 label files
    rows = table.set_index("sample")
    # 0036-L line 1 is "26,206,265,2": class 26 (1-based), instance 1
    first = rows.loc["F036V001C026L001"]
    assert (first["start"], first["end"], first["label"], first["video"]) == (
        206,
        265,
        25,
        "0036-L",
    )
    assert rows.loc["F310V003C014L008", ["start", "end"]].tolist() == [1045, 1134]
    # only 0310-R of the 0310 views has a skeleton file here
    no_file = table["video"].isin(["0310-L", "0310-M"])
    assert (table.loc[no_file, "status"] == "rejected").all()
    assert table.loc[no_file, "reason"].str.startswith("no skeleton file 0310-").all()
    assert (table.loc[~no_file, "status"] == "ok").all()
    # cross-subject: videos 291-334 are test; cross-view: the middle camera (V002) is test
    assert table.loc[table["video_id"] == 36, "xsub"].all()
    assert not table.loc[table["video_id"] == 310, "xsub"].any()
    assert (table["xview"] == (table["view"] != 2)).all()


def test_pku_official_split_files():
    for name, sizes in [("cross-subject.txt", (944, 132)), ("cross-view.txt", (717, 359))]:
        train, test = read_split_file(realdata("pku_mmd", "Split", name))
        assert (len(train), len(test)) == sizes
        assert name != "cross-subject.txt" or {"0291-L", "0334-R"} <= test


def test_pku_joint_values_equal_the_raw_rows(tmp_path):
    table = PKU.list_samples(pku_raw())
    row = table.set_index("sample").loc["F036V001C018L002"]
    raw_rows = np.loadtxt(realdata("pku_mmd", "PKU_Skeleton_Renew", "0036-L.txt"))
    expected = raw_rows[395 - 1 : 446].reshape(-1, 2, 25, 3).transpose(1, 0, 2, 3)
    skeleton = PKU.read_skeleton(row)
    np.testing.assert_array_equal(skeleton.joints, expected)
    assert skeleton.n_frames == 446 - 395 + 1


def test_pku_store_equals_the_original_normalisation(tmp_path):
    index = tmp_path / "index.parquet"
    index_samples(PKU, pku_raw(), ["xsub"], index)
    samples = build_skeletons(
        PKU, index, tmp_path / "s.zarr", tmp_path / "samples.parquet", workers=2
    )
    joint = zarr.open_group(tmp_path / "s.zarr", mode="r")["joint"]
    raw_rows = np.loadtxt(realdata("pku_mmd", "PKU_Skeleton_Renew", "0036-M.txt"))
    i = int(np.flatnonzero(samples["sample"] == "F036V002C024L004")[0])
    window = raw_rows[689 - 1 : 761].reshape(-1, 2, 25, 3).transpose(1, 0, 2, 3)
    data = ref.select_two(window).transpose(3, 1, 2, 0)
    block = np.zeros((1, 3, 300, 25, 2), dtype=np.float32)
    block[0, :, : data.shape[1]] = data
    np.testing.assert_array_equal(joint[i], ref.pre_normalization(block)[0])


def test_pku_bad_labels_get_reasons(tmp_path):
    root = tmp_path / "pku"
    shutil.copytree(realdata("pku_mmd"), root, ignore=shutil.ignore_patterns("phase2", "*.xlsx"))
    labels = root / "Train_Label_PKU_final" / "0036-L.txt"
    lines = labels.read_text().splitlines()
    lines[1] = "18,395,9999,2"  # beyond the 1261 frames
    lines[2] = "27,430,594,2"  # overlaps line 2's 395..446 ... (now 395..9999 is rejected)
    lines.append("60,10,20,2")  # class out of range
    lines.append("3,200,250,2")  # overlaps instance 1 (206..265)
    labels.write_text("\n".join(lines) + "\n")
    rows = PKU.list_samples(pku_raw(root)).set_index("sample")
    assert (
        rows.loc["F036V001C018L002", "reason"]
        == "window 395..9999 outside the sequence's 1261 frames"
    )
    assert rows.loc["F036V001C060L008", "status"] == "rejected"
    overlap = rows.loc["F036V001C003L009"]
    assert overlap["status"] == "ok" and "overlaps 206..265" in overlap["reason"]


def test_pku_video_in_both_split_lists_is_an_error(tmp_path):
    path = tmp_path / "cross-view.txt"
    path.write_text("Training videos:\n0002-L, 0002-M\nValidataion videos:\n0002-M, 0003-M\n")
    with pytest.raises(ValueError, match=r"\['0002-M'\] are in both"):
        read_split_file(path)


def test_nucla_ids_labels_and_views(tmp_path):
    table = NUCLA.list_samples(RawPaths(skeletons=(realdata("nw_ucla", "all_sqe"),)))
    assert len(table) == 31 and (table["status"] == "ok").all()
    for _, row in table.iterrows():
        _, label = read_all_sqe(row["skeleton_path"])
        folder = int(Path(row["skeleton_path"]).stem[1:3])
        assert label == ACTION_OF_FOLDER[folder] == row["action"] == row["label"] + 1
    rows = table.set_index("sample")
    assert rows.loc["S01A07E01V01", "skeleton_path"].endswith("a08_s01_e00_v01.json")
    assert rows.loc["S09A02E05V02", "view"] == 2  # a02_s09_e04_v02: environment e04 -> E05
    table = NUCLA.add_splits(table, ["123", "132", "231"], RawPaths(()))
    assert (table["123"] == table["view"].isin([1, 2])).all()
    assert (~table["231"] == (table["view"] == 1)).all()


def write_reformatted(path: Path, joints: np.ndarray) -> None:
    """The authors' N-UCLA .skeleton form (spec §1.3), written from joints (F, 20, 3)."""
    lines = [str(len(joints))]
    for frame in joints:
        lines += ["1", "0 0 0 0 0 0 0 0 0 2", "20"]
        lines += [f"{x!r},{y!r},{z!r},2" for x, y, z in frame.tolist()]
    path.write_text("\r\n".join(lines) + "\r\n")


def test_nucla_both_raw_forms_give_the_same_samples(tmp_path):
    source = realdata("nw_ucla", "all_sqe")
    reformatted = tmp_path / "multiview_action_skeleton"
    reformatted.mkdir()
    from_json = NUCLA.list_samples(RawPaths(skeletons=(source,)))
    for _, row in from_json.iterrows():
        joints, _ = read_all_sqe(row["skeleton_path"])
        write_reformatted(reformatted / f"{row['sample']}.skeleton", joints)
    from_text = NUCLA.list_samples(RawPaths(skeletons=(reformatted,)))
    columns = ["sample", "subject", "action", "environment", "view", "label", "status"]
    assert from_text[columns].equals(from_json[columns])
    for (_, a), (_, b) in zip(from_json.iterrows(), from_text.iterrows(), strict=True):
        np.testing.assert_array_equal(NUCLA.read_skeleton(a).joints, NUCLA.read_skeleton(b).joints)


def test_nucla_label_disagreeing_with_name_is_rejected(tmp_path):
    content = json.loads(realdata("nw_ucla", "all_sqe", "a08_s01_e00_v01.json").read_text())
    content["label"] = 8
    (tmp_path / "a08_s01_e00_v01.json").write_text(json.dumps(content))
    (tmp_path / "a13_s01_e00_v01.json").write_text(json.dumps(content))
    rows = NUCLA.list_samples(RawPaths(skeletons=(tmp_path,))).set_index("sample")
    assert rows.loc["S01A07E01V01", "status"] == "rejected"
    assert "label 8 in the file disagrees" in rows.loc["S01A07E01V01", "reason"]
    assert (rows["status"] == "rejected").all()  # a13 is not an N-UCLA action folder


def test_nucla_store_shape(tmp_path):
    index = tmp_path / "index.parquet"
    index_samples(NUCLA, RawPaths(skeletons=(realdata("nw_ucla", "all_sqe"),)), ["123"], index)
    samples = build_skeletons(NUCLA, index, tmp_path / "s.zarr", tmp_path / "samples.parquet")
    joint = zarr.open_group(tmp_path / "s.zarr", mode="r")["joint"]
    assert joint.shape == (31, 3, 192, 20, 1) and joint.attrs["layout"] == "ucla"
    one_frame = int(np.flatnonzero(samples["n_frames"] == 1)[0])
    assert joint[one_frame].reshape(3, 192, -1).any(axis=(0, 2)).all()  # loop-padded to T
