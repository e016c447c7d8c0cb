"""Independent, deliberately plain re-implementations of the original's skeleton stage.

Rebuilt statement by statement from the original's text (bruceyo/MMNet @ 2055e5e
``tools/data_gen/{ntu60,pku,ucla}_gendata.py``, ``preprocess.py``, ``rotation.py``; bruceyo/TSMF
``tools/utils/skeleton_to_ntu_format.py``), in the original's style: a line-by-line reader
that builds per-frame dicts, and per-sample, per-person, per-frame, per-joint loops for
pre-normalisation. Tests use them as an oracle for the vectorised code in ``mmnet``;
``bench/parse_skeletons.py`` uses them as the speed baseline. Not imported by the package.
"""

from __future__ import annotations

import math

import numpy as np


def read_skeleton_dicts(path: str) -> dict:
    with open(path) as f:
        info = {"numFrame": int(f.readline()), "frameInfo": []}
        for _ in range(info["numFrame"]):
            frame = {"numBody": int(f.readline()), "bodyInfo": []}
            for _ in range(frame["numBody"]):
                keys = [
                    "bodyID", "clipedEdges", "handLeftConfidence", "handLeftState",
                    "handRightConfidence", "handRightState", "isResticted", "leanX", "leanY",
                    "trackingState",
                ]  # fmt: skip
                body = {k: float(v) for k, v in zip(keys, f.readline().split(), strict=True)}
                body["numJoint"] = int(f.readline())
                body["jointInfo"] = []
                for _ in range(body["numJoint"]):
                    jkeys = [
                        "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
                        "orientationW", "orientationX", "orientationY", "orientationZ",
                        "trackingState",
                    ]  # fmt: skip
                    joint = {k: float(v) for k, v in zip(jkeys, f.readline().split(), strict=True)}
                    body["jointInfo"].append(joint)
                frame["bodyInfo"].append(body)
            info["frameInfo"].append(frame)
    return info


def read_xyz(path: str, max_body: int = 4, num_joint: int = 25) -> np.ndarray:
    """(max_body, F, V, 3) float64, the m-th listed body of each frame in slot m."""
    info = read_skeleton_dicts(path)
    data = np.zeros((max_body, info["numFrame"], num_joint, 3))
    for n, frame in enumerate(info["frameInfo"]):
        for m, body in enumerate(frame["bodyInfo"]):
            for j, v in enumerate(body["jointInfo"]):
                if m < max_body and j < num_joint:
                    data[m, n, j, :] = [v["x"], v["y"], v["z"]]
    return data


def nonzero_std(s: np.ndarray) -> float:
    index = s.sum(-1).sum(-1) != 0
    s = s[index]
    if len(s) != 0:
        return s[:, :, 0].std() + s[:, :, 1].std() + s[:, :, 2].std()
    return 0


def select_two(data: np.ndarray, keep: int = 2) -> np.ndarray:
    energy = np.array([nonzero_std(x) for x in data])
    index = energy.argsort()[::-1][0:keep]
    return data[index]


def _rotation_matrix(axis, theta):
    if np.abs(axis).sum() < 1e-6 or np.abs(theta) < 1e-6:
        return np.eye(3)
    axis = np.asarray(axis)
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(theta / 2.0)
    b, c, d = -axis * math.sin(theta / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    )


def _angle_between(v1, v2):
    if np.abs(v1).sum() < 1e-6 or np.abs(v2).sum() < 1e-6:
        return 0
    v1_u = v1 / np.linalg.norm(v1)
    v2 = np.asarray(v2)
    v2_u = v2 / np.linalg.norm(v2)
    return np.arccos(np.clip(np.dot(v1_u, v2_u), -1.0, 1.0))


