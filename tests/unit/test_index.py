"""Sample index: ids, labels, official exclusion lists, published split sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import realdata

from mmnet.datasets.base import RawPaths, package_resource, read_sample_list
from mmnet.datasets.ntu import NTU60, NTU120, NTU_ID, parse_ntu_ids
from mmnet.stages.index import write_index


def _statistics_table(kind: str) -> pd.DataFrame:
    folder = realdata(kind, "statistics")
    names = (folder / "skes_available_name.txt").read_text().split()
    table = pd.DataFrame({"sample": pd.Series(names, dtype="string")})
    table = pd.concat([table, parse_ntu_ids(table["sample"])], axis=1)
    for field, file in [("setup", "setup"), ("camera", "camera"), ("subject", "performer"),
                        ("replication", "replication"), ("action", "label")]:  # fmt: skip
        values = np.loadtxt(folder / f"{file}.txt", dtype=int)
        assert (table[field].to_numpy() == values).all(), field  # ids parsed from names agree
    return table


@pytest.mark.parametrize(
    ("dataset", "kind", "expected"),
    [
        (NTU60, "ntu60", {"xsub": (40091, 16487), "xview": (37646, 18932)}),
        (NTU120, "ntu120", {"xsub": (63026, 50919), "xset": (54468, 59477)}),
    ],
)
def test_split_columns_give_the_published_sizes(dataset, kind, expected):
    table = dataset.add_splits(_statistics_table(kind), list(dataset.protocols), RawPaths(()))
    missing = set(read_sample_list(package_resource(dataset.missing_list), NTU_ID))
    assert not missing & set(table["sample"])  # the statistics list only usable samples
    for protocol, (train, test) in expected.items():
        assert (int(table[protocol].sum()), int((~table[protocol]).sum())) == (train, test)


def test_packaged_missing_lists_are_the_official_ones():
    ntu60 = read_sample_list(package_resource("ntu60_missing_skeletons.txt"), NTU_ID)
    ntu120 = read_sample_list(package_resource("ntu120_missing_skeletons.txt"), NTU_ID)
    assert (len(ntu60), len(set(ntu60)), len(ntu120), len(set(ntu120))) == (302, 302, 535, 535)
    assert "S001C001P001R001A012" not in ntu60  # the original's spurious 303rd entry
    assert set(ntu60) <= set(ntu120)


def test_missing_lists_with_and_without_header_agree():
    for kind, name in [("ntu60", "NTU_RGBD_samples_with_missing_skeletons.txt"),
                       ("ntu120", "NTU_RGBD120_samples_with_missing_skeletons.txt")]:  # fmt: skip
        official = read_sample_list(realdata(kind, name), NTU_ID)
        plain = read_sample_list(realdata(kind, "variant_mmaction2", name), NTU_ID)
        assert official == plain and len(official) in (302, 535)


def test_missing_list_with_garbage_after_the_ids_is_an_error(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text("header line\n\nS001C001P001R001A001\noops\n")
    with pytest.raises(ValueError, match=r"list.txt, line 4: 'oops' is not a sample id"):
        read_sample_list(path, NTU_ID)


def test_class_names():
    assert NTU60.num_class == 60 and NTU120.num_class == 120
    assert NTU60.class_names[0] == "drink water"
    assert NTU120.class_names[:60] == NTU60.class_names


def _fake_raw(tmp_path: Path, names: list[str]) -> RawPaths:
    folder = tmp_path / "skeletons"
    folder.mkdir()
    for name in names:
        (folder / f"{name}.skeleton").write_text("0\n")
    return RawPaths(skeletons=(folder,), videos=tmp_path / "videos")


def test_index_rows_status_and_reasons(tmp_path):
    names = ["S001C002P003R002A013", "S001C002P005R002A008", "S018C001P008R001A061", "junk"]
    raw = _fake_raw(tmp_path, names)
    table = write_index(NTU60, raw, ["xsub", "xview"], tmp_path / "index.parquet")
    assert table.equals(pd.read_parquet(tmp_path / "index.parquet"))
    rows = table.set_index("sample")
    assert list(table["sample"]) == sorted(names)  # sorted ids fix the row order
    assert rows.loc["S001C002P003R002A013", "status"] == "ok"
    assert rows.loc["S001C002P003R002A013", "label"] == 12
    assert rows.loc["S001C002P003R002A013", "video_path"].endswith(
        "videos/S001C002P003R002A013_rgb.avi"
    )
    assert not rows.loc["S001C002P003R002A013", "xsub"]  # subject 3 is a test subject
    assert rows.loc["S001C002P003R002A013", "xview"]  # camera 2 is a training camera
    assert rows.loc["S001C002P005R002A008", "status"] == "excluded"  # in the official list
    assert "missing" in rows.loc["S001C002P005R002A008", "reason"]
    assert rows.loc["S018C001P008R001A061", "status"] == "rejected"  # an NTU120 class
    assert rows.loc["junk", "status"] == "rejected" and rows.loc["junk", "label"] == -1


def test_same_sample_in_two_folders_is_an_error(tmp_path):
    for part in ("a", "b"):
        (tmp_path / part).mkdir()
        (tmp_path / part / "S001C002P003R002A013.skeleton").write_text("0\n")
    raw = RawPaths(skeletons=(tmp_path / "a", tmp_path / "b"))
    with pytest.raises(ValueError, match="is in two folders"):
        NTU120.list_samples(raw)
