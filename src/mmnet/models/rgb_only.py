"""The paper's RGB-only baseline (spec §5.4; the original's ``net/cnn.py``): a ResNet-18 on
the five-frame ROI tile, without the skeleton attention of :class:`mmnet.models.MMNet`.

It sees exactly the tiles the rgb stream sees, so ``rgb`` against ``rgb_plain`` measures what
the skeleton attention adds (the paper's ablation). The state dict is the original's
(``resnet.*``, torchvision's names inside), so its released ``cnn.py`` weights load.
"""

from __future__ import annotations

from torch import Tensor, nn

from mmnet.models.resnet import ResNet18


class RGBOnly(nn.Module):
    """``forward(x_rgb=...)`` on normalised ``(N, 3, 225, 45 * K)`` tiles -> ``(N, num_class)``.

    Other inputs (skeletons, attention statistics) are accepted and ignored, so it takes the
    same batches as :class:`~mmnet.models.MMNet`.
    """

    def __init__(self, num_class: int = 60, temporal_rgb_frames: int = 5) -> None:
        super().__init__()
        self.temporal_rgb_frames = temporal_rgb_frames
        self.resnet = ResNet18(num_class)  # "resnet": the original's attribute name

    def forward(self, x_rgb: Tensor | None = None, **ignored: Tensor) -> Tensor:
        if x_rgb is None:
            raise ValueError("RGBOnly needs the ROI tiles x_rgb")
        return self.resnet(x_rgb)
