"""Body selection and pre-normalisation of skeleton sequences (spec §2.2, §2.4).

The original runs ``pre_normalization`` as four Python loops over every sample, person,
frame and joint. Each step only looks at one sample, so here every step works on a block of
samples: the reductions that decide anything (frame and person sums, the rotation angles) are
NumPy operations over the whole block, and the per-sample loops (padding, centring, the
rotation products) run in a small compiled module, ``_normalize.c``, whose values equal the
NumPy loops' bit for bit (tested; the NumPy loops remain where it is not built). The result
equals the original's bit for bit: its own code was run on the real files and on varied
samples (docs/fidelity.md), and the tests compare with a statement-by-statement restatement.

Conventions: the original's "is this empty" tests compare *sums* with zero (a frame is empty
when the sum of all its coordinates is 0), and so do we.
"""

from __future__ import annotations

import functools
import logging
import math

import numpy as np

from mmnet.compiled import optional_module

_normalize = optional_module("mmnet.skeleton._normalize", "pre-normalisation runs NumPy loops")

#: ``(tail, head)`` joints of the vectors aligned with +z and +x: hip -> spine (0 -> 1) and
#: left -> right shoulder (4 -> 8), i.e. the original's ``joint_top - joint_bottom`` with
#: ``zaxis=[0, 1]`` and ``joint_rshoulder - joint_lshoulder`` with ``xaxis=[8, 4]`` (spec §2.4).
Z_AXIS_JOINTS = (0, 1)
X_AXIS_JOINTS = (4, 8)
Z_TARGET = (0.0, 0.0, 1.0)
X_TARGET = (1.0, 0.0, 0.0)


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
    with no frame. The compiled loop and the NumPy one sum in different orders, so they may
    differ in the last bits; only the energies' order is used, and that is the same."""
    n_slots, n_frames, n_joints, n_coords = slots.shape
    if _normalize is not None and slots.dtype == np.float64 and slots.flags.c_contiguous:
        energy = np.empty(n_slots)
        _normalize.energies(slots, slots.shape[:3], energy)  # the same, up to the last bits
        return energy
    valid = slots.reshape(n_slots, n_frames, -1).sum(axis=-1) != 0  # (S, F)
    count = valid.sum(axis=1) * n_joints
    weight = np.repeat(valid, n_joints, axis=1).astype(slots.dtype)[:, None, :]  # (S, 1, F*V)
    points = slots.reshape(n_slots, n_frames * n_joints, n_coords)
    safe = np.maximum(count, 1)[:, None, None]
    mean = (weight @ points) / safe  # masked sums as one matrix product per slot
    var = (weight @ (points - mean) ** 2) / safe
    return np.where(count > 0, np.sqrt(var[:, 0]).sum(axis=1), 0.0)


def fit_frames(bodies: np.ndarray, max_frames: int, out: np.ndarray | None = None) -> np.ndarray:
    """``(M, F, V, C)`` -> ``(M, T, V, C)`` float32: zero-fill short sequences at the end,
    keep the centred window ``[(F - T) // 2, ... + T)`` of long ones (the original's PKU rule;
    its NTU and N-UCLA scripts would crash instead). ``out``: write there (a block's row)."""
    m, n_frames, v, c = bodies.shape
    if out is None:
        out = np.empty((m, max_frames, v, c), dtype=np.float32)
    if n_frames > max_frames:
        start = (n_frames - max_frames) // 2
        bodies = bodies[:, start : start + max_frames]
    out[:, : bodies.shape[1]] = bodies
    out[:, bodies.shape[1] :] = 0
    return out


