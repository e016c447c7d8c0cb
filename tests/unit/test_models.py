"""Models against the original's definitions (tests/reference_mmnet.py) and the spec's checks."""

from __future__ import annotations

import numpy as np
import pytest
import reference_mmnet as ref
import torch
from training_data import randomise_batchnorm

from mmnet.models import STGCN, MMNet, ResNet18, build_model
from mmnet.models.graph import adjacency

NTU = {"layout": "ntu-rgb+d", "strategy": "spatial"}
UCLA = {"layout": "ucla", "strategy": "spatial"}


def randomise(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Non-trivial batch-norm parameters and statistics and edge importances (the default
    initialisation leaves them at 1 and 0), so that comparisons mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        randomise_batchnorm(model, g)
        for name, param in model.named_parameters():
            if "edge_importance" in name:
                param.copy_(torch.rand(param.shape, generator=g) + 0.5)
    return model.eval()


@pytest.mark.parametrize(("layout", "counts"), [("ntu-rgb+d", [25, 40, 8]), ("ucla", [20, 31, 7])])
def test_spatial_partition_matches_the_original(layout, counts):
    A = adjacency(layout)
    assert [int((a != 0).sum()) for a in A] == counts  # spec §5.1 checks
    np.testing.assert_allclose(A.sum(axis=(0, 1)), 1.0, rtol=1e-6)  # columns of An sum to 1
    np.testing.assert_array_equal(A, ref.Graph(layout).A.astype(np.float32))


def test_unknown_strategy_is_an_error():
    with pytest.raises(ValueError, match="strategy 'uniform'"):
        adjacency("ntu-rgb+d", strategy="uniform")


@pytest.mark.parametrize(
    ("graph", "classes", "params"), [(NTU, 60, 3_098_832), (UCLA, 10, 3_079_202)]
)
def test_parameter_counts_are_the_originals(graph, classes, params):
    assert sum(p.numel() for p in STGCN(3, classes, graph).parameters()) == params


@pytest.mark.parametrize(("graph", "joints", "persons"), [(NTU, 25, 2), (UCLA, 20, 1)])
def test_original_state_dict_loads_strictly_and_computes_the_same(graph, joints, persons):
    original = randomise(ref.Model(3, 10, graph, True, dropout=0.5))
    ours = STGCN(3, 10, graph).eval()
    ours.load_state_dict(original.state_dict(), strict=True)
    assert list(ours.state_dict()) == list(original.state_dict())  # same keys, same order
    x = torch.randn(2, 3, 16, joints, persons)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), original(x), rtol=1e-4, atol=1e-5)
        for a, b in zip(ours.extract_feature(x), original.extract_feature(x), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_state_dict_round_trip_through_a_file(tmp_path):
    model = randomise(STGCN(3, 60, NTU), seed=1)
    torch.save(model.state_dict(), tmp_path / "joint_model_stgcn.pt")
    loaded = STGCN(3, 60, NTU).eval()
    loaded.load_state_dict(torch.load(tmp_path / "joint_model_stgcn.pt"), strict=True)
    x = torch.randn(1, 3, 12, 25, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    ("graph", "joints", "persons", "frames"), [(NTU, 25, 2, 300), (UCLA, 20, 1, 192)]
)
def test_shapes(graph, joints, persons, frames):
    model = STGCN(3, 7, graph, base_channels=8).eval()
    x = torch.randn(2, 3, frames, joints, persons)
    with torch.no_grad():
        assert model(x).shape == (2, 7)
        output, feature = model.extract_feature(x)
    assert output.shape == (2, 7, frames // 4, joints, persons)  # 300 -> 75, 192 -> 48
    assert feature.shape == (2, 32, frames // 4, joints, persons)


BATCHNORM_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def test_resnet_has_torchvisions_state_dict_keys_and_geometry():
    expected = ["conv1.weight", *(f"bn1.{k}" for k in BATCHNORM_KEYS)]
    for layer in range(1, 5):
        for block in range(2):
            for part in ("conv1", "bn1", "conv2", "bn2"):
                if part.startswith("conv"):
                    expected.append(f"layer{layer}.{block}.{part}.weight")
                else:
                    expected += [f"layer{layer}.{block}.{part}.{k}" for k in BATCHNORM_KEYS]
            if layer > 1 and block == 0:
                expected.append(f"layer{layer}.0.downsample.0.weight")
                expected += [f"layer{layer}.0.downsample.1.{k}" for k in BATCHNORM_KEYS]
    expected += ["fc.weight", "fc.bias"]
    model = ResNet18(60)
    assert list(model.state_dict()) == expected and len(expected) == 122
    sizes = []
    for name in ("conv1", "maxpool", "layer1", "layer2", "layer3", "layer4"):
        getattr(model, name).register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    assert model.eval()(torch.randn(1, 3, 225, 225)).shape == (1, 60)
    assert sizes == [113, 57, 57, 29, 15, 8]  # spec §5.3 step 9


def test_resnet_loads_a_local_imagenet_file_except_fc(tmp_path):
    imagenet = randomise(ResNet18(1000), seed=2)
    torch.save(imagenet.state_dict(), tmp_path / "resnet18.pth")
    model = ResNet18(7)
    fc = model.fc.weight.clone()
    model.load_pretrained(tmp_path / "resnet18.pth")
    torch.testing.assert_close(model.conv1.weight, imagenet.conv1.weight)
    torch.testing.assert_close(model.layer4[1].bn2.running_var, imagenet.layer4[1].bn2.running_var)
    torch.testing.assert_close(model.fc.weight, fc)
    with pytest.raises(FileNotFoundError, match=r"nope\.pth"):
        model.load_pretrained(tmp_path / "nope.pth")


def fused_pair(attention: str, persons: int = 2, k: int = 3):
    """Our MMNet and the original's fused forward pass sharing the same weights."""
    graph = NTU if persons == 2 else UCLA
    ours = MMNet(num_class=7, graph_args=graph, temporal_positions=k, attention=attention)
    randomise(ours.stgcn, seed=3)
    randomise(ours.resnet, seed=4)
    original_stgcn = ref.Model(3, 7, graph, True, dropout=0.5).eval()
    original_stgcn.load_state_dict(ours.stgcn.state_dict())
    return ours.eval(), ref.OriginalFused(original_stgcn, ours.resnet, k=k).eval()


def test_original_attention_reproduces_the_originals_weight_map():
    ours, original = fused_pair("original")
    x, rgb = torch.randn(4, 3, 32, 25, 2), torch.randn(4, 3, 225, 225)
    x[1] *= 3  # samples on different scales: the batch-wide min-max matters
    x[2, :, :, :, 0] = 0  # and one whose person 0 is absent
    with torch.no_grad():
        _, feature = original.stgcn.extract_feature(x)
        expected = ref.original_weight_map(feature, k=3)[:, 0, ::45, 0] / 127  # (N, 5)
        weights = ours.part_weights(ours.attention_stats(x))
        np.testing.assert_array_equal(weights.numpy(), expected.astype(np.float32))
        torch.testing.assert_close(ours(x, rgb), original(x, rgb), rtol=1e-4, atol=1e-5)


def test_attention_modes_agree_on_a_batch_of_one_and_per_sample_ignores_the_batch():
    ours, _ = fused_pair("per_sample")
    x, rgb = torch.randn(3, 3, 32, 25, 2), torch.randn(3, 3, 225, 225)
    x[1] *= 5
    with torch.no_grad():
        alone = ours(x[:1], rgb[:1])
        in_batch = ours(x, rgb)[:1]
        ours.attention = "original"
        original_alone = ours(x[:1], rgb[:1])
        original_in_batch = ours(x, rgb)[:1]
    torch.testing.assert_close(alone, original_alone, rtol=0, atol=0)
    torch.testing.assert_close(in_batch, alone, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(original_in_batch, original_alone, atol=1e-3)  # batch-dependent


def test_cached_stats_give_the_same_scores_and_one_person_layouts_work():
    ours, _ = fused_pair("per_sample", persons=1)
    x, rgb = torch.randn(2, 3, 32, 20, 1), torch.randn(2, 3, 225, 225)
    with torch.no_grad():
        stats = ours.attention_stats(x)
        torch.testing.assert_close(ours(x_rgb=rgb, stats=stats), ours(x, rgb))
    assert stats.shape == (2, 7)
    with pytest.raises(ValueError, match="temporal_positions=9 exceeds the 8 frames"):
        MMNet(7, UCLA, temporal_positions=9).attention_stats(x)


def test_stgcn_stays_frozen_while_the_resnet_trains():
    model = MMNet(num_class=7, temporal_positions=2, base_channels=8)
    frozen = {k: v.clone() for k, v in model.stgcn.state_dict().items()}
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    assert not model.stgcn.training and model.resnet.training
    x, rgb = torch.randn(2, 3, 16, 25, 2), torch.randn(2, 3, 225, 225)
    torch.nn.functional.cross_entropy(model(x, rgb), torch.tensor([0, 1])).backward()
    optimizer.step()
    assert all(p.grad is None for p in model.stgcn.parameters())
    for key, value in model.stgcn.state_dict().items():
        torch.testing.assert_close(value, frozen[key], rtol=0, atol=0)  # BN statistics too
    assert model.resnet.conv1.weight.grad is not None


def test_build_model_names_the_unknown():
    assert isinstance(build_model("stgcn", {"num_class": 3, "base_channels": 4}), STGCN)
    with pytest.raises(KeyError, match="unknown model 'gcn'"):
        build_model("gcn", {})