def pre_normalization(data: np.ndarray, zaxis=(0, 1), xaxis=(8, 4)) -> np.ndarray:
    """(N, C, T, V, M) -> same: ``tools/data_gen/preprocess.py``, statement by statement.

    Rebuilt from the original's text (bruceyo/MMNet @ 2055e5e): four passes, each over every
    sample; the z pass aligns ``joint_top - joint_bottom`` (``zaxis[1] - zaxis[0]``) and the x
    pass ``joint_rshoulder - joint_lshoulder`` (``xaxis[0] - xaxis[1]``, right minus left).
    """
    N, C, T, V, M = data.shape
    s = np.transpose(data, [0, 4, 2, 3, 1]).copy()  # N, C, T, V, M  to  N, M, T, V, C

    # pad the null frames with the previous frames
    for i_s, skeleton in enumerate(s):
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            if person[0].sum() == 0:
                index = person.sum(-1).sum(-1) != 0
                tmp = person[index].copy()
                person *= 0
                person[: len(tmp)] = tmp
            for i_f, frame in enumerate(person):
                if frame.sum() == 0:
                    if person[i_f:].sum() == 0:
                        rest = len(person) - i_f
                        num = int(np.ceil(rest / i_f))
                        pad = np.concatenate([person[0:i_f] for _ in range(num)], 0)[:rest]
                        s[i_s, i_p, i_f:] = pad
                        break

    # subtract the centre joint #1 of the first person
    for i_s, skeleton in enumerate(s):
        if skeleton.sum() == 0:
            continue
        main_body_center = skeleton[0][:, 1:2, :].copy()
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            mask = (person.sum(-1) != 0).reshape(T, V, 1)
            s[i_s, i_p] = (s[i_s, i_p] - main_body_center) * mask

    # hip (joint 0) -> spine (joint 1) of the first person parallel to the z axis
    for i_s, skeleton in enumerate(s):
        if skeleton.sum() == 0:
            continue
        joint_bottom = skeleton[0, 0, zaxis[0]]
        joint_top = skeleton[0, 0, zaxis[1]]
        axis = np.cross(joint_top - joint_bottom, [0, 0, 1])
        angle = _angle_between(joint_top - joint_bottom, [0, 0, 1])
        matrix_z = _rotation_matrix(axis, angle)
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            for i_f, frame in enumerate(person):
                if frame.sum() == 0:
                    continue
                for i_j, joint in enumerate(frame):
                    s[i_s, i_p, i_f, i_j] = np.dot(matrix_z, joint)

    # right shoulder (joint 8) minus left shoulder (joint 4) of the first person parallel to x
    for i_s, skeleton in enumerate(s):
        if skeleton.sum() == 0:
            continue
        joint_rshoulder = skeleton[0, 0, xaxis[0]]
        joint_lshoulder = skeleton[0, 0, xaxis[1]]
        axis = np.cross(joint_rshoulder - joint_lshoulder, [1, 0, 0])
        angle = _angle_between(joint_rshoulder - joint_lshoulder, [1, 0, 0])
        matrix_x = _rotation_matrix(axis, angle)
        for i_p, person in enumerate(skeleton):
            if person.sum() == 0:
                continue
            for i_f, frame in enumerate(person):
                if frame.sum() == 0:
                    continue
                for i_j, joint in enumerate(frame):
                    s[i_s, i_p, i_f, i_j] = np.dot(matrix_x, joint)

    return np.transpose(s, [0, 4, 2, 3, 1])


def original_sample(path: str, max_frames: int = 300) -> np.ndarray:
    """One sample through read -> select -> pad into (3, T, V, 2) float32 -> normalise."""
    data = select_two(read_xyz(path)).transpose(3, 1, 2, 0)
    out = np.zeros((1, 3, max_frames, data.shape[2], 2), dtype=np.float32)
    out[0, :, : data.shape[1]] = data
    return pre_normalization(out)[0]


# --- PKU-MMD (spec §1.2) and N-UCLA (spec §1.3, §2.1) ----------------------------------------

PKU_BODY_INFO = "6 1 0 0 1 1 0 -0.437266 -0.117168 2"  # the converter's constant dummy line


def pku_instance_to_ntu(skeleton_lines: list[str], start: int, end: int) -> str:
    """TSMF's ``skeleton_to_ntu_format`` for one label line: rows start..end (1-based)."""
    out = [str(end - start + 1)]
    for line in skeleton_lines[start - 1 : end]:
        values = line.split()
        first, second = values[:75], values[75:150]
        two = sum(float(v) for v in second) != 0  # TSMF: np.sum(frame[75:150]) == 0 -> one body
        out += ["2" if two else "1", PKU_BODY_INFO, "25"]
        out += [" ".join(first[3 * j : 3 * j + 3]) for j in range(25)]
        if two:  # no second body-info or joint-count line
            out += [" ".join(second[3 * j : 3 * j + 3]) for j in range(25)]
    return "\n".join(out) + "\n"


