"""Models: the original ST-GCN (skeleton streams), the MMNet fusion model (RGB stream), the
RGB-only baseline (``rgb_plain``) and MS-G3D (a stronger skeleton model)."""

from __future__ import annotations

from torch import nn

from mmnet.models.mmnet import MMNet
from mmnet.models.msg3d import MSG3D
from mmnet.models.resnet import ResNet18
from mmnet.models.rgb_only import RGBOnly
from mmnet.models.stgcn import STGCN

MODELS: dict[str, type[nn.Module]] = {
    "stgcn": STGCN,
    "mmnet": MMNet,
    "msg3d": MSG3D,
    "rgb_only": RGBOnly,
}


def build_model(name: str, args: dict) -> nn.Module:
    """``MODELS[name](**args)``: how checkpoints rebuild the model they were saved from."""
    try:
        return MODELS[name](**args)
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known: {sorted(MODELS)}") from None


__all__ = ["MODELS", "MSG3D", "STGCN", "MMNet", "RGBOnly", "ResNet18", "build_model"]
