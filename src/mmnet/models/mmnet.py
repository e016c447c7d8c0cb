"""The MMNet fusion model: skeleton attention on the five-frame ROI, then a ResNet-18 (spec §5.3).

A frozen ST-GCN trained on the joint stream (``stgcn``) gives block-9 features
``F (N, C, T', V, M)``; their norm over C is a per-joint intensity ``I (N, T', V, M)``.
The intensity is min-max scaled to 0..255, one person is chosen per sample, and for each
of the 5 body parts (ROI rows: head, right hand, left hand, right ankle, left ankle) the
mean of its ``temporal_positions`` largest values over time becomes the weight of that
ROI row, truncated to an integer and divided by 127. The weighted ROI goes through the
ResNet-18 (``resnet``).

``attention`` chooses what the min-max scaling runs over:

* ``"original"``: the whole forward batch (all samples, frames, joints and persons), as
  the original does; a sample's weights therefore depend on what else is in its batch
  (and, under DataParallel/DDP, on the per-device sub-batch).
* ``"per_sample"``: each sample's own frames, joints and persons; the weights depend on
  that sample only. With a batch of one sample both modes agree.

Everything else is the original's arithmetic, quirks included: the person choice (person
0 if its mean scaled intensity is larger than person 1's, else person 1; always 0 with one
person), the integer truncation and the ``/127`` scale (weights lie in 0..255/127). One
deliberate difference: a constant intensity (max = min) divides by zero in the original and
gives an undefined weight; here it gives weight 0.

Because the scaling is monotonic and affine, everything the weights need is captured by
seven numbers per sample (:meth:`MMNet.attention_stats`: intensity min and max, and the
chosen person's five top-k means); training caches them once per sample when the skeleton
input is not augmented, so the frozen ST-GCN does not run on every step.

The ST-GCN is frozen properly: no gradient, eval mode even inside ``model.train()`` (its
dropout off and batch-norm statistics fixed). The original only detached its output, so its
dropout stayed active and its BN statistics drifted during fused training (spec §9.24).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmnet.models.resnet import ResNet18
from mmnet.models.stgcn import STGCN

#: Skeleton joint whose intensity weights each ROI row (Head, HandRight, HandLeft,
#: AnkleRight, AnkleLeft; the same indices in the Kinect v2 and v1 layouts).
BODY_PART_JOINTS = (3, 11, 7, 18, 14)
ATTENTION_MODES = ("original", "per_sample")
#: The ROI row weight is floor(0..255) / 127 in the original.
WEIGHT_RANGE, WEIGHT_SCALE = 255.0, 127.0


class MMNet(nn.Module):
    """Skeleton-guided RGB classifier; ``forward(x_skeleton, x_rgb)`` -> ``(N, num_class)``.

    Args:
        num_class: classes of both the ST-GCN head and the ResNet ``fc``.
        graph_args: the ST-GCN's graph (layout and strategy).
        temporal_positions: k, how many of the largest per-frame intensities are averaged.
        temporal_rgb_frames: K, frames (columns) of the ROI; ``x_rgb`` is
            ``(N, 3, 225, 45 * K)``.
        attention: ``"original"`` (batch-wide scaling) or ``"per_sample"``.
        dropout, base_channels: of the ST-GCN; must match the joint model loaded into it.
    """

    def __init__(
        self,
        num_class: int = 60,
        graph_args: dict | None = None,
        temporal_positions: int = 15,
        temporal_rgb_frames: int = 5,
        attention: str = "original",
        dropout: float = 0.5,
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, not {attention!r}")
        self.temporal_positions = int(temporal_positions)  # an int, unlike the original (§9.27)
        self.temporal_rgb_frames = temporal_rgb_frames
        self.attention = attention
        self.stgcn = STGCN(3, num_class, graph_args, True, dropout, base_channels)
        self.stgcn.requires_grad_(False)
        self.stgcn.eval()
        self.resnet = ResNet18(num_class)
        # a device-side index (not saved: the state dict stays the original's)
        self.register_buffer("part_joints", torch.tensor(BODY_PART_JOINTS), persistent=False)

    def train(self, mode: bool = True) -> MMNet:
        super().train(mode)
        self.stgcn.eval()  # frozen: never in training mode (see module docstring)
        return self

    @torch.no_grad()
    def attention_stats(self, x_skeleton: Tensor) -> Tensor:
        """``(N, 7)`` per-sample attention statistics of ``(N, 3, T, V, M)`` skeletons:
        intensity min, intensity max, and the chosen person's top-k temporal mean of the
        intensity at each of the 5 body-part joints (unscaled)."""
        _, feature = self.stgcn.extract_feature(x_skeleton)
        # The original's ((F * F).sum(1)) ** 0.5, but not through torch.sqrt or ** 0.5: on
        # CPU both run MKL's vectorised square root, whose first call in a process returned
        # one thread's share to about 12 bits in some launches, so rgb trainings did not
        # repeat (issue 18, docs/training.md "Determinism").
        intensity = torch.linalg.vector_norm(feature.float(), dim=1)  # (N, T', V, M)
        frames, persons = intensity.shape[1], intensity.shape[3]
        if frames < self.temporal_positions:
            raise ValueError(
                f"temporal_positions={self.temporal_positions} exceeds the {frames} frames "
                f"left after the ST-GCN (input frames / 4)"
            )
        flat = intensity.flatten(1)
        if persons > 1:  # the original compares persons 0 and 1 only; a tie picks person 1
            mean = intensity.mean(dim=(1, 2))
            person = (mean[:, 1] >= mean[:, 0]).long()
        else:
            person = torch.zeros(len(intensity), dtype=torch.long, device=intensity.device)
        parts = intensity.index_select(2, self.part_joints)  # (N, T', 5, M)
        index = person.view(-1, 1, 1, 1).expand(-1, frames, len(BODY_PART_JOINTS), 1)
        chosen = parts.gather(3, index).squeeze(3)  # (N, T', 5)
        top = chosen.topk(self.temporal_positions, dim=1).values.mean(dim=1)  # (N, 5)
        return torch.cat([flat.amin(1, keepdim=True), flat.amax(1, keepdim=True), top], dim=1)

    def part_weights(self, stats: Tensor) -> Tensor:
        """``(N, 5)`` ROI row weights from :meth:`attention_stats` rows of one batch."""
        low, high, top = stats[:, :1], stats[:, 1:2], stats[:, 2:]
        if self.attention == "original":  # min-max over the whole batch
            low, high = low.amin(), high.amax()
        span = high - low
        scaled = WEIGHT_RANGE * (top - low) / torch.where(span > 0, span, torch.ones_like(span))
        scaled = torch.where(span > 0, scaled, torch.zeros_like(scaled))
        return scaled.floor() / WEIGHT_SCALE  # floor = the original's int truncation (>= 0)

    def forward(
        self,
        x_skeleton: Tensor | None = None,
        x_rgb: Tensor | None = None,
        stats: Tensor | None = None,
    ) -> Tensor:
        """Scores ``(N, num_class)`` of ``(N, 3, T, V, M)`` skeletons and normalised
        ``(N, 3, 225, 45K)`` ROI tiles; precomputed ``stats`` replace the skeletons."""
        if x_rgb is None:
            raise ValueError("MMNet needs the ROI tiles x_rgb")
        if stats is None:
            if x_skeleton is None:
                raise ValueError("MMNet needs skeletons or their attention stats")
            stats = self.attention_stats(x_skeleton)
        weights = self.part_weights(stats.float())
        height = x_rgb.shape[2]
        if height % len(BODY_PART_JOINTS):
            raise ValueError(f"ROI height {height} is not a multiple of 5 body-part rows")
        rows = weights.repeat_interleave(height // len(BODY_PART_JOINTS), dim=1)  # (N, H)
        return self.resnet(x_rgb * rows[:, None, :, None].to(x_rgb.dtype))
