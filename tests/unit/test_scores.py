"""scores.parquet round trip, and the original project's score and label pickles."""

import pickle
import re

import numpy as np
import pytest
from conftest import realdata

from mmnet.scores import (
    UnsafePickleError,
    export_score_pickles,
    load_pickle,
    load_scores,
    read_label_pickle,
    read_score_pickle,
    read_scores,
    write_scores,
)


def test_round_trip(tmp_path):
    scores = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32)
    write_scores(tmp_path / "s.parquet", ["a", "b", "c", "d"], np.array([0, 6, 2, 2]), scores)
    frame = read_scores(tmp_path / "s.parquet")
    assert list(frame.index) == ["a", "b", "c", "d"]
    assert frame["label"].tolist() == [0, 6, 2, 2]
    np.testing.assert_array_equal(frame.attrs["scores"], scores)


def test_shape_mismatch_is_an_error(tmp_path):
    with pytest.raises(ValueError):
        write_scores(tmp_path / "s.parquet", ["a"], np.array([0, 1]), np.zeros((1, 3)))


# The original project's pickles -------------------------------------------------------------


class RunsCode:
    """Unpickling this calls os.system: what a restricted unpickler must refuse."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval"])
def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, payload):
    marker = tmp_path / "ran"
    if payload == "os.system":
        content = {"S001C001P001R001A001": RunsCode(marker)}
    else:
        content = {"S001C001P001R001A001": Evaluates(f"open({str(marker)!r}, 'w')")}
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(
        UnsafePickleError, match=rf"evil.pkl: refusing to load global .*{payload.split('.')[1]}"
    ):
        read_score_pickle(path)
    assert not marker.exists()
    with pytest.raises(ValueError):  # the CLI reports it as a plain error
        load_scores(path)


class Evaluates:
    def __init__(self, source):
        self.source = source

    def __reduce__(self):
        return (eval, (self.source,))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_pickles_of_every_protocol_load(tmp_path, protocol):
    vectors = np.random.default_rng(protocol).normal(size=(3, 5)).astype(np.float32)
    names = [
        "S001C001P001R001A001.skeleton",
        "S001C001P001R001A002.skeleton",
        "S001C001P001R001A003.skeleton",
    ]
    path = tmp_path / "scores.pkl"
    path.write_bytes(pickle.dumps(dict(zip(names, vectors, strict=True)), protocol=protocol))
    frame = read_score_pickle(path)
    assert list(frame.index) == [n.removesuffix(".skeleton") for n in names]
    np.testing.assert_array_equal(frame.attrs["scores"], vectors)
    assert "label" not in frame.columns


def test_numpy_1_module_names_load(tmp_path):
    """Pickles written by NumPy 1.x name numpy.core, not numpy._core."""
    data = pickle.dumps({"a": np.arange(4, dtype=np.float32)}, protocol=2)
    assert b"numpy._core.multiarray\n" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n"))
    np.testing.assert_array_equal(read_score_pickle(path).attrs["scores"], [[0, 1, 2, 3]])


def test_label_pickle_with_numpy_labels_and_full_paths(tmp_path):
    path = tmp_path / "val_label.pkl"
    names = [
        "/data/nturgb+d_skeletons_s018_to_s032/S018C001P008R001A061.skeleton",
        "S001C001P001R001A001",
    ]
    path.write_bytes(pickle.dumps((names, np.array([60, 0])), protocol=4))
    labels = read_label_pickle(path)
    assert labels.to_dict() == {"S018C001P008R001A061": 60, "S001C001P001R001A001": 0}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([1, 2, 3], "must be a (sample names, labels) pair, got list of length 3"),
        ((["a", "b"], [0]), "2 sample names but 1 labels"),
        ((["a", "a.skeleton"], [0, 1]), "1 sample id(s) appear more than once"),
        ((["a"], [0.5]), "labels must be integers"),
        (([3], [0]), "sample names must be strings"),
    ],
)
def test_bad_label_pickles_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "labels.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError) as info:
        read_label_pickle(path)
    assert str(path) in str(info.value) and message in str(info.value)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({}, "must be a non-empty dict"),
        ({"a": np.zeros((2, 2))}, "score of 'a' must be a 1-D numeric vector"),
        ({"a": np.zeros(3), "b": np.zeros(4)}, "different lengths [3, 4]"),
    ],
)
def test_bad_score_pickles_say_what_is_wrong(tmp_path, content, message):
    path = tmp_path / "scores.pkl"
    path.write_bytes(pickle.dumps(content))
    with pytest.raises(ValueError, match=re.escape(message)):
        read_score_pickle(path)


def test_truncated_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "cut.pkl"
    path.write_bytes(pickle.dumps({"a": np.zeros(60, np.float32)})[:50])
    with pytest.raises(ValueError, match=r"cut\.pkl: not a readable pickle"):
        read_score_pickle(path)


def test_real_ctrgcn_label_file_loads_safely_but_is_not_the_mmnet_format():
    """A real third-party pickle (CTR-GCN's N-UCLA list of dicts) passes the restricted
    unpickler and is then rejected for its layout, naming the file."""
    path = realdata("nw_ucla", "val_label.pkl")
    content = load_pickle(path)
    assert isinstance(content, list) and len(content) == 464 and "file_name" in content[0]
    with pytest.raises(
        ValueError,
        match=r"val_label.pkl: a label pickle must be a \(sample names, labels\) pair, got list of length 464",
    ):
        read_label_pickle(path)


def test_export_to_the_original_format_and_back(tmp_path):
    scores = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    write_scores(tmp_path / "s.parquet", ["c", "a", "b"], np.array([2, 0, 1]), scores)
    export_score_pickles(tmp_path / "s.parquet", tmp_path / "s.pkl", tmp_path / "labels.pkl")
    raw = pickle.loads((tmp_path / "s.pkl").read_bytes())
    assert list(raw) == ["a.skeleton", "b.skeleton", "c.skeleton"]  # label order, original names
    names, labels = pickle.loads((tmp_path / "labels.pkl").read_bytes())
    assert names == ["a.skeleton", "b.skeleton", "c.skeleton"] and labels == [0, 1, 2]
    back = read_score_pickle(tmp_path / "s.pkl")
    np.testing.assert_array_equal(back.attrs["scores"], scores[[1, 2, 0]])
    assert read_label_pickle(tmp_path / "labels.pkl").to_dict() == {"a": 0, "b": 1, "c": 2}


def test_unknown_score_file_type(tmp_path):
    with pytest.raises(ValueError, match=r"unknown score file type '\.npy'"):
        load_scores(tmp_path / "scores.npy")


def test_duplicate_samples_in_parquet(tmp_path):
    write_scores(tmp_path / "s.parquet", ["a", "a"], np.array([0, 0]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"1 sample id\(s\) appear more than once.*\['a'\]"):
        load_scores(tmp_path / "s.parquet")
