"""N-UCLA: both raw forms give the same samples; ids, label re-indexing, joints, protocols."""

from __future__ import annotations

import json
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
from mmnet.datasets.ntu_format import SkeletonFormatError
from mmnet.datasets.nucla import NUCLA, read_all_sqe
from mmnet.stages.index import write_index
from mmnet.stages.skeleton import build_skeletons

pytestmark = pytest.mark.realdata

PROTOCOLS = ["123", "132", "231"]
#: The dataset's action folders and the original's A: a08 -> A07, a09 -> A08, a11 -> A09, a12 -> A10.
FOLDERS = [1, 2, 3, 4, 5, 6, 8, 9, 11, 12]


def write_reformatted(frames: np.ndarray, path: Path) -> None:
    """The authors' reformatted layout (spec §1.3): NTU-like, one body, ``x,y,z,state`` lines.

    The real files are not in ../shared/realdata; this writes the documented format from the
    real all_sqe values (``repr`` keeps every float exact).
    """
    out = [str(len(frames))]
    for frame in frames:
        out += ["1", "72057594037931101 0 1 1 1 1 0 0.1 -0.2 2", str(len(frame))]
        out += [",".join([*map(repr, map(float, joint)), "2"]) for joint in frame]
    path.write_text("\n".join(out) + "\n")


@pytest.fixture(scope="module")
def all_sqe() -> Path:
    return realdata("nw_ucla", "all_sqe")


@pytest.fixture(scope="module")
def reformatted(all_sqe, tmp_path_factory) -> Path:
    """Every real all_sqe file rewritten as ``S{SS}A{AA}E{EE}V{VV}.skeleton``."""
    folder = tmp_path_factory.mktemp("multiview_action_skeleton")
    table = NUCLA.list_samples(RawPaths(skeletons=(all_sqe,)))
    for sample, path in zip(table["sample"], table["skeleton_path"], strict=True):
        write_reformatted(read_all_sqe(path)["skeletons"], folder / f"{sample}.skeleton")
    return folder


@pytest.fixture
def keep_all(tmp_path) -> Path:
    """An empty exclusion list: every sample, the original's two unused ones included."""
    path = tmp_path / "none.txt"
    path.write_text("")
    return path


def _stage(
    raw: RawPaths, out: Path, min_kept: float = 0.5, **kwargs
) -> tuple[pd.DataFrame, zarr.Array]:
    write_index(NUCLA, raw, PROTOCOLS, out / "index.parquet")
    samples = build_skeletons(
        NUCLA,
        SkeletonOptions(**kwargs),
        out / "index.parquet",
        out / "skeleton.zarr",
        out / "samples.parquet",
        min_kept=min_kept,
    )
    return samples, zarr.open_group(out / "skeleton.zarr", mode="r")["joint"]


def test_all_sqe_names_map_to_the_original_ids_and_labels(all_sqe):
    table = NUCLA.list_samples(RawPaths(skeletons=(all_sqe,)))
    assert len(table) == 31
    unused = table.set_index("sample").loc["S09A02E05V02"]  # one frame; not in the original
    assert (unused["status"], unused["reason"]) == (
        "excluded",
        "listed in nucla_missing_skeletons.txt",
    )
    assert (table["status"] == "ok").sum() == 30
    expected = sorted(
        [f"S01A{a:02d}E01V{v:02d}" for a in range(1, 11) for v in (1, 2, 3)] + ["S09A02E05V02"]
    )
    assert list(table["sample"]) == expected
    for row in table.itertuples():
        folder, subject, environment, view = (int(p[1:]) for p in row.original_name.split("_"))
        assert Path(row.skeleton_path).stem == row.original_name
        assert FOLDERS[row.action - 1] == folder and row.label == row.action - 1
        assert (row.subject, row.environment, row.view) == (subject, environment + 1, view)
        # the JSON's own label is the re-indexed action A (1..10), i.e. our label + 1
        assert json.loads(Path(row.skeleton_path).read_text())["label"] == row.label + 1
    donning = table.set_index("sample").loc["S01A07E01V01"]
    assert (donning["original_name"], donning["label"]) == ("a08_s01_e00_v01", 6)
    assert get_dataset("nucla").class_names[6] == "donning"


