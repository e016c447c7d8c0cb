"""Independent, deliberately plain re-implementations of the original's models.

Written from the spec (§5.1-§5.3) in the original's style: the graph partition with nested
loops, ST-GCN modules with lambda residuals and the einsum graph convolution, and the fused
forward pass that moves the intensities to NumPy and builds the weight map with
per-sample Python loops and ``np.partition``. Tests use them as oracles for ``mmnet.models``;
``bench/train_step.py`` uses them as the speed baseline. Not imported by the package.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

NTU_EDGES_1B = [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
                (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
                (18, 17), (19, 18), (20, 19), (22, 23), (23, 8), (24, 25), (25, 12)]  # fmt: skip
UCLA_EDGES_1B = [(1, 2), (2, 3), (3, 4), (3, 5), (5, 6), (6, 7), (7, 8), (3, 9), (9, 10),
                 (10, 11), (11, 12), (1, 13), (13, 14), (14, 15), (15, 16), (1, 17), (17, 18),
                 (18, 19), (19, 20)]  # fmt: skip
LAYOUTS = {"ntu-rgb+d": (25, NTU_EDGES_1B, 21 - 1), "ucla": (20, UCLA_EDGES_1B, 3 - 1)}


class Graph:
    def __init__(self, layout="ntu-rgb+d", strategy="spatial", max_hop=1, dilation=1):
        self.num_node, edges, self.center = LAYOUTS[layout]
        self.edge = [(i, i) for i in range(self.num_node)] + [(i - 1, j - 1) for i, j in edges]
        self.hop_dis = self.get_hop_distance(max_hop)
        self.get_adjacency(strategy, max_hop, dilation)

    def get_hop_distance(self, max_hop):
        A = np.zeros((self.num_node, self.num_node))
        for i, j in self.edge:
            A[j, i] = 1
            A[i, j] = 1
        hop_dis = np.zeros((self.num_node, self.num_node)) + np.inf
        transfer_mat = [np.linalg.matrix_power(A, d) for d in range(max_hop + 1)]
        arrive_mat = np.stack(transfer_mat) > 0
        for d in range(max_hop, -1, -1):
            hop_dis[arrive_mat[d]] = d
        return hop_dis

    def get_adjacency(self, strategy, max_hop, dilation):
        valid_hop = range(0, max_hop + 1, dilation)
        adjacency = np.zeros((self.num_node, self.num_node))
        for hop in valid_hop:
            adjacency[self.hop_dis == hop] = 1
        Dl = np.sum(adjacency, 0)
        Dn = np.zeros((self.num_node, self.num_node))
        for i in range(self.num_node):
            if Dl[i] > 0:
                Dn[i, i] = Dl[i] ** (-1)
        normalize_adjacency = np.dot(adjacency, Dn)
        assert strategy == "spatial"
        A = []
        for hop in valid_hop:
            a_root = np.zeros((self.num_node, self.num_node))
            a_close = np.zeros((self.num_node, self.num_node))
            a_further = np.zeros((self.num_node, self.num_node))
            for i in range(self.num_node):
                for j in range(self.num_node):
                    if self.hop_dis[j, i] == hop:
                        if self.hop_dis[j, self.center] == self.hop_dis[i, self.center]:
                            a_root[j, i] = normalize_adjacency[j, i]
                        elif self.hop_dis[j, self.center] > self.hop_dis[i, self.center]:
                            a_close[j, i] = normalize_adjacency[j, i]
                        else:
                            a_further[j, i] = normalize_adjacency[j, i]
            if hop == 0:
                A.append(a_root)
            else:
                A.append(a_root + a_close)
                A.append(a_further)
        self.A = np.stack(A)


class ConvTemporalGraphical(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size):
        super().__init__()
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(in_channels, out_channels * kernel_size, kernel_size=(1, 1))

    def forward(self, x, A):
        x = self.conv(x)
        n, kc, t, v = x.size()
        x = x.view(n, self.kernel_size, kc // self.kernel_size, t, v)
        x = torch.einsum("nkctv,kvw->nctw", (x, A))
        return x.contiguous(), A


class st_gcn(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size, stride=1, dropout=0, residual=True):
        super().__init__()
        padding = ((kernel_size[0] - 1) // 2, 0)
        self.gcn = ConvTemporalGraphical(in_channels, out_channels, kernel_size[1])
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, (kernel_size[0], 1), (stride, 1), padding),
            nn.BatchNorm2d(out_channels),
            nn.Dropout(dropout, inplace=True),
        )
        if not residual:
            self.residual = lambda x: 0
        elif (in_channels == out_channels) and (stride == 1):
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1)),
                nn.BatchNorm2d(out_channels),
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x, A):
        res = self.residual(x)
        x, A = self.gcn(x, A)
        x = self.tcn(x) + res
        return self.relu(x), A


class Model(nn.Module):
    """The original ``net.gcn.Model``."""

    def __init__(self, in_channels, num_class, graph_args, edge_importance_weighting, **kwargs):
        super().__init__()
        self.graph = Graph(**graph_args)
        A = torch.tensor(self.graph.A, dtype=torch.float32, requires_grad=False)
        self.register_buffer("A", A)
        spatial_kernel_size = A.size(0)
        temporal_kernel_size = 9
        kernel_size = (temporal_kernel_size, spatial_kernel_size)
        self.data_bn = nn.BatchNorm1d(in_channels * A.size(1))
        kwargs0 = {k: v for k, v in kwargs.items() if k != "dropout"}
        self.st_gcn_networks = nn.ModuleList(
            (
                st_gcn(in_channels, 64, kernel_size, 1, residual=False, **kwargs0),
                st_gcn(64, 64, kernel_size, 1, **kwargs),
                st_gcn(64, 64, kernel_size, 1, **kwargs),
                st_gcn(64, 64, kernel_size, 1, **kwargs),
                st_gcn(64, 128, kernel_size, 2, **kwargs),
                st_gcn(128, 128, kernel_size, 1, **kwargs),
                st_gcn(128, 128, kernel_size, 1, **kwargs),
                st_gcn(128, 256, kernel_size, 2, **kwargs),
                st_gcn(256, 256, kernel_size, 1, **kwargs),
                st_gcn(256, 256, kernel_size, 1, **kwargs),
            )
        )
        if edge_importance_weighting:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones(self.A.size())) for i in self.st_gcn_networks]
            )
        else:
            self.edge_importance = [1] * len(self.st_gcn_networks)
        self.fcn = nn.Conv2d(256, num_class, kernel_size=1)

    def _trunk(self, x):
        N, C, T, V, M = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous()
        x = x.view(N * M, V * C, T)
        x = self.data_bn(x)
        x = x.view(N, M, V, C, T)
        x = x.permute(0, 1, 3, 4, 2).contiguous()
        x = x.view(N * M, C, T, V)
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance, strict=True):
            x, _ = gcn(x, self.A * importance)
        return x

    def forward(self, x):
        N, M = x.size(0), x.size(4)
        x = self._trunk(x)
        x = F.avg_pool2d(x, x.size()[2:])
        x = x.view(N, M, -1, 1, 1).mean(dim=1)
        x = self.fcn(x)
        return x.view(x.size(0), -1)

    def extract_feature(self, x):
        N, M = x.size(0), x.size(4)
        x = self._trunk(x)
        _, c, t, v = x.size()
        feature = x.view(N, M, c, t, v).permute(0, 2, 3, 4, 1)
        x = self.fcn(x)
        output = x.view(N, M, -1, t, v).permute(0, 2, 3, 4, 1)
        return output, feature


def original_weight_map(feature: torch.Tensor, k: int, frames: int = 5) -> np.ndarray:
    """The original ``net/mmn.py`` weight map ``(N, 1, 225, 45*frames)`` from block-9
    features ``(N, C, T', V, M)``: NumPy, batch-wide min-max, per-sample loops."""
    intensity_s = ((feature * feature).sum(dim=1)) ** 0.5
    intensity_s = intensity_s.cpu().detach().numpy()
    feature_s = np.abs(intensity_s)
    feature_s = 255 * (feature_s - np.min(feature_s)) / (np.max(feature_s) - np.min(feature_s))
    N, _, _, M = feature_s.shape
    weight = np.full((N, 1, 225, 45 * frames), 0)  # an integer array: assignment truncates
    for n in range(N):
        if M > 1 and feature_s[n, :, :, 0].mean(1).mean(0) <= feature_s[n, :, :, 1].mean(1).mean(0):
            m = 1
        else:
            m = 0
        for j, v in enumerate([3, 11, 7, 18, 14]):
            feature = feature_s[n, :, v, m]
            temp = np.partition(-feature, k)
            weight[n, 0, 45 * j : 45 * (j + 1), :] = -temp[:k].mean()
    return weight


class OriginalFused(nn.Module):
    """The original fused forward pass: ST-GCN features with autograd on, NumPy attention,
    the weight map copied back to the device, then the ResNet."""

    def __init__(self, stgcn: nn.Module, resnet: nn.Module, k: int = 15, frames: int = 5):
        super().__init__()
        self.stgcn, self.resnet, self.k, self.frames = stgcn, resnet, k, frames

    def forward(self, x_skeleton, x_rgb):
        _, feature = self.stgcn.extract_feature(x_skeleton)
        weight = original_weight_map(feature, self.k, self.frames)
        weight = torch.from_numpy(weight).float().to(x_rgb.device) / 127
        return self.resnet(x_rgb * weight)
