"""A Kinect v2 colour-camera model: camera-space joints (metres) -> colour-image pixels.

Why: PKU-MMD's skeleton rows carry only camera-space ``x, y, z``, no colour coordinates, so
nothing ties its skeleton bodies to the people OpenPose finds in its videos. NTU's
``.skeleton`` files carry both (``x, y, z`` and ``colorX, colorY``, the Kinect SDK's own
mapping), so a model fitted on them projects PKU-MMD's joints into its 1920x1080 videos.

The model is a pinhole camera displaced from the depth camera the joints are measured in:
``u = f (x + tx) / (z + tz) + cx``, ``v = -f (y + ty) / (z + tz) + cy`` (camera y points up,
image rows down). Fitted on the tracked joints of the 7 real NTU files; ``bench/projection.py``
measures it (``docs/rgb.md`` has the numbers): a few pixels median on the files it was fitted
on, but about 30 px on a camera the fit did not see (the files come from two devices, C001
and C003). PKU-MMD's devices are others, so it is too coarse to centre a 96-pixel crop on a
hand and is not offered as a pose source; it is ample to tell people apart (they stand
hundreds of pixels apart), which is what the target-person choice uses it for.
"""

from __future__ import annotations

import numpy as np

#: ``(f, cx, cy, tx, ty, tz)`` fitted on the 7 real NTU files (pixels, metres).
KINECT_V2_COLOR_MODEL = (930.0690, 986.9642, 646.7406, -0.0352, 0.3036, -0.3382)
#: Size of the colour image the model maps to.
KINECT_V2_COLOR_SIZE = (1920, 1080)


def project(xyz: np.ndarray, model: tuple[float, ...] = KINECT_V2_COLOR_MODEL) -> np.ndarray:
    """Camera-space points ``(..., 3)`` -> colour pixels ``(..., 2)``; points with
    ``z + tz <= 0`` (absent joints are all zero) give NaN."""
    f, cx, cy, tx, ty, tz = model
    xyz = np.asarray(xyz, dtype=np.float64)
    depth = xyz[..., 2] + tz
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(depth > 0, f * (xyz[..., 0] + tx) / depth + cx, np.nan)
        v = np.where(depth > 0, -f * (xyz[..., 1] + ty) / depth + cy, np.nan)
    return np.stack([u, v], axis=-1)


def fit_color_model(
    xyz: np.ndarray, uv: np.ndarray, start: tuple[float, ...] = (1050.0, 960.0, 540.0, 0, 0, 0)
) -> tuple[float, ...]:
    """Least-squares ``(f, cx, cy, tx, ty, tz)`` of :func:`project` for points ``(n, 3)``
    and their pixels ``(n, 2)`` (Gauss-Newton with the exact Jacobian)."""
    xyz, uv = np.asarray(xyz, dtype=np.float64), np.asarray(uv, dtype=np.float64)
    p = np.array(start, dtype=np.float64)
    for _ in range(100):
        f, cx, cy, tx, ty, tz = p
        x, y, z = xyz[:, 0] + tx, xyz[:, 1] + ty, xyz[:, 2] + tz
        residual = np.concatenate([f * x / z + cx - uv[:, 0], -f * y / z + cy - uv[:, 1]])
        one, zero = np.ones(len(xyz)), np.zeros(len(xyz))
        jacobian = np.concatenate(
            [
                np.stack([x / z, one, zero, f / z, zero, -f * x / z**2], axis=1),
                np.stack([-y / z, zero, one, zero, -f / z, f * y / z**2], axis=1),
            ]
        )
        step = np.linalg.lstsq(jacobian, -residual, rcond=None)[0]
        p += step
        if np.abs(step).max() < 1e-9:
            break
    return tuple(float(v) for v in p)


def pixel_errors(xyz: np.ndarray, uv: np.ndarray, model: tuple[float, ...]) -> np.ndarray:
    """Distance in pixels between :func:`project` of ``xyz`` and the recorded ``uv``."""
    return np.hypot(*(project(xyz, model) - uv).T)
