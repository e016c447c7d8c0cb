"""Plain re-implementation of the original MS-G3D (kenziyuliu/MS-G3D ``model/msg3d.py`` and
the modules it uses), the oracle of ``tests/unit/test_msg3d.py`` and the speed baseline of
``bench/train_step.py``. Not imported by the package.

It follows the original step by step: the same modules and attribute names, graph matrices
as plain attributes (so not in the state dict), ``nn.Unfold`` for the temporal windows, the
``'vu,nctu->nctv'`` aggregation followed by a permute, one module per temporal branch and
lambda residuals. Only the original's unused options are left out.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from reference_mmnet import NTU_EDGES_1B, UCLA_EDGES_1B
from torch import nn

GRAPHS = {"ntu-rgb+d": (25, NTU_EDGES_1B), "ucla": (20, UCLA_EDGES_1B)}


def binary_adjacency(layout):
    """The original's ``AdjMatrixGraph().A_binary``: symmetric, no self-loops, float32."""
    num_node, edges = GRAPHS[layout]
    A = np.zeros((num_node, num_node), dtype=np.float32)
    for i, j in edges:
        A[i - 1, j - 1] = 1.0
        A[j - 1, i - 1] = 1.0
    return A


def k_adjacency(A, k):
    """Nodes exactly ``k`` hops apart, plus self-loops (``tools.k_adjacency``, with_self)."""
    eye = np.eye(len(A), dtype=A.dtype)
    if k == 0:
        return eye
    within_k = np.minimum(np.linalg.matrix_power(A + eye, k), 1)
    within_k_minus_1 = np.minimum(np.linalg.matrix_power(A + eye, k - 1), 1)
    return within_k - within_k_minus_1 + eye


def normalize(A):
    """``D^-1/2 A D^-1/2`` with row degrees (``tools.normalize_adjacency_matrix``)."""
    scale = np.eye(len(A)) * np.power(A.sum(-1), -0.5)
    return (scale @ A @ scale).astype(np.float32)


def scale_stack(A, num_scales):
    return np.concatenate([normalize(k_adjacency(A, k)) for k in range(num_scales)])


class MLP(nn.Module):
    def __init__(self, in_channels, out_channels, relu=True):
        super().__init__()
        self.layers = nn.ModuleList(
            [
                nn.Conv2d(in_channels, out_channels, kernel_size=1),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True) if relu else nn.Identity(),
            ]
        )

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class MS_GCN(nn.Module):
    def __init__(self, num_scales, in_channels, out_channels, A_binary):
        super().__init__()
        self.num_scales = num_scales
        self.A_powers = torch.Tensor(scale_stack(A_binary, num_scales))
        self.A_res = nn.Parameter(torch.empty(self.A_powers.shape).uniform_(-1e-6, 1e-6))
        self.mlp = MLP(in_channels * num_scales, out_channels)

    def forward(self, x):
        N, C, T, V = x.shape
        A = self.A_powers.to(x.device).to(x.dtype) + self.A_res.to(x.dtype)
        support = torch.einsum("vu,nctu->nctv", A, x)
        support = support.view(N, C, T, self.num_scales, V)
        support = support.permute(0, 3, 1, 2, 4).contiguous().view(N, self.num_scales * C, T, V)
        return self.mlp(support)


