"""Skeleton layouts: joint names and one parent table per layout.

Everything that depends on the skeleton topology derives from the parent table: the bone
stream (``joint - joint[parent]``) and the ST-GCN graph edges (``(v, parent[v])``). The
tables reproduce the original's lists (spec §2.6 and §5.1): for ``ntu-rgb+d`` the
2s-AGCN/MS-G3D bone pairs, whose non-self pairs are exactly the ST-GCN edge list; for
``ucla`` the parent of every joint in the ST-GCN ``ucla`` graph rooted at the shoulder
centre (the original has no N-UCLA bones; this is the spec's proposed table).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Layout:
    """A skeleton topology.

    Attributes:
        name: layout id used in configs and model ``graph_args`` (``ntu-rgb+d``, ``ucla``).
        joints: joint names, index = joint id (0-based).
        parents: ``parents[v]`` is the joint a bone of ``v`` hangs from; a joint that is its
            own parent gets a zero bone.
        center: the graph's centre joint for the ST-GCN spatial partition.
    """

    name: str
    joints: tuple[str, ...]
    parents: tuple[int, ...]
    center: int

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Undirected graph edges (child, parent), self-pairs left out."""
        return tuple((v, p) for v, p in enumerate(self.parents) if v != p)

    def index(self, name: str) -> int:
        return self.joints.index(name)


def _from_one_based(pairs: list[tuple[int, int]], n: int) -> tuple[int, ...]:
    parents = [-1] * n
    for child, parent in pairs:
        parents[child - 1] = parent - 1
    if -1 in parents:
        raise ValueError("every joint needs exactly one parent")
    return tuple(parents)


# Kinect v2 joint order, used by NTU RGB+D 60/120 and PKU-MMD (spec Appendix A.1).
KINECT_V2_JOINTS = (
    "SpineBase", "SpineMid", "Neck", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
    "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
)  # fmt: skip

# Kinect v1 joint order, used by N-UCLA (spec Appendix A.2); the first 20 names coincide
# with Kinect v2 except that v1 calls joints 0-2 HipCenter, Spine, ShoulderCenter.
KINECT_V1_JOINTS = (
    "HipCenter", "Spine", "ShoulderCenter", "Head",
    "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
    "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
    "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
    "HipRight", "KneeRight", "AnkleRight", "FootRight",
)  # fmt: skip

# fmt: off
NTU_RGBD = Layout(
    name="ntu-rgb+d",
    joints=KINECT_V2_JOINTS,
    # spec §2.6, 1-based (child, parent); (21, 21) gives SpineShoulder a zero bone.
    parents=_from_one_based(
        [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21),
         (10, 9), (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1),
         (18, 17), (19, 18), (20, 19), (22, 23), (21, 21), (23, 8), (24, 25), (25, 12)],
        25,
    ),
    center=20,
)

UCLA = Layout(
    name="ucla",
    joints=KINECT_V1_JOINTS,
    parents=_from_one_based(
        [(1, 2), (2, 3), (3, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9),
         (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17),
         (19, 18), (20, 19)],
        20,
    ),
    center=2,
)
# fmt: on

LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in (NTU_RGBD, UCLA)}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown skeleton layout {name!r}; known: {sorted(LAYOUTS)}") from None


def joint_to_bone(joint: np.ndarray, layout: Layout, joint_axis: int = -2) -> np.ndarray:
    """Bone vectors ``joint[v] - joint[parent[v]]`` along ``joint_axis``.

    Works on any array with the joint axis at ``joint_axis`` (``(C, T, V, M)`` samples use
    ``joint_axis=-2``); the result has the input's shape and dtype. Computed from the
    unmodified joints, as the original's ``gen_bone_data.py`` does (spec §2.6).
    """
    parents = np.asarray(layout.parents)
    return joint - np.take(joint, parents, axis=joint_axis)
