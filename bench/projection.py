"""Pixel error of the Kinect v2 colour-camera model (``mmnet.skeleton.camera``).

PKU-MMD's skeletons carry only camera-space x, y, z; the model that projects them into the
colour image is fitted on NTU files, which carry both x, y, z and the sensor's own colorX,
colorY. This measures, on the real NTU files of ../shared/realdata/ntu60/skeletons, the
distance between the projection and colorX/colorY over every tracked joint (trackingState
2), as median and 95th percentile, for:

* the shipped parameters (``KINECT_V2_COLOR_MODEL``, fitted on these same files);
* each file held out: fitted on the other files, measured on it;
* each camera held out: fitted on the other camera's files, measured on it (the nearest
  these files come to a device the fit never saw, which PKU-MMD's are).

It also gives the share of joints off by more than a quarter (24 px) and a half (48 px) of
the 96-pixel patch a 1080-line crop uses.

Usage: MMNET_REALDATA=../shared/realdata python bench/projection.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import numpy as np

from mmnet.datasets.ntu_format import read_skeleton_file
from mmnet.skeleton.camera import KINECT_V2_COLOR_MODEL, fit_color_model, pixel_errors

log = logging.getLogger("bench.projection")
FIELDS = (0, 1, 2, 5, 6, 11)  # x, y, z, colorX, colorY, trackingState
PATCH = 96


def tracked_joints(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 3)`` camera-space points and ``(n, 2)`` colour pixels of the tracked joints."""
    parsed = read_skeleton_file(path, fields=FIELDS)
    joints = parsed.dense(max(parsed.max_bodies, 1)).reshape(-1, len(FIELDS))
    keep = (joints[:, 5] == 2) & (joints[:, 2] > 0)
    return joints[keep, :3], joints[keep, 3:5]


def summary(errors: np.ndarray) -> dict:
    return {
        "joints": int(errors.size),
        "median_px": round(float(np.median(errors)), 2),
        "p95_px": round(float(np.percentile(errors, 95)), 2),
        "max_px": round(float(errors.max()), 2),
        "over_quarter_patch": round(float((errors > PATCH / 4).mean()), 4),
        "over_half_patch": round(float((errors > PATCH / 2).mean()), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default = Path(os.environ.get("MMNET_REALDATA", "../shared/realdata")) / "ntu60/skeletons"
    parser.add_argument("--skeletons", type=Path, default=default, help="NTU .skeleton folder")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    files = sorted(args.skeletons.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"{args.skeletons}: no .skeleton files")
    data = {f.stem: tracked_joints(f) for f in files}
    xyz = np.concatenate([d[0] for d in data.values()])
    uv = np.concatenate([d[1] for d in data.values()])
    results: dict = {"files": len(files), "shipped_model": list(KINECT_V2_COLOR_MODEL)}

    results["shipped_all"] = summary(pixel_errors(xyz, uv, KINECT_V2_COLOR_MODEL))
    results["refit_all"] = list(fit_color_model(xyz, uv))
    held_out = []
    for name, (points, pixels) in data.items():
        rest = [d for other, d in data.items() if other != name]
        model = fit_color_model(np.concatenate([d[0] for d in rest]),
                                np.concatenate([d[1] for d in rest]))  # fmt: skip
        held_out.append(pixel_errors(points, pixels, model))
        results[f"file_held_out:{name}"] = summary(held_out[-1])
    results["file_held_out_all"] = summary(np.concatenate(held_out))
    cameras = sorted({name[4:8] for name in data})
    for camera in cameras:
        train = [d for n, d in data.items() if n[4:8] != camera]
        test = [d for n, d in data.items() if n[4:8] == camera]
        if not train:
            continue
        model = fit_color_model(np.concatenate([d[0] for d in train]),
                                np.concatenate([d[1] for d in train]))  # fmt: skip
        errors = pixel_errors(np.concatenate([d[0] for d in test]),
                              np.concatenate([d[1] for d in test]), model)  # fmt: skip
        results[f"camera_held_out:{camera}"] = summary(errors)
    for key, value in results.items():
        log.info("%s: %s", key, value)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
