"""The skeleton stage end to end on real files: values, shards, rejections, interruptions."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import reference_original as ref
import zarr

from mmnet.config import SkeletonOptions
from mmnet.datasets.base import RawPaths
from mmnet.datasets.ntu import NTU60
from mmnet.datasets.ntu_format import SkeletonFormatError
from mmnet.stages.index import write_index
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import build_skeletons, parse_shard


def _copy_raw(ntu60_skeletons, tmp_path: Path) -> RawPaths:
    folder = tmp_path / "raw"
    folder.mkdir()
    for path in ntu60_skeletons:
        shutil.copy(path, folder)
    return RawPaths(skeletons=(folder,))


def _run(
    tmp_path: Path, raw: RawPaths, workers: int = 1, **kwargs
) -> tuple[pd.DataFrame, zarr.Array]:
    out = tmp_path / f"out{workers}"
    write_index(NTU60, raw, ["xsub", "xview"], out / "index.parquet")
    samples = build_skeletons(
        NTU60, SkeletonOptions(**kwargs), out / "index.parquet", out / "skeleton.zarr",
        out / "samples.parquet", workers=workers,
    )  # fmt: skip
    return samples, zarr.open_group(out / "skeleton.zarr", mode="r")["joint"]


def test_store_equals_the_original_pipeline(ntu60_skeletons, tmp_path):
    samples, joint = _run(tmp_path, RawPaths(skeletons=(ntu60_skeletons[0].parent,)))
    assert joint.shape == (7, 3, 300, 25, 2) and joint.dtype == np.float32
    assert joint.attrs["layout"] == "ntu-rgb+d"
    assert list(samples["n_frames"]) == [103, 158, 104, 99, 54, 82, 70]
    assert list(samples["n_bodies"]) == [1, 1, 1, 1, 1, 1, 2]
    assert (samples["status"] == "ok").all()
    assert samples.equals(pd.read_parquet(tmp_path / "out1" / "samples.parquet"))
    for i, path in enumerate(samples["skeleton_path"]):
        np.testing.assert_array_equal(joint[i], ref.original_sample(path))


def test_shard_count_does_not_change_the_store(ntu60_skeletons, tmp_path):
    raw = RawPaths(skeletons=(ntu60_skeletons[0].parent,))
    one, a = _run(tmp_path, raw, workers=1)
    three, b = _run(tmp_path, raw, workers=3)
    np.testing.assert_array_equal(a[:], b[:])
    assert one.equals(three)


def test_malformed_file_fails_or_is_rejected(ntu60_skeletons, tmp_path):
    raw = _copy_raw(ntu60_skeletons, tmp_path)
    broken = raw.skeletons[0] / "S001C001P001R001A003.skeleton"
    broken.write_bytes(broken.read_bytes()[:5000])  # truncated mid-file
    empty = raw.skeletons[0] / "S001C001P001R001A004.skeleton"
    empty.write_text("3\r\n0\r\n0\r\n0\r\n")  # frames, but never a body
    with pytest.raises(
        SkeletonFormatError,
        match=r"A003.skeleton, line 57: .* found 4 \(last line of the file: truncated\?\)",
    ):
        _run(tmp_path, raw)
    assert not (tmp_path / "out1" / "skeleton.zarr").exists()
    samples, joint = _run(tmp_path, raw, on_error="reject")
    rows = samples.set_index("sample")
    assert rows.loc["S001C001P001R001A003", "status"] == "rejected"
    assert "A003.skeleton, line" in rows.loc["S001C001P001R001A003", "reason"]
    assert rows.loc["S001C001P001R001A004", "reason"] == "no body in any frame"
    assert rows.loc["S001C001P001R001A004", "n_frames"] == 3
    assert (rows["status"] == "ok").sum() == 5
    assert not joint[2].any() and not joint[3].any() and joint[4].any()


def test_interrupted_shard_leaves_no_output(ntu60_skeletons, tmp_path, monkeypatch):
    raw = RawPaths(skeletons=(ntu60_skeletons[0].parent,))
    write_index(NTU60, raw, ["xsub"], tmp_path / "index.parquet")
    calls = []

    def die_on_third(row):
        calls.append(row["sample"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # what a kill looks like from inside
        return type(NTU60).read_skeleton(NTU60, row)

    monkeypatch.setattr(type(NTU60), "read_skeleton", lambda self, row: die_on_third(row))
    with pytest.raises(KeyboardInterrupt):
        parse_shard(
            NTU60, SkeletonOptions(), Shard(0, 1), tmp_path / "index.parquet",
            ShardOutput(tmp_path / "s.zarr", tmp_path / "s.parquet"),
        )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.parquet"]


def test_shards_are_named_like_snakemake_scatter_items_and_own_whole_files():
    assert Shard.parse("1-of-8") == Shard(0, 8) and Shard(7, 8).name == "8-of-8"
    for bad in ("9-of-8", "0-of-8", "3of8", "a-of-b"):
        with pytest.raises(ValueError, match="shard"):
            Shard.parse(bad)
    assert Shard(1, 3).blocks(500, 64) == [range(64, 128), range(256, 320), range(448, 500)]
    rows = sorted(r for s in Shard.all(3) for r in s.rows(500, 64))
    assert rows == list(range(500))


@pytest.mark.parametrize("kind", ["ntu60", "pku", "nucla"])
def test_right_shoulder_lies_on_plus_x_in_every_real_store(kind, tmp_path):
    """The original rotates *right minus left* shoulder (joints 8 - 4 of person 0, frame 0)
    onto +x (``preprocess.py``'s last pass): a flipped sign would mirror every sample."""
    from conftest import realdata

    from mmnet.datasets import get_dataset

    root = realdata()
    raw = {
        "ntu60": RawPaths(skeletons=(root / "ntu60" / "skeletons",)),
        "pku": RawPaths(
            skeletons=(root / "pku_mmd" / "PKU_Skeleton_Renew",),
            extra={
                "labels": root / "pku_mmd" / "Train_Label_PKU_final",
                "splits": root / "pku_mmd" / "Split",
            },
        ),
        "nucla": RawPaths(skeletons=(root / "nw_ucla" / "all_sqe",)),
    }[kind]
    dataset = get_dataset(kind)
    write_index(dataset, raw, list(dataset.protocols), tmp_path / "index.parquet")
    samples = build_skeletons(
        dataset,
        SkeletonOptions(),
        tmp_path / "index.parquet",
        tmp_path / "skeleton.zarr",
        tmp_path / "s.parquet",
    )
    joint = zarr.open_group(tmp_path / "skeleton.zarr", mode="r")["joint"][:]
    ok = np.flatnonzero(samples["status"] == "ok")
    assert len(ok) >= 7
    first = joint[ok][:, :, 0, :, 0]  # (N, C, V): person 0, frame 0
    shoulders = first[:, :, 8] - first[:, :, 4]  # right minus left
    assert (shoulders[:, 0] > 0).all()
    np.testing.assert_allclose(shoulders[:, 1:], 0, atol=1e-5)


def test_gather_assigns_the_parse_columns_as_the_row_wise_assignment_did(tmp_path, monkeypatch):
    """``merge_shards`` builds each parse column whole: the same table, and the same
    samples.parquet bytes, as the former row-wise ``.loc`` assignment; rows no shard
    parsed keep the index's status and get -1 counts."""
    import mmnet.stages.skeleton as stage
    from mmnet.store import write_parquet

    monkeypatch.setattr(stage, "gather_stores", lambda *args, **kwargs: None)
    n = 300
    index = pd.DataFrame({
        "sample": pd.array([f"S{i:04d}" for i in range(n)], dtype="string"),
        "status": pd.array(["ok"] * (n - 20) + ["excluded"] * 20, dtype="string"),
        "reason": pd.array([""] * (n - 20) + ["missing skeleton"] * 20, dtype="string"),
        "xsub": np.arange(n) % 2 == 0,
    })  # fmt: skip
    write_parquet(index, tmp_path / "index.parquet")
    rows = np.flatnonzero(index["status"] == "ok")
    parsed = pd.DataFrame({
        "row": rows.astype("int64"),
        "n_frames": (rows % 97 + 10).astype("int32"),
        "n_bodies": (rows % 3).astype("int32"),
        "status": pd.array(["rejected" if r % 50 == 0 else "ok" for r in rows], dtype="string"),
        "reason": pd.array(["line 3: bad" if r % 50 == 0 else "" for r in rows], dtype="string"),
    })  # fmt: skip
    tables = []
    for part in range(3):  # blocks of 64 rows, every other one to each shard; one shard empty
        mine = parsed[(parsed["row"] // 64) % 2 == part] if part < 2 else parsed.iloc[:0]
        tables.append(tmp_path / f"t{part}.parquet")
        write_parquet(mine.reset_index(drop=True), tables[-1])
    expected = index.copy()  # the former assignment, row by row
    expected["n_frames"] = pd.array([-1] * n, dtype="int32")
    expected["n_bodies"] = pd.array([-1] * n, dtype="int32")
    for column in stage.PARSE_COLUMNS:
        expected.loc[parsed["row"].to_numpy(), column] = parsed[column].to_numpy()
    write_parquet(expected, tmp_path / "expected.parquet")
    samples = stage.merge_shards(
        tmp_path / "index.parquet", [], tables, tmp_path / "s.zarr", tmp_path / "samples.parquet",
        min_kept=0,
    )  # fmt: skip
    assert samples.equals(expected)
    assert (tmp_path / "samples.parquet").read_bytes() == (
        tmp_path / "expected.parquet"
    ).read_bytes()
    assert (samples.loc[n - 20 :, "n_frames"] == -1).all()
    assert (samples.loc[n - 20 :, "status"] == "excluded").all()
