"""Splits, samplers, augmentation and the datasets that feed the training loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import reference_original as ref
import torch
from training_data import FakeRoiStore

from mmnet.models.resnet import IMAGENET_MEAN, IMAGENET_STD, normalize_rgb
from mmnet.skeleton.layouts import NTU_RGBD, joint_to_bone
from mmnet.train.data import (
    EvalBatches,
    FusedData,
    SkeletonData,
    TrainBatches,
    carve_validation,
    move_between,
    random_move,
    read_samples,
    split_rows,
)


def test_validation_is_stratified_deterministic_and_independent_of_row_order():
    names = np.array([f"S{i:03d}" for i in range(60)])
    labels = np.repeat(np.arange(3), 20)
    mask = carve_validation(names, labels, 0.1, seed=0)
    assert [int(mask[labels == c].sum()) for c in range(3)] == [2, 2, 2]
    order = np.random.default_rng(1).permutation(60)
    shuffled = carve_validation(names[order], labels[order], 0.1, seed=0)
    assert set(names[order][shuffled]) == set(names[mask])
    assert set(names[carve_validation(names, labels, 0.1, seed=1)]) != set(names[mask])
    assert not carve_validation(names, labels, 0.0, seed=0).any()
    single = carve_validation(np.array(["a", "b"]), np.array([0, 1]), 0.5, seed=0)
    assert not single.any()  # a class's only sample stays in training


def test_split_rows_partitions_usable_rows(tiny):
    samples = read_samples(tiny[0], "xsub", 7)
    splits = split_rows(samples, "xsub", 0.15, seed=0)
    ok = np.flatnonzero(samples["status"] == "ok")
    parts = np.concatenate([splits.train, splits.val, splits.test])
    assert sorted(parts) == sorted(ok) and len(set(parts)) == len(parts)
    assert samples.loc[splits.test, "xsub"].eq(False).all()
    assert samples.loc[np.concatenate([splits.train, splits.val]), "xsub"].all()
    assert len(splits.val) == 7  # one per class


def test_read_samples_names_what_is_wrong(tiny, tmp_path):
    with pytest.raises(ValueError, match=r"missing column\(s\) \['xview'\]"):
        read_samples(tiny[0], "xview", 7)
    table = pd.read_parquet(tiny[0])
    table.loc[0, "label"] = 9
    table.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match=r"labels outside 0\.\.6"):
        read_samples(tmp_path / "bad.parquet", "xsub", 7)


def test_w_processes_see_exactly_the_global_batches_of_one():
    one = list(TrainBatches(23, 8, seed=5))
    two = [list(TrainBatches(23, 8, seed=5, rank=r, world=2)) for r in range(2)]
    assert len(one) == 2  # the incomplete last batch is dropped
    for i, batch in enumerate(one):
        assert two[0][i] + two[1][i] == batch
    sampler = TrainBatches(23, 8, seed=5)
    sampler.set_epoch(3, start=1)
    resumed = list(sampler)
    sampler.set_epoch(3)
    assert resumed == list(sampler)[1:] and resumed[0][0][1] == 3
    with pytest.raises(ValueError, match="not divisible by 3"):
        TrainBatches(23, 8, seed=0, world=3)
    with pytest.raises(ValueError, match="fewer than one batch"):
        TrainBatches(5, 8, seed=0)
    shards = [[p for b in EvalBatches(7, 2, rank=r, world=2) for p, _ in b] for r in range(2)]
    assert sorted(shards[0] + shards[1]) == list(range(7))


def test_random_move_is_keyed_and_moves_every_joint_of_a_present_person():
    sample = np.random.default_rng(0).normal(size=(3, 10, 25, 2)).astype(np.float32)
    sample[:, :, 1, 0] = 0  # person 0's joint 1 after centring: the origin in every frame
    sample[:, :, :, 1] = 0  # absent second person
    sample[:, 4, 7, 0] = 0  # one untracked joint
    a = random_move(sample, np.random.default_rng([0, 1, 2]))
    b = random_move(sample, np.random.default_rng([0, 1, 2]))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[2], sample[2])  # z (the vertical axis) is not touched
    moved = (a[:2, :, :, 0] != sample[:2, :, :, 0]).any(axis=0)  # (T, V)
    assert moved.all()  # every joint of the present person, joint 1 and joint 7 included
    assert not a[:, :, :, 1].any()  # the absent person stays absent (no "ghost")


def test_move_between_is_the_original_arithmetic():
    sample = np.random.default_rng(1).normal(size=(3, 12, 25, 2)).astype(np.float32)
    sample[:, 7:, :, 1] = 0  # the second person leaves after frame 6
    keys = ([-175.0, 95.0], [0.9, 1.1], [-0.2, 0.1], [0.2, 0.0])
    ours = move_between(sample, *map(np.array, keys))
    original = ref.random_move_with(sample, *keys)
    present = sample.any(axis=(0, 2))  # (T, M)
    np.testing.assert_allclose(
        ours.transpose(1, 3, 0, 2)[present], original.transpose(1, 3, 0, 2)[present], rtol=1e-6
    )
    assert not ours[:, 7:, :, 1].any() and original[:, 7:, :, 1].any()  # ghosts: spec §9.15


def test_bone_stream_moves_the_bone_array_as_the_original(tiny):
    samples = pd.read_parquet(tiny[0])
    rows = np.flatnonzero(samples["status"] == "ok")[:2]
    labels = samples["label"].to_numpy()[rows]
    bone = SkeletonData(tiny[1], rows, labels, stream="bone", layout=NTU_RGBD, random_move=True)
    joint = SkeletonData(tiny[1], rows, labels, stream="joint", layout=NTU_RGBD)
    still = joint_to_bone(joint[(0, None)][0]["x"].numpy(), NTU_RGBD)
    row = int(rows[0])
    expected = random_move(still, np.random.default_rng([0, 3, row, 1]))  # seed, epoch, row, _MOVE
    moved = bone[(0, 3)][0]["x"].numpy()
    np.testing.assert_array_equal(moved, expected)
    spine_shoulder = NTU_RGBD.index("SpineShoulder")  # its own parent: a zero bone
    assert not still[:2, :, spine_shoulder, 0].any()
    assert moved[:2, :, spine_shoulder, 0].any()  # the shift reaches the bones


def test_skeleton_items(tiny):
    samples = pd.read_parquet(tiny[0])
    rows = np.flatnonzero(samples["status"] == "ok")[:4]
    labels = samples["label"].to_numpy()[rows]
    joint = SkeletonData(tiny[1], rows, labels, stream="joint", layout=NTU_RGBD)
    bone = SkeletonData(tiny[1], rows, labels, stream="bone", layout=NTU_RGBD, frame_stride=2)
    (x,), label = joint[(1, None)][0].values(), joint[(1, None)][1]
    assert x.shape == (3, 24, 25, 2) and label == labels[1]
    np.testing.assert_array_equal(
        bone[(1, None)][0]["x"].numpy(), joint_to_bone(x.numpy(), NTU_RGBD)[:, ::2]
    )
    moving = SkeletonData(tiny[1], rows, labels, stream="joint", layout=NTU_RGBD, random_move=True)
    np.testing.assert_array_equal(moving[(1, None)][0]["x"], x)  # evaluation: no augmentation
    assert not torch.equal(moving[(1, 0)][0]["x"], moving[(1, 1)][0]["x"])  # epochs differ
    torch.testing.assert_close(moving[(1, 0)][0]["x"], moving[(1, 0)][0]["x"])
    with pytest.raises(FileNotFoundError, match="no skeleton store"):
        SkeletonData(tiny[0].parent / "none.zarr", rows, labels, stream="joint", layout=NTU_RGBD)


def test_fused_items_tiles_inversion_and_missing_roi(tiny):
    samples = pd.read_parquet(tiny[0])
    rows = np.flatnonzero(samples["status"] == "ok")[:3]
    roi = FakeRoiStore(tiny[0], missing=(int(rows[2]),))
    skeletons = SkeletonData(
        tiny[1], rows, samples["label"].to_numpy()[rows], stream="joint", layout=NTU_RGBD
    )
    train = FusedData(skeletons, roi, random_interval=True, random_flip=True, seed=0)
    legacy = FusedData(skeletons, roi, legacy_invert=True)
    inputs, _ = legacy[(0, None)]
    expected = ((256 - roi.tiles[rows[0]].astype(int)) % 256).transpose(2, 0, 1)
    np.testing.assert_array_equal(inputs["x_rgb"].numpy(), expected)
    assert set(inputs) == {"x_rgb", "x_skeleton"}
    assert roi.calls[-1] == (rows[0], False, False)  # evaluation tile: no rng, no flip
    flips = set()
    for epoch in range(8):
        train[(0, epoch)]
        assert roi.calls[-1][1]  # training tiles get a generator
        flips.add(roi.calls[-1][2])
    assert flips == {True, False}
    assert not train[(2, None)][0]["x_rgb"].any()  # no ROI: a black tile, and it is counted
    assert list(train.rows_without_roi()) == [rows[2]]
    train.stats = np.ones((3, 7), dtype=np.float32)
    assert set(train[(1, 0)][0]) == {"x_rgb", "stats"}


def test_normalize_rgb_is_totensor_then_imagenet_normalize():
    tiles = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    expected = (tiles.float() / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(
        IMAGENET_STD
    ).view(1, 3, 1, 1)
    torch.testing.assert_close(normalize_rgb(tiles), expected)
