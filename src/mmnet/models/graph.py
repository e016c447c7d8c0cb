"""ST-GCN adjacency tensors built from the skeleton layouts (spec §5.1).

The partition reproduces the original ``net/utils/graph.py`` literally, including its
quirk: hop distances are only computed up to ``max_hop`` (1), everything farther is
infinite, so almost every neighbour pair lands in the "close" partition and only pairs
next to the centre joint land in "further". Released checkpoints were trained with exactly
these matrices (they are the ``A`` buffer of the state dict), so they must not be "fixed".
"""

from __future__ import annotations

import numpy as np

from mmnet.skeleton.layouts import Layout, get_layout

STRATEGIES = ("spatial",)


def hop_distance(layout: Layout, max_hop: int = 1) -> np.ndarray:
    """``(V, V)`` hop counts between joints, ``inf`` beyond ``max_hop``."""
    v = layout.num_joints
    adjacency = np.eye(v)
    for child, parent in layout.edges:
        adjacency[child, parent] = adjacency[parent, child] = 1
    hop = np.full((v, v), np.inf)
    reach = [np.linalg.matrix_power(adjacency, d) > 0 for d in range(max_hop + 1)]
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    return hop


def spatial_adjacency(layout: Layout, max_hop: int = 1, dilation: int = 1) -> np.ndarray:
    """``(K, V, V)`` float32 partitions of the column-normalised adjacency ("spatial")."""
    hop = hop_distance(layout, max_hop)
    hops = range(0, max_hop + 1, dilation)
    adjacency = np.isin(hop, list(hops)).astype(np.float64)
    degree = adjacency.sum(axis=0)
    normalised = adjacency / np.where(degree > 0, degree, np.inf)  # A @ diag(1/degree)
    # [j, i] compares the centre distance of row joint j with that of column joint i
    to_centre = hop[:, layout.center]
    row_dist, col_dist = to_centre[:, None], to_centre[None, :]
    same = row_dist == col_dist  # inf == inf counts as equal, as in the original
    parts = []
    for h in hops:
        at_hop = np.where(hop == h, normalised, 0.0)
        root = np.where(same, at_hop, 0.0)
        if h == 0:
            parts.append(root)
            continue
        close = np.where(~same & (row_dist > col_dist), at_hop, 0.0)
        further = np.where(~same & (row_dist < col_dist), at_hop, 0.0)
        parts.extend([root + close, further])
    return np.stack(parts).astype(np.float32)


def adjacency(layout: str, strategy: str = "spatial", max_hop: int = 1, dilation: int = 1):
    """The ``A`` buffer of an ST-GCN built with ``graph_args`` (the original's keys)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"graph strategy {strategy!r} is not supported; use one of {STRATEGIES}")
    return spatial_adjacency(get_layout(layout), max_hop, dilation)
