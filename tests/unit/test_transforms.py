"""Body selection and pre-normalisation equal the original's loops (reference_original)."""

from __future__ import annotations

import numpy as np
import pytest
import reference_original as ref

from mmnet.datasets.ntu_format import read_skeleton_file
from mmnet.skeleton import transforms
from mmnet.skeleton.layouts import NTU_RGBD, UCLA, joint_to_bone
from mmnet.skeleton.transforms import fit_frames, pre_normalize, select_bodies


def _block(paths, max_frames=300) -> np.ndarray:
    return np.stack(
        [fit_frames(select_bodies(read_skeleton_file(p).dense(4), 2), max_frames) for p in paths]
    )


def _reference(block: np.ndarray) -> np.ndarray:
    """The original operates on (N, C, T, V, M); ours on (N, M, T, V, C)."""
    return ref.pre_normalization(block.transpose(0, 4, 2, 3, 1)).transpose(0, 4, 2, 3, 1)


def test_body_selection_equals_original(ntu60_skeletons):
    for path in ntu60_skeletons:
        slots = read_skeleton_file(path).dense(4)
        np.testing.assert_array_equal(select_bodies(slots, 2), ref.select_two(ref.read_xyz(path)))


def test_energy_picks_the_moving_bodies_not_the_ghost():
    rng = np.random.default_rng(0)
    slots = np.zeros((4, 30, 25, 3))
    slots[0, :, :, :] = rng.normal(0, 0.01, (30, 25, 3)) + [0, 0, 3]  # compact ghost, listed first
    slots[1] = rng.normal(0, 0.5, (30, 25, 3))  # actors spread out over joints and time
    slots[2, :20] = rng.normal(0, 0.4, (20, 25, 3))
    chosen = select_bodies(slots, 2)
    np.testing.assert_array_equal(chosen, slots[[1, 2]])
    np.testing.assert_array_equal(chosen, ref.select_two(slots))


def test_pre_normalisation_equals_original_on_real_files(ntu60_skeletons):
    block = _block(ntu60_skeletons)
    np.testing.assert_array_equal(pre_normalize(block.copy()), _reference(block))


@pytest.mark.parametrize(
    "damage",
    [
        lambda x: x[0, :, :7].fill(0),  # leading empty frames -> frames move to the front
        lambda x: x[1, 0, 10:13].fill(0),  # interior empty frames stay
        lambda x: x[2, 1].fill(0),  # absent second person
        lambda x: x[3, 0].fill(0),  # only the second slot holds a body
        lambda x: x[4].fill(0),  # no body at all: left zero
        lambda x: x[5, :, :, 3].fill(0),  # a joint never tracked stays exactly zero
    ],
    ids=["leading", "interior", "one-person", "second-slot", "empty", "untracked-joint"],
)
def test_pre_normalisation_edge_cases_equal_original(ntu60_skeletons, damage):
    block = _block(ntu60_skeletons)
    damage(block)
    np.testing.assert_array_equal(pre_normalize(block.copy()), _reference(block))


def _varied_block(ntu60_skeletons, n: int, seed: int) -> np.ndarray:
    """``n`` samples made from the real ones: turned and moved at random (so every angle and
    axis differs), with empty frames at the start, inside and at the end, untracked joints,
    a missing first or second person, some joints exactly -0.0."""
    rng = np.random.default_rng(seed)
    real = _block(ntu60_skeletons)
    block = real[rng.integers(0, len(real), n)].astype(np.float64)
    for sample in block:
        turn = np.linalg.qr(rng.standard_normal((3, 3)))[0]
        present = sample.reshape(2, 300, -1).any(axis=2)
        sample[present] = sample[present] @ turn.T + rng.normal(0, 2, 3)
        frames = rng.integers(0, 300, rng.integers(0, 40))
        sample[rng.integers(0, 2), frames] = 0
        if rng.random() < 0.3:
            sample[:, : rng.integers(1, 60)] = 0
        sample[:, :, rng.integers(0, 25, rng.integers(0, 3))] = 0
        if rng.random() < 0.1:
            sample[rng.integers(0, 2)] = 0
    block = block.astype(np.float32)
    block[rng.random(block.shape) < 0.001] = -0.0
    return np.ascontiguousarray(block)


@pytest.mark.parametrize("seed", [0, 1])
def test_compiled_loops_give_numpys_bits(ntu60_skeletons, monkeypatch, seed):
    """The compiled padding, centring and rotation products against the NumPy loops, bit for
    bit (signs of zero included), on 160 varied samples."""
    assert transforms._normalize is not None, "`pip install -e .` builds it"
    assert transforms._compiled_product_is_numpys()  # OpenBLAS, as the pip wheels bring
    block = _varied_block(ntu60_skeletons, 160, seed)
    compiled = pre_normalize(block.copy())
    monkeypatch.setattr(transforms, "_normalize", None)
    plain = pre_normalize(block.copy())
    assert np.array_equal(compiled.view(np.int32), plain.view(np.int32))
    assert not np.array_equal(compiled, block)


def test_each_step_leaves_the_sums_of_what_it_wrote(ntu60_skeletons):
    """The next step reuses the frame sums the last one left: they must be NumPy's sums of
    the values now in the block, bit for bit, after every compiled step and after padding
    with NumPy."""
    block = _varied_block(ntu60_skeletons, 64, 4)
    plain = block.copy()
    assert np.array_equal(
        transforms._pad_null_frames(plain).view(np.int32),
        transforms._frame_sums(plain).view(np.int32),
    )
    shape, native = block.shape[:4], transforms._normalize
    sums = np.empty(shape[:3], dtype=np.float32)
    steps = [
        lambda: native.frame_sums(block, shape, sums),
        lambda: native.pad_null_frames(block, shape, sums),
        lambda: native.centre(block, shape, sums),
    ]
    for joints, target in ((transforms.Z_AXIS_JOINTS, transforms.Z_TARGET),
                           (transforms.X_AXIS_JOINTS, transforms.X_TARGET)):  # fmt: skip
        steps.append(
            lambda j=joints, t=target: native.rotate(
                block, shape, sums, *transforms._alignments(block, j, t, np.ones(64, bool))
            )
        )
    for step in steps:
        step()
        assert np.array_equal(sums.view(np.int32), transforms._frame_sums(block).view(np.int32))


