"""ResNet-18 in plain torch with torchvision's exact module names and initialisation.

torchvision cannot be installed beside the CPU torch used here (shared/spec/ENVIRONMENT.md
§1), so the RGB branch carries its own copy. Parameter and buffer names match
``torchvision.models.resnet18`` key for key (``conv1``, ``bn1``, ``layer{1..4}.{0,1}.*``,
``downsample.{0,1}``, ``fc``), so a torchvision weight file (e.g. the ImageNet
``resnet18-f37072fd.pth``) loads into it, and the original's fused checkpoints
(``resnet.*`` keys) load into :class:`mmnet.models.MMNet`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

#: ImageNet statistics of torchvision's Normalize, as the original uses (spec §4.4).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def normalize_rgb(tiles: Tensor) -> Tensor:
    """uint8 ``(N, 3, H, W)`` -> float, ``ToTensor`` (/255) then ImageNet ``Normalize``: the
    input the ImageNet-trained ResNet-18 expects (done on the training device)."""
    mean = torch.tensor(IMAGENET_MEAN, device=tiles.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=tiles.device).view(1, 3, 1, 1)
    return (tiles.float() / 255.0 - mean) / std


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with an identity (or 1x1 projection) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = (
            nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes)
            )
            if stride != 1 or in_planes != planes
            else None
        )

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """ResNet-18 classifier: ``(N, 3, H, W)`` images -> ``(N, num_classes)`` logits."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, padding=1)
        # "layer1".."layer4": torchvision's names, kept for weight compatibility
        self.layer1 = nn.Sequential(BasicBlock(64, 64), BasicBlock(64, 64))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)
        for module in self.modules():  # torchvision's initialisation
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))

    def load_pretrained(self, path: str | Path) -> None:
        """Load a local torchvision ResNet-18 weight file, all but ``fc`` (its classes are
        ImageNet's); the original did the same after downloading it at run time."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained ResNet-18 weights {str(path)!r} do not exist")
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        missing, unexpected = self.load_state_dict(state, strict=False)
        wrong = [k for k in missing if not k.startswith("fc.")] + list(unexpected)
        if wrong:
            raise ValueError(f"{path}: not a ResNet-18 state dict (mismatched keys {wrong[:5]})")
