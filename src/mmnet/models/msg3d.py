"""MS-G3D (Liu et al., CVPR 2020), our implementation of the authors' ``model/msg3d.py``.

Three stages; each adds a spatial pathway (``sgcn``: multi-scale graph convolution, then two
multi-scale temporal convolutions) and a spatio-temporal one (``gcn3d``: graph convolutions
over windows of 3 and 5 frames, summed), applies ReLU, then one more temporal convolution
(``tcn``). Widths c, 2c, 4c (c = ``base_channels``, 96 in the original); stages 2 and 3
halve the frame rate.

Checkpoints: parameter and buffer names and shapes are the original's (``data_bn``,
``gcn3d{1,2,3}.gcn3d.{0,1}.gcn3d.1.A_res``, ``.out_conv``, ``sgcn{i}.0.mlp.layers.0``,
``sgcn{i}.1.branches.{0-5}``, ``tcn{i}``, ``fc``, ...), so the authors' released weights load
with ``strict=True``. The normalised graph matrices are not in the original's state dict and
are non-persistent buffers here. Modules whose forward is rewritten below keep the
original's layers only as holders of those weights.

Speed: the original's layout is ``(N, C, T, V)``. Here activations are ``(N, C, V, T)``
(frames last), which turns every graph operation into a plain convolution or matrix product
with no unfold or permute copies: a spatio-temporal window aggregation is a 1-D convolution
over frames whose kernel is the window graph. Where the output is no wider than the input,
the per-scale 1x1 projection runs before the aggregation, on frames rather than on windows
(2.5x fewer multiply-adds for the 5-frame windows of stages 2-3). A multi-scale temporal
convolution runs the 1x1 convolutions of its six branches and its residual as one. The
arithmetic is the original's; results agree to float rounding (``tests/unit/test_msg3d.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmnet.skeleton.layouts import Layout, get_layout

WINDOW_SIZES = (3, 5)
TEMPORAL_DILATIONS = (1, 2, 3, 4)
TEMPORAL_KERNEL = 3
#: branches of a multi-scale temporal convolution: one per dilation, max-pool, strided 1x1
TEMPORAL_BRANCHES = len(TEMPORAL_DILATIONS) + 2


# --- graphs ---------------------------------------------------------------------------------


def binary_adjacency(layout: Layout) -> np.ndarray:
    """``(V, V)`` float32, 1 between joints joined by a bone, no self-loops (``A_binary``)."""
    adjacency = np.zeros((layout.num_joints,) * 2, dtype=np.float32)
    for child, parent in layout.edges:
        adjacency[child, parent] = adjacency[parent, child] = 1.0
    return adjacency


def window_adjacency(adjacency: np.ndarray, window_size: int) -> np.ndarray:
    """The graph over a window of frames: node ``(w, v)`` is joined to ``(w', u)`` in every
    frame pair when ``u`` is ``v`` or its neighbour (the original's tiled ``A + I``)."""
    with_self = adjacency + np.eye(len(adjacency), dtype=adjacency.dtype)
    return np.tile(with_self, (window_size, window_size))


def scale_adjacencies(adjacency: np.ndarray, num_scales: int) -> np.ndarray:
    """``(S, n, n)`` float32: scale k joins the nodes exactly k hops apart, plus self-loops,
    normalised as ``D^-1/2 A D^-1/2`` (the disentangled aggregation of MS-G3D)."""
    n = len(adjacency)
    step = (adjacency + np.eye(n)) > 0
    reached = np.eye(n, dtype=bool)  # within k hops
    scales = [np.eye(n, dtype=np.float32)]
    for _ in range(1, num_scales):
        within = (reached.astype(np.int64) @ step) > 0
        scales.append(((within & ~reached) | np.eye(n, dtype=bool)).astype(np.float32))
        reached = within
    # degrees in float32 and the products in float64, as the original: identical matrices
    inv_sqrt = np.power(np.stack(scales).sum(-1), np.float32(-0.5)).astype(np.float64)
    return (inv_sqrt[:, :, None] * np.stack(scales) * inv_sqrt[:, None, :]).astype(np.float32)


# --- layers ---------------------------------------------------------------------------------


class ConvBN(nn.Module):
    """Holder of a 1x1 convolution and its batch norm under the original's ``MLP`` key
    names (``layers.0``, ``layers.1``); :class:`MultiScaleGraphConv` uses the weights."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [nn.Conv2d(in_channels, out_channels, kernel_size=1), nn.BatchNorm2d(out_channels)]
        )


class MultiScaleGraphConv(nn.Module):
    """Graph convolution over S scales of a graph, each scale with its own channel mixing,
    then batch norm and ReLU. ``(N, C, V, T) -> (N, out, window_size * V, T')``.

    With ``window_size`` 1 it is the original's ``MultiScale_GraphConv`` (spatial graph,
    ``T' = T``); with ``window_size`` W it is its ``SpatialTemporal_MS_GCN`` on the windows
    of W frames that ``UnfoldTemporalWindows`` cut every ``window_stride`` frames (node
    ``w * V + v`` of the output is joint v at window position w). ``A_res`` is the learned
    residual added to the fixed matrices ``A_scales``, as in the original.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: np.ndarray,
        num_scales: int,
        window_size: int = 1,
        window_stride: int = 1,
    ) -> None:
        super().__init__()
        self.num_scales = num_scales
        self.window_size, self.window_stride = window_size, window_stride
        graph = window_adjacency(adjacency, window_size) if window_size > 1 else adjacency
        scales = torch.from_numpy(scale_adjacencies(graph, num_scales)).flatten(0, 1)
        self.register_buffer("A_scales", scales, persistent=False)  # (S * n, n), n = W * V
        self.A_res = nn.Parameter(torch.empty_like(scales).uniform_(-1e-6, 1e-6))
        self.mlp = ConvBN(num_scales * in_channels, out_channels)
        # project to out_channels per scale before aggregating when that is no wider: the
        # projection then runs once per frame instead of once per window position
        self.project_first = out_channels <= in_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, v, t = x.shape
        s, w = self.num_scales, self.window_size
        conv, norm = self.mlp.layers
        out_c = conv.out_channels
        # A[s, (w, v), (k, u)]: weight of joint u at window position k for output node (w, v)
        graph = (self.A_scales + self.A_res).view(s, w * v, w, v)
        # the original's conv input channel is s * C + c: weight[o, s, c]
        mixing = conv.weight.view(out_c, s, c)
        if self.project_first:
            per_scale = F.conv2d(x, mixing.reshape(out_c * s, c, 1, 1))  # (N, O*S, V, T)
            kernel = graph.permute(1, 0, 3, 2).reshape(w * v, s * v, w)
            out = _conv_frames(per_scale.reshape(n * out_c, s * v, t), kernel, self.window_stride)
            out = out.view(n, out_c, w * v, -1) + conv.bias.view(1, -1, 1, 1)
        else:
            kernel = graph.permute(0, 1, 3, 2).reshape(s * w * v, v, w)
            scaled = _conv_frames(x.reshape(n * c, v, t), kernel, self.window_stride)
            scaled = scaled.reshape(n, c * s, w * v, -1)
            out = F.conv2d(scaled, mixing.transpose(1, 2).reshape(out_c, c * s, 1, 1), conv.bias)
        return F.relu(norm(out), inplace=True)


def _conv_frames(x: Tensor, kernel: Tensor, stride: int) -> Tensor:
    """``conv1d`` of ``(B, I, T)`` over frames, same padding; a one-frame kernel runs as a
    batched matrix product instead (about 2x faster on CPU)."""
    if kernel.shape[-1] == 1 and stride == 1:
        return torch.bmm(kernel[..., 0].expand(len(x), -1, -1), x)
    return F.conv1d(x, kernel, stride=stride, padding=kernel.shape[-1] // 2)


class TemporalConv(nn.Module):
    """A temporal convolution and its batch norm on ``(N, C, V, T)`` (the original's
    ``conv``, ``bn``, whose kernel ``(K, 1)`` runs along the frames, the last axis here)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.stride, self.dilation = stride, dilation
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=(kernel_size, 1))
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        out_c, in_c, k, _ = self.conv.weight.shape
        weight = self.conv.weight.view(out_c, in_c, 1, k)
        padding = (k - 1) // 2 * self.dilation
        out = F.conv2d(
            x, weight, self.conv.bias, (1, self.stride), (0, padding), (1, self.dilation)
        )
        return self.bn(out)


class MultiScaleTemporalConv(nn.Module):
    """The original's ``MultiScale_TemporalConv`` on ``(N, C, V, T)``: six branches of
    ``out_channels / 6`` channels (a 1x1 conv, then a kernel-3 temporal conv of dilation 1,
    2, 3 or 4; a 1x1 conv then a 3-frame max-pool; a strided 1x1 conv), concatenated, plus a
    residual, then ReLU (``relu=False``: none).

    The branches keep the original's modules (``branches.{i}.{j}``), but all their 1x1
    convolutions (the residual's included) run as one convolution.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, relu: bool = True
    ) -> None:
        super().__init__()
        if out_channels % TEMPORAL_BRANCHES:
            raise ValueError(f"out_channels {out_channels} is not a multiple of 6 branches")
        self.stride, self.relu = stride, relu
        width = out_channels // TEMPORAL_BRANCHES

        def conv_bn() -> list[nn.Module]:
            return [nn.Conv2d(in_channels, width, kernel_size=1), nn.BatchNorm2d(width)]

        # weightless layers (ReLU, max-pool) are Identity placeholders that keep the
        # original's indices: dilated branches (0, 1, 3), pooled (0, 1, 4), strided (0, 1)
        dilated = [
            nn.Sequential(
                *conv_bn(), nn.Identity(), TemporalConv(width, width, TEMPORAL_KERNEL, stride, d)
            )
            for d in TEMPORAL_DILATIONS
        ]
        pooled = nn.Sequential(*conv_bn(), nn.Identity(), nn.Identity(), nn.BatchNorm2d(width))
        self.branches = nn.ModuleList([*dilated, pooled, nn.Sequential(*conv_bn())])
        self.residual = (
            None
            if in_channels == out_channels and stride == 1
            else TemporalConv(in_channels, out_channels, 1, stride)
        )

    def forward(self, x: Tensor) -> Tensor:
        pairs = [(branch[0], branch[1]) for branch in self.branches]
        if self.residual is not None:
            pairs.append((self.residual.conv, self.residual.bn))
        convs, norms = zip(*pairs, strict=True)
        # every 1x1 convolution in one; with a stride, the last branch's and the residual's
        # only on every stride-th frame
        if self.stride == 1:
            parts = _conv1x1(x, convs)
        else:
            full_rate = TEMPORAL_BRANCHES - 1
            parts = _conv1x1(x, convs[:full_rate]) + _conv1x1(x, convs[full_rate:], self.stride)
        parts = [norm(part) for norm, part in zip(norms, parts, strict=True)]
        *to_dilate, to_pool, skip = parts[:TEMPORAL_BRANCHES]
        residual = parts[TEMPORAL_BRANCHES] if self.residual is not None else x

        temporal = [branch[3] for branch in self.branches[: len(TEMPORAL_DILATIONS)]]
        dilated = [conv(F.relu(part)) for conv, part in zip(temporal, to_dilate, strict=True)]
        pooled = F.max_pool2d(F.relu(to_pool), (1, 3), (1, self.stride), (0, 1))
        out = torch.cat([*dilated, self.branches[-2][4](pooled), skip], dim=1) + residual
        return F.relu(out, inplace=True) if self.relu else out


def _conv1x1(x: Tensor, convs: Sequence[nn.Conv2d], stride: int = 1) -> tuple[Tensor, ...]:
    """The 1x1 convolutions ``convs`` of every ``stride``-th frame of ``x`` run as one; their
    outputs."""
    weight = torch.cat([conv.weight for conv in convs])
    out = F.conv2d(x, weight, torch.cat([conv.bias for conv in convs]), stride=(1, stride))
    return out.split([conv.out_channels for conv in convs], dim=1)


class G3DPathway(nn.Module):
    """One window size of the spatio-temporal pathway (the original's ``MS_G3D``): a
    multi-scale graph convolution over windows of ``window_size`` frames to
    ``hidden_channels``, then ``out_conv`` collapses each window, then batch norm (no ReLU).
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        adjacency: np.ndarray,
        num_scales: int,
        window_size: int,
        window_stride: int,
    ) -> None:
        super().__init__()
        # Checkpoint keys are ``gcn3d.1.*``: the original's Sequential held its (weightless)
        # window unfolding at index 0; here the graph convolution cuts its own windows.
        self.gcn3d = nn.Sequential(
            nn.Identity(),
            MultiScaleGraphConv(
                in_channels, hidden_channels, adjacency, num_scales, window_size, window_stride
            ),
        )
        self.out_conv = nn.Conv3d(hidden_channels, out_channels, kernel_size=(1, window_size, 1))
        self.out_bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: Tensor) -> Tensor:
        n, _, v, _ = x.shape
        windows = self.gcn3d(x)  # (N, hidden, W * V, T')
        hidden, w = self.out_conv.in_channels, self.out_conv.kernel_size[1]
        # out_conv mixes (channel, window position) at each joint and window: a 1x1 conv
        # on channels e * W + w, which is how the windows lie in memory
        weight = self.out_conv.weight.reshape(self.out_conv.out_channels, hidden * w, 1, 1)
        out = F.conv2d(windows.view(n, hidden * w, v, -1), weight, self.out_conv.bias)
        return self.out_bn(out)


class MultiWindowG3D(nn.Module):
    """The spatio-temporal pathway: the sum of one :class:`G3DPathway` per window size."""

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        adjacency: np.ndarray,
        num_scales: int,
        window_stride: int,
    ) -> None:
        super().__init__()
        self.gcn3d = nn.ModuleList(
            G3DPathway(
                in_channels, hidden_channels, out_channels, adjacency, num_scales, size,
                window_stride,
            )
            for size in WINDOW_SIZES
        )  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return sum(pathway(x) for pathway in self.gcn3d)


class MSG3D(nn.Module):
    """MS-G3D over ``(N, C, T, V, M)`` skeletons; ``forward`` gives ``(N, num_class)`` logits.

    Args:
        num_class: classes of the ``fc`` head.
        num_point: joints V; must match ``layout``.
        num_person: persons M (``data_bn`` normalises each person's joints separately).
        num_gcn_scales: scales of the spatial graph convolutions (the original: 13 for NTU).
        num_g3d_scales: scales of the spatio-temporal ones (the original: 6 for NTU).
        layout: a name from :mod:`mmnet.skeleton.layouts` (``ntu-rgb+d``, ``ucla``).
        in_channels: coordinates per joint (3).
        base_channels: width of stage 1 (96 = the original; 2x and 4x follow). A multiple
            of 6; any other value gives a model that released weights do not fit.
    """

    def __init__(
        self,
        num_class: int,
        num_point: int,
        num_person: int,
        num_gcn_scales: int,
        num_g3d_scales: int,
        layout: str = "ntu-rgb+d",
        in_channels: int = 3,
        base_channels: int = 96,
    ) -> None:
        super().__init__()
        skeleton = get_layout(layout)
        if num_point != skeleton.num_joints:
            raise ValueError(f"num_point {num_point}: layout {layout!r} has {skeleton.num_joints}")
        if base_channels % TEMPORAL_BRANCHES:
            raise ValueError(f"base_channels {base_channels} is not a multiple of 6")
        adjacency = binary_adjacency(skeleton)
        self.data_bn = nn.BatchNorm1d(num_person * in_channels * num_point)
        c1, c2, c3 = base_channels, 2 * base_channels, 4 * base_channels

        def stage(c_in: int, c_out: int, stride: int, hidden: int) -> tuple[nn.Module, ...]:
            """(gcn3d, sgcn, tcn); both pathways' graph convolutions output ``hidden``."""
            return (
                MultiWindowG3D(c_in, hidden, c_out, adjacency, num_g3d_scales, stride),
                nn.Sequential(
                    MultiScaleGraphConv(c_in, hidden, adjacency, num_gcn_scales),
                    MultiScaleTemporalConv(hidden, c_out, stride),
                    MultiScaleTemporalConv(c_out, c_out, relu=False),
                ),
                MultiScaleTemporalConv(c_out, c_out),
            )

        # stage 1 widens to c1 in its graph convolutions, stages 2-3 after them
        self.gcn3d1, self.sgcn1, self.tcn1 = stage(in_channels, c1, 1, hidden=c1)
        self.gcn3d2, self.sgcn2, self.tcn2 = stage(c1, c2, 2, hidden=c1)
        self.gcn3d3, self.sgcn3, self.tcn3 = stage(c2, c3, 2, hidden=c2)
        self.fc = nn.Linear(c3, num_class)

    def forward(self, x: Tensor) -> Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2).reshape(n, m * v * c, t)  # channel (m, v, c), as original
        x = self.data_bn(x)
        x = x.view(n * m, v, c, t).transpose(1, 2).contiguous()  # (N*M, C, V, T)
        for gcn3d, sgcn, tcn in (
            (self.gcn3d1, self.sgcn1, self.tcn1),
            (self.gcn3d2, self.sgcn2, self.tcn2),
            (self.gcn3d3, self.sgcn3, self.tcn3),
        ):
            x = tcn(F.relu(sgcn(x) + gcn3d(x), inplace=True))
        x = x.mean(dim=(2, 3)).view(n, m, -1).mean(dim=1)  # pool joints and frames, then persons
        return self.fc(x)