class TemporalConv(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dilation=1):
        super().__init__()
        pad = (kernel_size + (kernel_size - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size=(kernel_size, 1),
            padding=(pad, 0),
            stride=(stride, 1),
            dilation=(dilation, 1),
        )
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return self.bn(self.conv(x))


class MS_TCN(nn.Module):
    def __init__(self, in_channels, out_channels, stride=1, dilations=(1, 2, 3, 4)):
        super().__init__()
        branch_channels = out_channels // (len(dilations) + 2)
        self.branches = nn.ModuleList()
        for dilation in dilations:
            self.branches.append(
                nn.Sequential(
                    nn.Conv2d(in_channels, branch_channels, kernel_size=1),
                    nn.BatchNorm2d(branch_channels),
                    nn.ReLU(inplace=True),
                    TemporalConv(branch_channels, branch_channels, 3, stride, dilation),
                )
            )
        self.branches.append(
            nn.Sequential(
                nn.Conv2d(in_channels, branch_channels, kernel_size=1),
                nn.BatchNorm2d(branch_channels),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(kernel_size=(3, 1), stride=(stride, 1), padding=(1, 0)),
                nn.BatchNorm2d(branch_channels),
            )
        )
        self.branches.append(
            nn.Sequential(
                nn.Conv2d(in_channels, branch_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(branch_channels),
            )
        )
        if in_channels == out_channels and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = TemporalConv(in_channels, out_channels, 1, stride)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        res = self.residual(x)
        outs = []
        for branch in self.branches:
            outs.append(branch(x))
        out = torch.cat(outs, dim=1)
        out += res
        return self.act(out)


class UnfoldTemporalWindows(nn.Module):
    def __init__(self, window_size, window_stride, window_dilation=1):
        super().__init__()
        self.window_size = window_size
        padding = (window_size + (window_size - 1) * (window_dilation - 1) - 1) // 2
        self.unfold = nn.Unfold(
            kernel_size=(window_size, 1),
            dilation=(window_dilation, 1),
            stride=(window_stride, 1),
            padding=(padding, 0),
        )

    def forward(self, x):
        N, C, _, V = x.shape
        x = self.unfold(x)
        x = x.view(N, C, self.window_size, -1, V).permute(0, 1, 3, 2, 4).contiguous()
        return x.view(N, C, -1, self.window_size * V)


class SpatialTemporal_MS_GCN(nn.Module):
    def __init__(self, in_channels, out_channels, A_binary, num_scales, window_size):
        super().__init__()
        self.num_scales = num_scales
        A_large = np.tile(
            A_binary + np.eye(len(A_binary), dtype=A_binary.dtype), (window_size,) * 2
        )
        self.A_scales = torch.Tensor(scale_stack(A_large, num_scales))
        self.A_res = nn.Parameter(torch.empty(self.A_scales.shape).uniform_(-1e-6, 1e-6))
        self.mlp = MLP(in_channels * num_scales, out_channels, relu=False)
        self.residual = lambda x: 0
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        N, C, T, V = x.shape
        A = self.A_scales.to(x.dtype).to(x.device) + self.A_res.to(x.dtype).to(x.device)
        res = self.residual(x)
        agg = torch.einsum("vu,nctu->nctv", A, x)
        agg = agg.view(N, C, T, self.num_scales, V)
        agg = agg.permute(0, 3, 1, 2, 4).contiguous().view(N, self.num_scales * C, T, V)
        out = self.mlp(agg)
        out += res
        return self.act(out)


class MS_G3D(nn.Module):
    def __init__(self, in_channels, out_channels, A_binary, num_scales, window_size, window_stride):
        super().__init__()
        self.window_size = window_size
        self.embed_channels_out = out_channels if in_channels == 3 else in_channels
        self.in1x1 = nn.Identity()
        self.gcn3d = nn.Sequential(
            UnfoldTemporalWindows(window_size, window_stride, 1),
            SpatialTemporal_MS_GCN(
                in_channels, self.embed_channels_out, A_binary, num_scales, window_size
            ),
        )
        self.out_conv = nn.Conv3d(
            self.embed_channels_out, out_channels, kernel_size=(1, window_size, 1)
        )
        self.out_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        N, _, _, V = x.shape
        x = self.in1x1(x)
        x = self.gcn3d(x)
        x = x.view(N, self.embed_channels_out, -1, self.window_size, V)
        x = self.out_conv(x).squeeze(dim=3)
        return self.out_bn(x)


class MultiWindow_MS_G3D(nn.Module):
    def __init__(self, in_channels, out_channels, A_binary, num_scales, window_stride):
        super().__init__()
        self.gcn3d = nn.ModuleList(
            [
                MS_G3D(in_channels, out_channels, A_binary, num_scales, size, window_stride)
                for size in (3, 5)
            ]
        )

    def forward(self, x):
        out_sum = 0
        for gcn3d in self.gcn3d:
            out_sum += gcn3d(x)
        return out_sum


class Model(nn.Module):
    """The original ``model.msg3d.Model``; ``graph`` is a layout name here, not a class path."""

    def __init__(
        self, num_class, num_point, num_person, num_gcn_scales, num_g3d_scales, graph, c1=96
    ):
        super().__init__()
        A_binary = binary_adjacency(graph)
        self.data_bn = nn.BatchNorm1d(num_person * 3 * num_point)
        c2 = c1 * 2
        c3 = c2 * 2

        self.gcn3d1 = MultiWindow_MS_G3D(3, c1, A_binary, num_g3d_scales, window_stride=1)
        self.sgcn1 = nn.Sequential(
            MS_GCN(num_gcn_scales, 3, c1, A_binary), MS_TCN(c1, c1), MS_TCN(c1, c1)
        )
        self.sgcn1[-1].act = nn.Identity()
        self.tcn1 = MS_TCN(c1, c1)

        self.gcn3d2 = MultiWindow_MS_G3D(c1, c2, A_binary, num_g3d_scales, window_stride=2)
        self.sgcn2 = nn.Sequential(
            MS_GCN(num_gcn_scales, c1, c1, A_binary), MS_TCN(c1, c2, stride=2), MS_TCN(c2, c2)
        )
        self.sgcn2[-1].act = nn.Identity()
        self.tcn2 = MS_TCN(c2, c2)

        self.gcn3d3 = MultiWindow_MS_G3D(c2, c3, A_binary, num_g3d_scales, window_stride=2)
        self.sgcn3 = nn.Sequential(
            MS_GCN(num_gcn_scales, c2, c2, A_binary), MS_TCN(c2, c3, stride=2), MS_TCN(c3, c3)
        )
        self.sgcn3[-1].act = nn.Identity()
        self.tcn3 = MS_TCN(c3, c3)

        self.fc = nn.Linear(c3, num_class)

    def forward(self, x):
        N, C, T, V, M = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(N, M * V * C, T)
        x = self.data_bn(x)
        x = x.view(N * M, V, C, T).permute(0, 2, 3, 1).contiguous()

        x = F.relu(self.sgcn1(x) + self.gcn3d1(x), inplace=True)
        x = self.tcn1(x)
        x = F.relu(self.sgcn2(x) + self.gcn3d2(x), inplace=True)
        x = self.tcn2(x)
        x = F.relu(self.sgcn3(x) + self.gcn3d3(x), inplace=True)
        x = self.tcn3(x)

        out = x.view(N, M, x.size(1), -1)
        out = out.mean(3)
        out = out.mean(1)
        return self.fc(out)