def pre_normalize(x: np.ndarray) -> np.ndarray:
    """Pre-normalise a block ``(N, M, T, V, C)`` float32 in place and return it.

    Steps, each over the whole block before the next (spec §2.4): pad null frames, centre on
    joint 1 of person 0, rotate hip->spine of person 0 at frame 0 onto +z, then rotate right
    minus left shoulder onto +x. Persons-first layout (the original's internal one) keeps
    every frame's 25x3 values contiguous, which makes the emptiness tests cheap.
    """
    if _compiled(x) and _compiled_product_is_numpys():
        frame_sum = np.empty(x.shape[:3], dtype=np.float32)  # kept current by every step
        _normalize.frame_sums(x, x.shape[:4], frame_sum)
        _normalize.pad_null_frames(x, x.shape[:4], frame_sum)
        _normalize.centre(x, x.shape[:4], frame_sum)
        for joints, target in ((Z_AXIS_JOINTS, Z_TARGET), (X_AXIS_JOINTS, X_TARGET)):
            # every sample a candidate: the compiled step itself skips the empty ones
            rotations, use = _alignments(x, joints, target, np.ones(len(x), dtype=bool))
            _normalize.rotate(x, x.shape[:4], frame_sum, rotations, use)
        return x
    frame_sum = _pad_null_frames(x)
    _centre(x, frame_sum)
    _rotate(x, Z_AXIS_JOINTS, Z_TARGET)
    _rotate(x, X_AXIS_JOINTS, X_TARGET)
    return x


def store_layout(x: np.ndarray, out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A block ``(N, M, T, V, C)`` in the store's (and the original's) ``(N, C, T, V, M)``
    layout, contiguous (in ``out``, float32, when given), and which of its samples hold a
    value other than zero (the store leaves the others out)."""
    n, m, t, v, c = x.shape
    if out is None:
        out = np.empty((n, c, t, v, m), dtype=np.float32)
    if _compiled(x) and out.flags.c_contiguous and out.dtype == np.float32:
        nonzero = np.empty(n, dtype=bool)
        _normalize.store_layout(x, x.shape[:4], out, nonzero)
        return out, nonzero
    out[...] = x.transpose(0, 4, 2, 3, 1)
    return out, out.reshape(n, -1).any(axis=1)


def _compiled(x: np.ndarray) -> bool:
    return (
        _normalize is not None
        and x.dtype == np.float32
        and x.flags.c_contiguous
        and x.ndim == 5
        and x.shape[-1] == 3
    )


def _frame_sums(x: np.ndarray) -> np.ndarray:
    return x.reshape(*x.shape[:3], -1).sum(axis=-1)  # (N, M, T)


def _pad_null_frames(x: np.ndarray) -> np.ndarray:
    """Pad in place; returns the padded frames' sums (copies of sums for copied frames)."""
    frame_sum = _frame_sums(x)
    present = frame_sum.sum(axis=-1) != 0
    for n, m in zip(*np.nonzero(present), strict=True):
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
            sums[filled : filled + step] = sums[:step]
            filled += step
    return frame_sum


def _centre(x: np.ndarray, frame_sum: np.ndarray) -> None:
    person_sum = frame_sum.sum(axis=-1)  # (N, M)
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
    rotations, use = _alignments(x, joints, target, person_sum.sum(axis=-1) != 0)
    frames = (person_sum != 0)[..., None] & (frame_sum != 0)  # (N, M, T)
    for i in np.flatnonzero(use):
        rows = x[i][frames[i]]  # (K, V, C): every joint of every non-empty frame
        rotated = _per_joint_product(rotations[i], rows.reshape(-1, 3))
        x[i][frames[i]] = rotated.astype(np.float32).reshape(rows.shape)


