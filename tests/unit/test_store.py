"""Sample arrays: the fast per-sample reader agrees with zarr, written or not."""

from __future__ import annotations

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec

from mmnet.store import SampleReader, create_sample_array, write_samples


@pytest.mark.parametrize("dtype", ["float32", "uint8", "int16"])
def test_reader_equals_zarr_for_written_unwritten_and_zero_samples(tmp_path, dtype):
    rng = np.random.default_rng(0)
    array = create_sample_array(
        tmp_path / "s.zarr", "x", (150, 3, 7, 5), dtype, samples_per_file=64
    ).open()
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


@pytest.mark.parametrize(("dtype", "per_sample"), [("float32", True), ("uint8", False)])
def test_direct_writes_are_the_files_zarr_writes(tmp_path, dtype, per_sample):
    """Whole shard files written by ``write_samples`` equal zarr's, byte for byte: zero
    samples left out, a last shard file shorter than the others, a shard of zeros absent."""
    rng = np.random.default_rng(1)
    shape = (150, 3, 7, 5)
    data = (rng.normal(size=shape) * 50).astype(dtype)
    data[10] = 0
    data[64:128] = 0  # the second shard file holds only zeros: not written at all
    stores = {}
    for name in ("zarr", "direct"):
        array = create_sample_array(
            tmp_path / f"{name}.zarr", "x", shape, dtype, samples_per_file=64,
            block_per_sample=per_sample,
        ).open()  # fmt: skip
        for start in (0, 64, 128):  # blocks as the stages write them
            if name == "zarr":
                array[start : start + 64] = data[start : start + 64]
            else:
                write_samples(array, start, data[start : start + 64])
        stores[name] = tmp_path / f"{name}.zarr" / "x" / "c"
    files = sorted(p.relative_to(stores["zarr"]) for p in stores["zarr"].rglob("*") if p.is_file())
    assert [str(f) for f in files] == ["0/0/0/0", "2/0/0/0"]
    for relative in files:
        assert (stores["direct"] / relative).read_bytes() == (
            stores["zarr"] / relative
        ).read_bytes()
    assert not (stores["direct"] / "1").exists()
    written = zarr.open_group(tmp_path / "direct.zarr", mode="r")["x"]
    np.testing.assert_array_equal(written[:], data)


def test_partial_shard_writes_go_through_zarr(tmp_path):
    array = create_sample_array(
        tmp_path / "s.zarr", "x", (100, 4), "int16", samples_per_file=64
    ).open()
    write_samples(array, 10, np.ones((5, 4), dtype="int16"))  # not a whole shard file
    np.testing.assert_array_equal(array[10:15], 1)
    assert not array[:10].any() and not array[15:].any()


@pytest.mark.parametrize(
    ("dtype", "per_sample", "level"),
    [("float32", True, 1), ("float32", False, 3), ("int16", False, 3), ("int32", False, 5),
     ("uint8", False, 3), ("bool", False, 3), ("float16", True, 9)],
)  # fmt: skip
def test_metadata_is_the_one_zarr_writes(tmp_path, dtype, per_sample, level):
    """The metadata written without zarr equals zarr's ``create_array`` for the same
    settings, byte for byte (group and array), attributes included."""
    shape, attributes = (10, 3, 300, 25, 2), {"axes": ["sample", "c"], "n": 3}
    create_sample_array(tmp_path / "ours.zarr", "x", shape, dtype, compression_level=level,
                       attributes=attributes, block_per_sample=per_sample)  # fmt: skip
    group = zarr.open_group(tmp_path / "zarr.zarr", mode="a", zarr_format=3)
    array = group.create_array(
        "x", shape=shape, chunks=(1, *shape[1:]), shards=(64, *shape[1:]), dtype=dtype,
        fill_value=0, overwrite=True,
        compressors=BloscCodec(cname="zstd", clevel=level, shuffle="shuffle",
                               blocksize=int(np.prod(shape[1:])) * np.dtype(dtype).itemsize
                               if per_sample else 0),
    )  # fmt: skip
    array.attrs.update(attributes)
    for name in ("zarr.json", "x/zarr.json"):
        ours = (tmp_path / "ours.zarr" / name).read_bytes()
        assert ours == (tmp_path / "zarr.zarr" / name).read_bytes(), name


def test_plain_array_writes_what_zarr_reads(tmp_path):
    """The skeleton stage's route: metadata and whole shard files, no zarr object."""
    rng = np.random.default_rng(2)
    data = rng.normal(size=(100, 3, 7, 5)).astype("float32")
    data[3] = 0
    array = create_sample_array(tmp_path / "s.zarr", "x", data.shape, "float32",
                               samples_per_file=64, block_per_sample=True)  # fmt: skip
    for start in (0, 64):
        write_samples(array, start, data[start : start + 64])
    with pytest.raises(ValueError, match="not whole shard files"):
        write_samples(array, 10, data[10:20])
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "s.zarr" / "x", mode="r")[:], data)
    create_sample_array(tmp_path / "s.zarr", "x", data.shape, "float32")  # replaced, emptied
    assert not zarr.open_array(tmp_path / "s.zarr" / "x", mode="r")[:].any()
