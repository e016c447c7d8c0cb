"""Sample arrays: the fast per-sample reader agrees with zarr, written or not."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from mmnet.store import SampleReader, create_sample_array


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int16"])
def test_reader_equals_zarr_for_written_unwritten_and_zero_samples(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = create_sample_array(
        tmp_path / "s.zarr", "x", (150, 3, 7, 5), dtype, samples_per_file=64
    )
    data = (rng.normal(size=(100, 3, 7, 5)) * 50).astype(dtype)
    data[10] = 0  # equal to the fill value: zarr leaves this chunk out of its shard
    array[:100] = data  # rows 100-149: the third shard file is never written
    reader = SampleReader(zarr.open_group(tmp_path / "s.zarr", mode="r")["x"])
    assert reader._direct  # the fast path, not the zarr fallback
    assert not (tmp_path / "s.zarr" / "x" / "c" / "2").exists()
    for row in range(150):
        sample = reader[row]
        np.testing.assert_array_equal(sample, array[row], err_msg=str(row))
        assert sample.dtype == np.dtype(dtype) and sample.flags.writeable
    with pytest.raises(IndexError, match=r"row 150 outside 0\.\.149"):
        reader[150]


def test_other_layouts_are_read_through_zarr(tmp_path):
    array = zarr.create_array(tmp_path / "plain.zarr", shape=(4, 3), chunks=(2, 3), dtype="int32")
    array[:] = np.arange(12).reshape(4, 3)
    reader = SampleReader(zarr.open_array(tmp_path / "plain.zarr", mode="r"))
    assert not reader._direct
    np.testing.assert_array_equal(reader[3], [9, 10, 11])
