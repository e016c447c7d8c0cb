"""Body selection and pre-normalisation of skeleton sequences (spec §2.2, §2.4).

The original runs ``pre_normalization`` as four Python loops over every sample, person,
frame and joint. Each step only looks at one sample, so here every step is one vectorised
operation over a block of samples; the result equals the original's up to float rounding
in the last bit of a rotation (tested against a literal re-implementation).

Conventions: the original's "is this empty" tests compare *sums* with zero (a frame is empty
when the sum of all its coordinates is 0), and so do we.
"""

from __future__ import annotations

import math

import numpy as np

#: ``(tail, head)`` joints of the vectors aligned with +z and +x: hip -> spine (0 -> 1) and
#: left -> right shoulder (4 -> 8), i.e. the original's ``joint_top - joint_bottom`` with
#: ``zaxis=[0, 1]`` and ``joint_rshoulder - joint_lshoulder`` with ``xaxis=[8, 4]`` (spec §2.4).
Z_AXIS_JOINTS = (0, 1)
X_AXIS_JOINTS = (4, 8)


def select_bodies(slots: np.ndarray, keep: int) -> np.ndarray:
    """Keep the ``keep`` body slots with the most motion energy, highest first.

    ``slots`` is ``(S, F, V, 3)`` float64 as read (slot m = m-th body listed in a frame).
    Ties keep numpy's stable order reversed, as the original's ``argsort()[::-1]`` on four
    values does.
    """
    n_slots = slots.shape[0]
    if n_slots < keep:  # fewer slots than persons kept: add empty ones
        pad = np.zeros((keep - n_slots, *slots.shape[1:]), dtype=slots.dtype)
        slots = np.concatenate([slots, pad])
    return slots[np.argsort(body_energy(slots), kind="stable")[::-1][:keep]]


def body_energy(slots: np.ndarray) -> np.ndarray:
    """Motion energy ``(S,)`` of body slots ``(S, F, V, 3)`` (spec §2.2): std(x) + std(y) +
    std(z) over the slot's non-empty frames and all joints (population std); 0 for a slot
    with no frame."""
    n_slots, n_frames, n_joints, n_coords = slots.shape
    valid = slots.reshape(n_slots, n_frames, -1).sum(axis=-1) != 0  # (S, F)
    count = valid.sum(axis=1) * n_joints
    weight = np.repeat(valid, n_joints, axis=1).astype(slots.dtype)[:, None, :]  # (S, 1, F*V)
    points = slots.reshape(n_slots, n_frames * n_joints, n_coords)
    safe = np.maximum(count, 1)[:, None, None]
    mean = (weight @ points) / safe  # masked sums as one matrix product per slot
    var = (weight @ (points - mean) ** 2) / safe
    return np.where(count > 0, np.sqrt(var[:, 0]).sum(axis=1), 0.0)


def fit_frames(bodies: np.ndarray, max_frames: int) -> np.ndarray:
    """``(M, F, V, C)`` -> ``(M, T, V, C)`` float32: zero-fill short sequences at the end,
    keep the centred window ``[(F - T) // 2, ... + T)`` of long ones (the original's PKU rule;
    its NTU and N-UCLA scripts would crash instead)."""
    m, n_frames, v, c = bodies.shape
    out = np.zeros((m, max_frames, v, c), dtype=np.float32)
    if n_frames > max_frames:
        start = (n_frames - max_frames) // 2
        bodies = bodies[:, start : start + max_frames]
    out[:, : bodies.shape[1]] = bodies
    return out


def pre_normalize(x: np.ndarray) -> np.ndarray:
    """Pre-normalise a block ``(N, M, T, V, C)`` float32 in place and return it.

    Steps, each over the whole block before the next (spec §2.4): pad null frames, centre on
    joint 1 of person 0, rotate hip->spine of person 0 at frame 0 onto +z, then rotate right
    minus left shoulder onto +x. Persons-first layout (the original's internal one) keeps
    every frame's 25x3 values contiguous, which makes the emptiness tests cheap.
    """
    _pad_null_frames(x)
    _centre(x)
    _rotate(x, Z_AXIS_JOINTS, (0.0, 0.0, 1.0))
    _rotate(x, X_AXIS_JOINTS, (1.0, 0.0, 0.0))
    return x


