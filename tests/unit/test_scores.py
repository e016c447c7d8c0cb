"""scores.parquet round trip."""

import numpy as np
import pytest

from mmnet.scores import read_scores, write_scores


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
