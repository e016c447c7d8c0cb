"""ST-GCN (Yan et al. 2018) exactly as the original MMNet ``net/gcn.py`` builds it (spec §5.2).

Attribute names (``data_bn``, ``st_gcn_networks.{i}.gcn.conv``, ``.tcn.{j}``,
``.residual``, ``edge_importance.{i}``, ``fcn``, buffer ``A``) are the original's so that
the authors' released checkpoints load with ``load_state_dict(strict=True)``; do not
rename them. ``base_channels`` (64 in the original) narrows the network for quick CPU
runs such as the demo; any other value gives a model that released weights do not fit.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from mmnet.models.graph import adjacency

TEMPORAL_KERNEL = 9
DEFAULT_GRAPH = {"layout": "ntu-rgb+d", "strategy": "spatial"}


class GraphConv(nn.Module):
    """Spatial graph convolution: a 1x1 conv to K partitions, then a sum over ``A[k]``.

    (The original's ``ConvTemporalGraphical``; its temporal options were never used.)
    """

    def __init__(self, in_channels: int, out_channels: int, partitions: int) -> None:
        super().__init__()
        self.partitions = partitions
        self.conv = nn.Conv2d(in_channels, out_channels * partitions, kernel_size=1)

    def forward(self, x: Tensor, A: Tensor) -> Tensor:
        x = self.conv(x)
        n, kc, t, v = x.shape
        x = x.view(n, self.partitions, kc // self.partitions, t, v)
        # One contraction over (partition, joint). Measured against a permute + matmul and a
        # per-partition batched matmul: with the learnable edge importance (A needs a
        # gradient) the einsum is as fast or faster on CPU, so it stays the original's.
        return torch.einsum("nkctv,kvw->nctw", x, A)


class Block(nn.Module):
    """One ST-GCN unit: graph conv, temporal conv (kernel 9), residual, ReLU.

    (The original's ``st_gcn``; ``tcn`` indices 0-4 are BN, ReLU, conv, BN, dropout.)
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        partitions: int,
        stride: int = 1,
        dropout: float = 0.0,
        residual: bool = True,
    ) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, partitions)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(
                out_channels,
                out_channels,
                (TEMPORAL_KERNEL, 1),
                (stride, 1),
                ((TEMPORAL_KERNEL - 1) // 2, 0),
            ),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor, A: Tensor) -> Tensor:
        res = 0 if self.residual is None else self.residual(x)
        return self.relu(self.tcn(self.gcn(x, A)) + res)


class STGCN(nn.Module):
    """Spatial-temporal graph network over ``(N, C, T, V, M)`` skeletons.

    Args:
        in_channels: coordinates per joint (3).
        num_class: classes of the ``fcn`` head.
        graph_args: ``{"layout": "ntu-rgb+d" | "ucla", "strategy": "spatial"}``.
        edge_importance_weighting: learn one ``(K, V, V)`` mask per block.
        dropout: dropout of blocks 1-9 (block 0 has none, as in the original).
        base_channels: width of the first stage (64 = the original; 128 and 256 follow).
    """

    def __init__(
        self,
        in_channels: int = 3,
        num_class: int = 60,
        graph_args: dict | None = None,
        edge_importance_weighting: bool = True,
        dropout: float = 0.5,
        base_channels: int = 64,
    ) -> None:
        super().__init__()
        A = torch.tensor(adjacency(**(graph_args or DEFAULT_GRAPH)), dtype=torch.float32)
        self.register_buffer("A", A)
        partitions, joints = A.shape[0], A.shape[1]
        self.data_bn = nn.BatchNorm1d(in_channels * joints)
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels
        # (in, out, temporal stride) per block; block 0 has no residual and no dropout
        plan = [(in_channels, c1, 1), (c1, c1, 1), (c1, c1, 1), (c1, c1, 1), (c1, c2, 2),
                (c2, c2, 1), (c2, c2, 1), (c2, c3, 2), (c3, c3, 1), (c3, c3, 1)]  # fmt: skip
        self.st_gcn_networks = nn.ModuleList(
            Block(i, o, partitions, s, dropout=dropout if b else 0.0, residual=b > 0)
            for b, (i, o, s) in enumerate(plan)
        )
        self.edge_importance = (
            nn.ParameterList(nn.Parameter(torch.ones_like(A)) for _ in plan)
            if edge_importance_weighting
            else None
        )
        self.fcn = nn.Conv2d(c3, num_class, kernel_size=1)
        self.out_channels = c3

    def _trunk(self, x: Tensor) -> Tensor:
        """``(N, C, T, V, M)`` -> block-9 features ``(N*M, C', T', V)``."""
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n * m, v * c, t)  # channel index = v * C + c
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for b, block in enumerate(self.st_gcn_networks):
            A = self.A if self.edge_importance is None else self.A * self.edge_importance[b]
            x = block(x, A)
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Class scores ``(N, num_class)`` (raw logits)."""
        n, m = x.shape[0], x.shape[-1]
        x = self._trunk(x)
        x = x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # pool (T', V), then persons
        return self.fcn(x[:, :, None, None]).flatten(1)

    def extract_feature(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(output, feature)``: per-position scores ``(N, num_class, T', V, M)`` and
        block-9 features ``(N, C', T', V, M)`` (no pooling), as the original returns them."""
        n, m = x.shape[0], x.shape[-1]
        x = self._trunk(x)
        _, c, t, v = x.shape
        feature = x.view(n, m, c, t, v).permute(0, 2, 3, 4, 1)
        output = self.fcn(x).view(n, m, -1, t, v).permute(0, 2, 3, 4, 1)
        return output, feature


def init_like_original(module: nn.Module) -> None:
    """The original's ``weights_init`` for skeleton training (apply with ``model.apply``):
    conv weights ~ N(0, 0.02) with zero bias, batch-norm weights ~ N(1, 0.02) with zero bias."""
    if isinstance(module, nn.Conv1d | nn.Conv2d):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm1d | nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