def read_pku_xyz(text: str, max_body: int = 4, num_joint: int = 25) -> np.ndarray:
    """``pku_gendata``'s reader: body-info and joint-count lines only for a frame's first body."""
    lines = iter(text.splitlines())
    n_frames = int(next(lines))
    data = np.zeros((max_body, n_frames, num_joint, 3))
    for f in range(n_frames):
        n_joints = 0
        for m in range(int(next(lines))):
            if m == 0:
                next(lines)  # body info
                n_joints = int(next(lines))
            for j in range(n_joints):
                xyz = [float(v) for v in next(lines).split()]
                if m < max_body:
                    data[m, f, j] = xyz
    return data


def read_ucla_xyz(path: str, max_body: int = 1, num_joint: int = 20) -> np.ndarray:
    """``ucla_gendata``'s reader: NTU-like file, comma-separated ``x,y,z,trackingState``."""
    with open(path) as f:
        n_frames = int(f.readline())
        data = np.zeros((max_body, n_frames, num_joint, 3))
        for n in range(n_frames):
            for m in range(int(f.readline())):
                f.readline()  # body info
                for j in range(int(f.readline())):
                    values = [float(v) for v in f.readline().split(",")]
                    if m < max_body and j < num_joint:
                        data[m, n, j] = values[:3]
    return data


def process_like_ntu(bodies: np.ndarray, max_frames: int, keep: int) -> np.ndarray:
    """Select ``keep`` bodies by energy, fit to T (centre crop as ``pku_gendata``), normalise."""
    data = (select_two(bodies, keep) if keep > 1 else bodies[:keep]).transpose(3, 1, 2, 0)
    if data.shape[1] > max_frames:
        start = (data.shape[1] - max_frames) // 2
        data = data[:, start : start + max_frames]
    out = np.zeros((1, 3, max_frames, data.shape[2], keep), dtype=np.float32)
    out[0, :, : data.shape[1]] = data
    return pre_normalization(out)[0]


# --- feeder/tools.py random_move (spec §2.7), with the random draws passed in ---------------


def random_move_with(data_numpy: np.ndarray, A, S, T_x, T_y) -> np.ndarray:
    """``random_move`` with ``move_time_candidate=[1]``: key values ``A, S, T_x, T_y`` (two
    each) at frames 0 and T, ``np.linspace`` between, one 2x2 product per frame."""
    C, T, V, M = data_numpy.shape
    data_numpy = data_numpy.copy()
    node = np.arange(0, T, T * 1.0 / 1).round().astype(int)
    node = np.append(node, T)
    num_node = len(node)
    a = np.zeros(T)
    s = np.zeros(T)
    t_x = np.zeros(T)
    t_y = np.zeros(T)
    for i in range(num_node - 1):
        a[node[i] : node[i + 1]] = np.linspace(A[i], A[i + 1], node[i + 1] - node[i]) * np.pi / 180
        s[node[i] : node[i + 1]] = np.linspace(S[i], S[i + 1], node[i + 1] - node[i])
        t_x[node[i] : node[i + 1]] = np.linspace(T_x[i], T_x[i + 1], node[i + 1] - node[i])
        t_y[node[i] : node[i + 1]] = np.linspace(T_y[i], T_y[i + 1], node[i + 1] - node[i])
    theta = np.array([[np.cos(a) * s, -np.sin(a) * s], [np.sin(a) * s, np.cos(a) * s]])
    for i_frame in range(T):
        xy = data_numpy[0:2, i_frame, :, :]
        new_xy = np.dot(theta[:, :, i_frame], xy.reshape(2, -1))
        new_xy[0] += t_x[i_frame]
        new_xy[1] += t_y[i_frame]
        data_numpy[0:2, i_frame, :, :] = new_xy.reshape(2, V, M)
    return data_numpy