def test_view_protocols_train_on_two_views_and_test_on_the_third(all_sqe, tmp_path):
    table = write_index(NUCLA, RawPaths(skeletons=(all_sqe,)), PROTOCOLS, tmp_path / "i.parquet")
    for protocol in PROTOCOLS:
        train_views = {int(protocol[0]), int(protocol[1])}
        assert (table[protocol] == table["view"].isin(train_views)).all()
    counts = {p: (int(table[p].sum()), int((~table[p]).sum())) for p in PROTOCOLS}
    assert counts == {"123": (21, 10), "132": (20, 11), "231": (21, 10)}


def test_joints_are_the_json_values_and_the_store_equals_the_original_chain(
    all_sqe, keep_all, tmp_path
):
    samples, joint = _stage(RawPaths(skeletons=(all_sqe,), missing_skeletons=keep_all), tmp_path)
    assert joint.shape == (31, 3, 192, 20, 1) and joint.attrs["layout"] == "ucla"
    assert (samples["n_bodies"] == 1).all() and (samples["status"] == "ok").all()
    first = samples.iloc[0]
    raw = NUCLA.read_skeleton(first)
    assert raw.joints.shape == (1, 44, 20, 3) and int(first["n_frames"]) == 44
    # a01_s01_e00_v01.json, frame 0: HipCenter, then frame 43: Head
    np.testing.assert_array_equal(raw.joints[0, 0, 0], [-0.619699, 0.328046, 3.18186])
    frames = np.asarray(json.loads(Path(first["skeleton_path"]).read_text())["skeletons"])
    np.testing.assert_array_equal(raw.joints[0], frames)
    for i, row in samples.iterrows():
        bodies = read_all_sqe(row["skeleton_path"])["skeletons"][None]
        expected = ref.process_like_ntu(bodies, 192, keep=1)
        np.testing.assert_array_equal(joint[i], expected, err_msg=row["sample"])
    single = samples.index[samples["sample"] == "S09A02E05V02"][0]
    assert samples.loc[single, "n_frames"] == 1
    one_frame = joint[single][:, :, :, 0]  # (3, 192, 20): the one frame, loop-padded
    assert one_frame.any() and (one_frame == one_frame[:, :1]).all()


def test_both_raw_forms_give_the_same_samples_and_store(all_sqe, reformatted, keep_all, tmp_path):
    from_json, a = _stage(RawPaths((all_sqe,), missing_skeletons=keep_all), tmp_path / "json")
    from_skeleton, b = _stage(
        RawPaths((reformatted,), missing_skeletons=keep_all), tmp_path / "skeleton"
    )
    assert Path(from_skeleton["skeleton_path"][0]).suffix == ".skeleton"
    keep = [c for c in from_json.columns if c != "skeleton_path"]
    pd.testing.assert_frame_equal(from_json[keep], from_skeleton[keep])
    np.testing.assert_array_equal(a[:], b[:])
    for i, path in enumerate(from_skeleton["skeleton_path"]):  # the original's own reader
        np.testing.assert_array_equal(b[i], ref.process_like_ntu(ref.read_ucla_xyz(path), 192, 1))