def _alignments(
    x: np.ndarray,
    joints: tuple[int, int],
    target: tuple[float, float, float],
    candidates: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Rotation matrices ``(N, 3, 3)`` turning each sample's vector from joint ``tail`` to joint
    ``head`` of person 0 at frame 0 (float32) towards the basis vector ``target``, and whether
    to apply each: only to ``candidates``, and not where the rotation is the identity (vector
    or axis (near) zero, angle under 1e-6).

    The original's ``_rotation_matrix(np.cross(v, target), _angle_between(v, target))`` per
    sample (axis ``v x target``, Euler-Rodrigues, counter-clockwise), with the same float32 and
    float64 operations over all samples at once. Its two BLAS dot products (the vector's norm
    and the axis's) stay per-sample NumPy calls, so their rounding is the original's; with a
    basis vector as target, the dot product behind the angle is the unit vector's component.
    """
    tail, head = joints
    vectors = x[:, 0, 0, head] - x[:, 0, 0, tail]
    k = target.index(1.0)
    t0, t1, t2 = target
    small = np.abs(vectors).sum(axis=1) < 1e-6
    norms = np.array([np.linalg.norm(v) for v in vectors], dtype=np.float32).reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cosine = (vectors[:, k] / norms).astype(np.float64)
        angle = np.where(small, 0.0, np.arccos(np.clip(cosine, -1.0, 1.0)))
    v = vectors.astype(np.float64)
    axis = np.stack(
        [v[:, 1] * t2 - v[:, 2] * t1, v[:, 2] * t0 - v[:, 0] * t2, v[:, 0] * t1 - v[:, 1] * t0],
        axis=1,
    )
    use = candidates & (np.abs(axis).sum(axis=1) >= 1e-6) & (np.abs(angle) >= 1e-6)
    rotations = np.zeros((len(vectors), 3, 3))
    chosen = np.flatnonzero(use)
    if not len(chosen):
        return rotations, use
    axis = axis[chosen] / np.array([math.sqrt(np.dot(a, a)) for a in axis[chosen]])[:, None]
    half = angle[chosen] / 2.0
    a = np.array([math.cos(h) for h in half])  # libm's, as the original's math.cos
    b, c, d = (-axis * np.array([math.sin(h) for h in half])[:, None]).T
    aa, bb, cc, dd = a * a, b * b, c * c, d * d
    bc, ad, ac, ab, bd, cd = b * c, a * d, a * c, a * b, b * d, c * d
    rotations[chosen] = np.array(
        [
            [aa + bb - cc - dd, 2 * (bc + ad), 2 * (bd - ac)],
            [2 * (bc - ad), aa + cc - bb - dd, 2 * (cd + ab)],
            [2 * (bd + ac), 2 * (cd - ab), aa + dd - bb - cc],
        ]
    ).transpose(2, 0, 1)
    return rotations, use


def _per_joint_product(rotation: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """``rotation @ joint`` for every row of ``joints`` ``(K, 3)``, in float64, rounded as the
    original's per-joint ``np.dot(matrix, joint)``: a stack of matrix-vector products, which
    NumPy hands to its BLAS's matrix-vector routine like ``np.dot`` does. ``joints @
    rotation.T``, one matrix product, sums in another order, and a coordinate that nearly
    cancels (the shoulders' y and z after the x rotation) can then differ in float32."""
    return np.matmul(rotation, joints.astype(np.float64)[..., None])[..., 0]


@functools.cache
def _compiled_product_is_numpys() -> bool:
    """Whether the compiled rotation's float64 product equals :func:`_per_joint_product` here.

    OpenBLAS (the pip wheels' BLAS) computes each coordinate of ``np.dot(matrix, joint)`` as
    r1 * y, then r0 * x and r2 * z fused in, as ``_normalize.c`` does. Another BLAS may round
    otherwise, and then the NumPy loop is kept, so that no value depends on which path ran.
    """
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((4096, 3)).astype(np.float32).astype(np.float64)
    rotation = np.ascontiguousarray(np.linalg.qr(rng.standard_normal((3, 3)))[0])
    ours = np.empty_like(rows)
    _normalize.product(rows, rotation, ours)
    same = bool(np.array_equal(ours, _per_joint_product(rotation, rows)))
    if not same:
        logging.getLogger(__name__).warning(
            "this NumPy's BLAS rounds the rotation product differently from the compiled "
            "pre-normalisation: using NumPy's product"
        )
    return same
