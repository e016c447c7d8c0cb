"""``pretrained_resnet: imagenet``: the torch hub cache, the real download code (over a
``file://`` URL), the hash check, and a clear stop before training when the file is missing."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from training_data import TINY_OPTIONS, FakeRoiStore

from mmnet.models import ResNet18
from mmnet.models import pretrained as pretrained_module
from mmnet.models.pretrained import (
    HubWeights,
    PretrainedWeightsError,
    resolve_pretrained_resnet,
    sha256_of,
)
from mmnet.train.job import TrainJob
from mmnet.train.options import TrainOptions
from mmnet.train.run import train_stream

FILENAME = "resnet18-f37072fd.pth"


@pytest.fixture
def weights_file(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A torchvision-keyed ResNet-18 state dict (1000 classes) written by the test."""
    torch.manual_seed(7)
    state = ResNet18(1000).state_dict()
    path = tmp_path / "elsewhere" / FILENAME
    path.parent.mkdir()
    torch.save(state, path)
    return path, state


@pytest.fixture
def hub(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache of the test's own."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch" / "hub" / "checkpoints"


def _use(monkeypatch, url: str, prefix: str) -> None:
    monkeypatch.setattr(pretrained_module, "IMAGENET_RESNET18", HubWeights(url, prefix))


def test_imagenet_weights_from_the_hub_cache_load_strictly(hub, weights_file, monkeypatch):
    path, state = weights_file
    hub.mkdir(parents=True)
    (hub / FILENAME).write_bytes(path.read_bytes())
    _use(monkeypatch, "file:///nowhere/" + FILENAME, sha256_of(path)[:8])
    resolved = resolve_pretrained_resnet("imagenet")
    assert resolved == hub / FILENAME
    model = ResNet18(10)
    model.load_pretrained(resolved)
    for key, value in model.state_dict().items():
        if not key.startswith("fc."):  # ImageNet's 1000-class head is not taken
            torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def test_missing_weights_are_downloaded_into_the_cache_and_checked(hub, weights_file, monkeypatch):
    path, _ = weights_file
    _use(monkeypatch, path.as_uri(), sha256_of(path)[:8])
    assert resolve_pretrained_resnet("imagenet") == hub / FILENAME
    assert (hub / FILENAME).read_bytes() == path.read_bytes()
    (hub / FILENAME).write_bytes(b"not the weights")
    with pytest.raises(ValueError, match=f"{FILENAME}: SHA-256 .* does not start with"):
        resolve_pretrained_resnet("imagenet")


def test_offline_without_the_file_stops_the_rgb_training_before_it_starts(
    hub, tiny, tmp_path, monkeypatch
):
    _use(monkeypatch, "file:///offline/" + FILENAME, "f37072fd")
    out = tmp_path / "rgb"
    job = TrainJob(
        dataset="tiny", kind="demo", protocol="xsub", stream="rgb",
        options=TrainOptions.from_dict({**TINY_OPTIONS, "pretrained_resnet": "imagenet"}),
        samples=str(tiny[0]),
        skeleton=str(tiny[1]), out_dir=str(out), roi="in memory",
        joint_model=str(tmp_path / "no-joint-model-needed-yet.pt"),
    )  # fmt: skip
    with pytest.raises(PretrainedWeightsError) as error:
        train_stream(job, threads=1, roi_store=FakeRoiStore(tiny[0]))
    message = str(error.value)
    assert str(hub / FILENAME) in message and "copy it to" in message
    assert not out.exists() or not any(out.iterdir())  # nothing written, nothing trained


def test_a_local_file_and_none(weights_file):
    path, _ = weights_file
    assert resolve_pretrained_resnet(str(path)) == path
    assert resolve_pretrained_resnet(None) is None
    with pytest.raises(FileNotFoundError, match=r"pretrained_resnet: '/no/such\.pth'"):
        resolve_pretrained_resnet("/no/such.pth")
