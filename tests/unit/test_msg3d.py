"""MS-G3D against a literal re-implementation of the original (support/reference_msg3d.py)."""

from __future__ import annotations

import numpy as np
import pytest
import reference_msg3d as ref
import torch
import torch.nn.functional as F
from conftest import realdata
from training_data import randomise_batchnorm

from mmnet.datasets import get_dataset
from mmnet.models import MSG3D, build_model
from mmnet.models.msg3d import binary_adjacency
from mmnet.skeleton.layouts import get_layout
from mmnet.skeleton.transforms import fit_frames, pre_normalize, select_bodies

NTU60 = {"num_class": 60, "num_point": 25, "num_person": 2, "num_gcn_scales": 13,
         "num_g3d_scales": 6}  # fmt: skip
TINY = {**NTU60, "base_channels": 12}
TWO_PERSONS = "S001C003P008R002A058"


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial batch-norm parameters and statistics and graph residuals ``A_res`` (the
    defaults, 1, 0 and about 1e-6, would hide mistakes in them)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        randomise_batchnorm(model, g)
        for name, param in model.named_parameters():
            if name.endswith("A_res"):
                param.copy_(torch.rand(param.shape, generator=g) * 0.2 - 0.1)
    return model.eval()


def reference(args: dict) -> ref.Model:
    return ref.Model(
        args["num_class"], args["num_point"], args["num_person"], args["num_gcn_scales"],
        args["num_g3d_scales"], args.get("layout", "ntu-rgb+d"), c1=args.get("base_channels", 96),
    )  # fmt: skip


def real_sample(frames: int = 64) -> torch.Tensor:
    """The two-person NTU sample as the pipeline stores it, ``(1, 3, frames, 25, 2)``."""
    path = realdata("ntu60", "skeletons", f"{TWO_PERSONS}.skeleton")
    dataset = get_dataset("ntu60")
    raw = dataset.read_skeleton({"sample": TWO_PERSONS, "skeleton_path": path})
    bodies = fit_frames(select_bodies(raw.joints, dataset.max_bodies), dataset.max_frames)
    block = pre_normalize(bodies[None])  # (1, M, T, V, C)
    x = torch.from_numpy(block.transpose(0, 4, 2, 3, 1).copy())[:, :, :frames]
    assert x[..., 1].abs().sum() > 0  # the second person is there
    return x


@pytest.mark.realdata
def test_released_configuration_matches_the_reference_on_real_skeletons():
    x = real_sample()
    one_person = x.clone()
    one_person[..., 1] = 0
    original = randomise(reference(NTU60))
    ours = MSG3D(**NTU60).eval()
    ours.load_state_dict(original.state_dict(), strict=True)
    outputs = []
    with torch.no_grad():
        for sample in (x, one_person):
            expected = original(sample)
            torch.testing.assert_close(ours(sample), expected, rtol=1e-4, atol=1e-5)
            outputs.append(expected)
    assert not torch.allclose(*outputs)  # the second person matters


def test_parameter_count_is_the_originals():
    model = MSG3D(**NTU60)
    assert sum(p.numel() for p in model.parameters()) == 3_194_595
    assert sum(p.numel() for p in reference(NTU60).parameters()) == 3_194_595


@pytest.mark.parametrize("layout", ["ntu-rgb+d", "ucla"])
def test_graphs_are_the_originals_and_not_saved(layout):
    joints = get_layout(layout).num_joints
    np.testing.assert_array_equal(
        binary_adjacency(get_layout(layout)), ref.binary_adjacency(layout)
    )
    args = {**TINY, "num_point": joints, "layout": layout}
    ours, original = MSG3D(**args), reference(args)
    # every normalised scale matrix, element for element
    pairs = [(ours.sgcn2[0].A_scales, original.sgcn2[0].A_powers)] + [
        (ours.gcn3d2.gcn3d[i].gcn3d[1].A_scales, original.gcn3d2.gcn3d[i].gcn3d[1].A_scales)
        for i in range(2)
    ]
    for a, b in pairs:
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    graphs = {name for name, _ in ours.named_buffers() if "A_scales" in name}
    assert len(graphs) == 9  # 3 spatial, 6 spatio-temporal
    assert not graphs & set(ours.state_dict())


def test_state_dict_keys_and_shapes_are_the_originals():
    ours, original = MSG3D(**NTU60).state_dict(), reference(NTU60).state_dict()
    assert list(ours) == list(original)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in original.items()}


def test_build_model_round_trip(tmp_path):
    model = randomise(build_model("msg3d", TINY), seed=1)
    torch.save(
        {"model": "msg3d", "model_args": TINY, "state": model.state_dict()}, tmp_path / "m.pt"
    )
    saved = torch.load(tmp_path / "m.pt")
    loaded = build_model(saved["model"], saved["model_args"]).eval()
    loaded.load_state_dict(saved["state"], strict=True)
    x = torch.randn(1, 3, 12, 25, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


def test_ucla_layout_builds_and_runs():
    args = {**TINY, "num_class": 10, "num_point": 20, "layout": "ucla"}
    ours, original = MSG3D(**args), randomise(reference(args))
    ours.load_state_dict(original.state_dict(), strict=True)
    x = torch.randn(2, 3, 20, 20, 2)
    with torch.no_grad():
        out = ours.eval()(x)
        torch.testing.assert_close(out, original(x), rtol=1e-4, atol=1e-5)
    assert out.shape == (2, 10)


def test_wrong_arguments_are_errors():
    with pytest.raises(ValueError, match="num_point 25: layout 'ucla' has 20"):
        MSG3D(**{**NTU60, "layout": "ucla"})
    with pytest.raises(ValueError, match="multiple of 6"):
        MSG3D(**{**NTU60, "base_channels": 16})


def test_training_step_matches_the_reference_and_reaches_every_parameter():
    """Train-mode forward and backward: the same loss, gradients and batch-norm statistics
    as the reference (the rewritten layers update the original modules' buffers). In
    float64: in float32 rounding alone moves some gradients of either model by a few %."""
    original = randomise(reference(TINY)).double().train()
    ours = MSG3D(**TINY).double()
    ours.load_state_dict(original.state_dict(), strict=True)
    ours.train()
    x = torch.randn(3, 3, 16, 25, 2, dtype=torch.float64)
    labels = torch.tensor([0, 5, 59])
    losses = []
    for model in (original, ours):
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-9, atol=0)
    expected = dict(original.named_parameters())
    for name, param in ours.named_parameters():
        assert param.grad is not None, name
        # a convolution's bias just before a batch norm has a gradient of exactly zero in
        # exact arithmetic; in floating point it comes out 0 or about 1e-17, run to run
        assert param.grad.abs().sum() > 0 or name.endswith(".bias"), name
        torch.testing.assert_close(param.grad, expected[name].grad, rtol=1e-6, atol=1e-12)
    for name, value in original.state_dict().items():
        torch.testing.assert_close(ours.state_dict()[name], value, rtol=1e-9, atol=1e-12)