def test_store_layout_is_the_transpose(ntu60_skeletons, monkeypatch):
    block = _varied_block(ntu60_skeletons, 8, 5)
    block[2] = 0
    block[5] = -0.0  # zeros with a sign are still the fill value
    compiled, compiled_nonzero = transforms.store_layout(block)
    monkeypatch.setattr(transforms, "_normalize", None)
    plain, plain_nonzero = transforms.store_layout(block)
    assert compiled.flags.c_contiguous and compiled.shape == (8, 3, 300, 25, 2)
    assert np.array_equal(compiled.view(np.int32), plain.view(np.int32))
    assert np.array_equal(plain, block.transpose(0, 4, 2, 3, 1))
    expected = [bool((sample != 0).any()) for sample in block]
    assert compiled_nonzero.tolist() == plain_nonzero.tolist() == expected
    assert not expected[2] and not expected[5] and sum(expected) >= 5


def test_compiled_energy_orders_slots_as_numpys(ntu60_skeletons, monkeypatch):
    """Real slots (two-person files included) and random ones with empty frames, ghosts and
    empty slots: the same energies up to rounding, the same order, the same bodies kept."""
    rng = np.random.default_rng(3)
    cases = [read_skeleton_file(p).dense(4) for p in ntu60_skeletons]
    for _ in range(200):
        slots = rng.normal(0, rng.uniform(0.01, 1, (4, 1, 1, 1)), (4, 40, 25, 3))
        slots[rng.random((4, 40)) < 0.3] = 0
        slots[rng.integers(0, 4)] = 0
        cases.append(slots)
    compiled = [transforms.body_energy(c) for c in cases]
    kept = [select_bodies(c, 2) for c in cases]
    monkeypatch.setattr(transforms, "_normalize", None)
    for case, energy, chosen in zip(cases, compiled, kept, strict=True):
        plain = transforms.body_energy(case)
        np.testing.assert_allclose(energy, plain, rtol=1e-12, atol=0)
        assert (
            np.argsort(energy, kind="stable").tolist() == np.argsort(plain, kind="stable").tolist()
        )
        np.testing.assert_array_equal(chosen, select_bodies(case, 2))


def test_varied_samples_equal_the_original(ntu60_skeletons):
    """Bit for bit (signs of zero included). Sample 37 has a right shoulder whose z nearly
    cancels after the x rotation: a matrix product over all joints, instead of the original's
    matrix-vector product per joint, rounded it 1 ulp apart in float32."""
    block = _varied_block(ntu60_skeletons, 40, 0)
    ours, original = pre_normalize(block.copy()), _reference(block)
    assert np.array_equal(ours.view(np.int32), original.view(np.int32))


def test_pre_normalised_sample_is_spine_up_shoulders_along_x(ntu60_skeletons):
    x = pre_normalize(_block(ntu60_skeletons[:1]))[0, 0]  # person 0: (T, V, C)
    spine = x[0, 1] - x[0, 0]
    shoulders = x[0, 8] - x[0, 4]
    assert np.allclose(x[:, 1], 0, atol=1e-6)  # centred on joint 1 in every frame
    assert abs(shoulders[1]) < 1e-5 and abs(shoulders[2]) < 1e-5  # right-left shoulder on +x
    assert spine[2] > 0.9 * np.linalg.norm(spine)  # step 4 may tilt the spine a little off +z
    assert x.reshape(300, -1).any(axis=1).all()  # 103 frames loop-padded to 300


def test_long_sequences_are_centre_cropped():
    bodies = np.arange(2 * 10 * 25 * 3, dtype=float).reshape(2, 10, 25, 3)
    out = fit_frames(bodies, 4)
    np.testing.assert_array_equal(out, bodies[:, 3:7].astype(np.float32))
    assert fit_frames(bodies, 12)[:, 10:].sum() == 0


def test_bones_from_the_parent_table():
    joint = np.random.default_rng(1).normal(size=(3, 5, 25, 2)).astype(np.float32)
    bone = joint_to_bone(joint, NTU_RGBD)
    assert bone.shape == joint.shape and bone.dtype == np.float32
    np.testing.assert_array_equal(bone[:, :, 20], 0)  # SpineShoulder is its own parent
    # spec §2.6 pair (1, 2) 1-based: SpineBase minus SpineMid
    np.testing.assert_array_equal(bone[:, :, 0], joint[:, :, 0] - joint[:, :, 1])
    np.testing.assert_array_equal(bone[:, :, 21], joint[:, :, 21] - joint[:, :, 22])


def test_layouts_reproduce_the_original_graph_edges():
    ntu_edges = {(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
                 (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
                 (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12)}  # fmt: skip
    assert {(a + 1, b + 1) for a, b in NTU_RGBD.edges} == ntu_edges
    ucla_edges = {(1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10),
                  (10, 11), (11, 12), (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18),
                  (18, 19), (19, 20)}  # fmt: skip
    assert {frozenset((a + 1, b + 1)) for a, b in UCLA.edges} == {frozenset(e) for e in ucla_edges}
    assert NTU_RGBD.joints[NTU_RGBD.center] == "SpineShoulder"
    assert UCLA.joints[UCLA.center] == "ShoulderCenter"