def test_the_same_sample_in_both_forms_is_an_error(all_sqe, reformatted, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(reformatted, folder)
    shutil.copy(all_sqe / "a08_s01_e00_v01.json", folder)
    with pytest.raises(
        ValueError,
        match=r"sample S01A07E01V01 is given twice: .*S01A07E01V01.skeleton and .*a08_s01_e00_v01.json",
    ):
        NUCLA.list_samples(RawPaths(skeletons=(folder,)))


def test_long_sequences_keep_their_centred_192_frames(all_sqe, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    content = json.loads((all_sqe / "a04_s01_e00_v01.json").read_text())  # 141 frames
    content["skeletons"] = content["skeletons"] * 2  # 282 frames
    (folder / "a04_s01_e00_v01.json").write_text(json.dumps(content))
    samples, joint = _stage(RawPaths(skeletons=(folder,)), tmp_path / "out")
    assert samples["n_frames"].tolist() == [282]
    frames = np.asarray(content["skeletons"])[None]
    np.testing.assert_array_equal(joint[0], ref.process_like_ntu(frames, 192, keep=1))
    centred = np.asarray(content["skeletons"])[45 : 45 + 192]  # (282 - 192) // 2 = 45
    np.testing.assert_array_equal(joint[0], ref.process_like_ntu(centred[None], 192, keep=1))


def test_bad_names_and_inconsistent_files_get_reasons(all_sqe, tmp_path):
    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(all_sqe / "a01_s01_e00_v01.json", folder / "a07_s01_e00_v01.json")  # no a07
    shutil.copy(all_sqe / "a01_s01_e00_v01.json", folder / "a01_s01_e00_v04.json")  # no view 4
    (folder / "notes.json").write_text("{}")
    wrong_label = json.loads((all_sqe / "a08_s01_e00_v01.json").read_text())
    wrong_label["label"] = 8  # a08 is A07: the file must say 7
    (folder / "a08_s01_e00_v01.json").write_text(json.dumps(wrong_label))
    shutil.copy(
        all_sqe / "a02_s01_e00_v01.json", folder / "a02_s01_e00_v03.json"
    )  # file_name differs
    samples, joint = _stage(
        RawPaths(skeletons=(folder,)), tmp_path / "out", on_error="fail", min_kept=0
    )
    reasons = samples.set_index("sample")["reason"].to_dict()
    assert reasons == {
        "S01A02E01V03": f"{folder / 'a02_s01_e00_v03.json'}: file_name 'a02_s01_e00_v01' differs from the file's name",
        "S01A07E01V01": f"{folder / 'a08_s01_e00_v01.json'}: label 8, but the name's action a08 is A07 (all_sqe labels are A, 1-10)",
        "a01_s01_e00_v04": "view 4 is not one of (1, 2, 3)",
        "a07_s01_e00_v01": "action a07 does not exist in N-UCLA",
        "notes": "file name is not an N-UCLA name aAA_sSS_eEE_vVV",
    }
    assert (samples["status"] == "rejected").all() and not joint[:].any()


def test_malformed_files_raise_naming_file_and_line(all_sqe, reformatted, tmp_path):
    broken = tmp_path / "S01A01E01V01.skeleton"
    lines = (reformatted / "S01A01E01V01.skeleton").read_text().splitlines()
    lines[10] = lines[10].rsplit(",", 1)[0]  # a joint line of the first frame loses a field
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        SkeletonFormatError,
        match=r"S01A01E01V01.skeleton, line 11: expected a joint line with 4 field",
    ):
        NUCLA.read_skeleton({"skeleton_path": str(broken), "action": 1})
    bad_json = tmp_path / "a01_s01_e00_v01.json"
    bad_json.write_text('{"file_name": "a01_s01_e00_v01", "label": 1, "skeletons": [[[1, 2]]]}')
    with pytest.raises(
        ValueError, match=r"a01_s01_e00_v01.json: 'skeletons' has shape \(1, 1, 2\)"
    ):
        NUCLA.read_skeleton({"skeleton_path": str(bad_json), "action": 1})
    bad_json.write_text('{"file_name": ')
    with pytest.raises(ValueError, match=r"a01_s01_e00_v01.json: not valid JSON"):
        NUCLA.read_skeleton({"skeleton_path": str(bad_json), "action": 1})


def test_video_paths_follow_multiview_action_videos(all_sqe, tmp_path):
    table = NUCLA.list_samples(RawPaths(skeletons=(all_sqe,), videos=tmp_path))
    paths = table.set_index("sample")["video_path"]
    assert paths["S01A07E01V01"] == str(tmp_path / "a08" / "v01_s01_e00.avi")
    assert paths["S09A02E05V02"] == str(tmp_path / "a02" / "v02_s09_e04.avi")
    assert NUCLA.list_samples(RawPaths(skeletons=(all_sqe,)))["video_path"].isna().all()


def test_test_splits_hold_the_original_samples(tmp_path):
    """CTR-GCN's view-3 list (the all_sqe files) has 464 samples, the original's protocol 123
    test split 463: the packaged exclusion list drops the one-frame a02_s09_e04_v03."""
    import pickle
    import pickletools

    data = realdata("nw_ucla", "val_label.pkl").read_bytes()
    opcodes = {op.name for op, *_ in pickletools.genops(data)}
    assert not opcodes & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ"}  # plain data only
    folder = tmp_path / "all_sqe"
    folder.mkdir()
    for entry in pickle.loads(data):  # names and labels only: one frame of content each
        content = {"file_name": entry["file_name"], "skeletons": [[[0.1, 0.2, 3.0]] * 20],
                   "label": entry["label"]}  # fmt: skip
        (folder / f"{entry['file_name']}.json").write_text(json.dumps(content))
    table = NUCLA.list_samples(RawPaths(skeletons=(folder,)))
    NUCLA.add_splits(table, PROTOCOLS, RawPaths(skeletons=(folder,)))
    test = table[(table["status"] == "ok") & ~table["123"]]
    assert len(table) == 464 and len(test) == 463
    assert table.loc[table["status"] == "excluded", "sample"].tolist() == ["S09A02E05V03"]