def _frame_sums(x: np.ndarray) -> np.ndarray:
    return x.reshape(*x.shape[:3], -1).sum(axis=-1)  # (N, M, T)


def _pad_null_frames(x: np.ndarray) -> None:
    frame_sum = _frame_sums(x)
    for n, m in zip(*np.nonzero(frame_sum.sum(axis=-1) != 0), strict=True):
        person, sums = x[n, m], frame_sum[n, m]  # views
        if sums[0] == 0:  # move the non-empty frames to the front, in order
            keep = sums != 0
            person[: keep.sum()] = person[keep]
            person[keep.sum() :] = 0
            sums[: keep.sum()] = sums[keep]
            sums[keep.sum() :] = 0
        nonzero = np.flatnonzero(sums)
        filled = nonzero[-1] + 1  # the empty tail [filled, T) repeats frames [0, filled)
        while filled < len(person):
            step = min(filled, len(person) - filled)
            person[filled : filled + step] = person[:step]
            filled += step


def _centre(x: np.ndarray) -> None:
    person_sum = _frame_sums(x).sum(axis=-1)  # (N, M)
    for n in np.flatnonzero(person_sum.sum(axis=-1) != 0):
        centre = x[n, 0, :, 1:2, :].copy()  # (T, 1, C): joint 1 of person 0
        for m in np.flatnonzero(person_sum[n]):
            person = x[n, m]
            mask = (person[..., 0] + person[..., 1] + person[..., 2]) != 0  # before centring
            person -= centre
            person *= mask[..., None]


def _rotate(x: np.ndarray, joints: tuple[int, int], target: tuple[float, float, float]) -> None:
    frame_sum = _frame_sums(x)
    person_sum = frame_sum.sum(axis=-1)
    for i in np.flatnonzero(person_sum.sum(axis=-1) != 0):
        tail, head = joints
        rot = _alignment(x[i, 0, 0, head] - x[i, 0, 0, tail], target)
        if rot is None:
            continue
        frames = (person_sum[i] != 0)[:, None] & (frame_sum[i] != 0)  # (M, T)
        rows = x[i][frames]  # (K, V, C): every joint of every non-empty frame
        rotated = rows.reshape(-1, 3).astype(np.float64) @ rot.T
        x[i][frames] = rotated.astype(np.float32).reshape(rows.shape)


def _alignment(vector: np.ndarray, target: tuple[float, float, float]) -> np.ndarray | None:
    """Rotation matrix turning ``vector`` (float32, as the original) towards ``target``.

    Axis ``vector x target``, angle between the two; ``None`` (identity) when either is (near)
    zero. Euler-Rodrigues construction, rotating counter-clockwise about the axis.
    """
    target_v = np.asarray(target)
    v0, v1, v2 = (float(c) for c in vector)  # np.cross's products, without its overhead
    t0, t1, t2 = target
    axis = np.array([v1 * t2 - v2 * t1, v2 * t0 - v0 * t2, v0 * t1 - v1 * t0])
    if np.abs(vector).sum() < 1e-6:
        angle = 0.0
    else:
        unit = vector / np.linalg.norm(vector)
        angle = float(np.arccos(np.clip(np.dot(unit, target_v / np.linalg.norm(target_v)), -1, 1)))
    if np.abs(axis).sum() < 1e-6 or abs(angle) < 1e-6:
        return None
    axis = axis / math.sqrt(np.dot(axis, axis))
    a = math.cos(angle / 2.0)
    b, c, d = -axis * math.sin(angle / 2.0)
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    return np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    )
