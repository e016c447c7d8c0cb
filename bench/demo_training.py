"""Accuracy and time of the three streams on the demo dataset, on this machine.

1. Runs the demo workflow (``snakemake --configfile config/demo.yaml``) in a work folder:
   skeletons, then ``train_skeleton`` for the joint and bone streams of every protocol.
2. Trains the rgb stream of every protocol with ``train_stream``. Until the ROI stage
   (``roi.zarr``) is merged, the tiles come from :class:`KinectTiles` below, a stand-in
   with the ``RoiStore`` interface: it decodes the demo videos and crops the five body
   parts at the Kinect colour coordinates of the ``.skeleton`` files (the "kinect" 2D source
   of spec Appendix A.4), evaluation frames only (training tiles are the same tiles).

Prints test top-1/top-5 and seconds per training, and the workflow's wall time; ``--json``
also writes them. Chance is 1/7 (14.3 %).

Usage: python bench/demo_training.py [--workdir DIR] [--json out.json] [--protocols xsub]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import pandas as pd
from PIL import Image

from mmnet.config import load_config, train_options, trained_protocols
from mmnet.datasets.demo_render import COLOR_SIZE
from mmnet.datasets.ntu_format import JOINT_FIELDS, read_skeleton_file
from mmnet.logs import progress, setup_logging
from mmnet.train import TrainJob, train_stream

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "demo.yaml"
#: Kinect joints nearest to the ROI rows' OpenPose keypoints (spec Appendix A.4):
#: Head, WristRight, WristLeft, KneeRight, KneeLeft.
PART_JOINTS = (3, 10, 6, 17, 13)
PATCH_FULL_HD = 96  # patch side in 1920x1080 pixels (the original's NTU crop)
CELL = 45  # side of one body-part cell of the network input


class KinectTiles:
    """``RoiStore`` stand-in: evaluation tiles ``(225, 225, 3)`` of every usable demo row."""

    temporal_rgb_frames = 5

    def __init__(self, samples: pd.DataFrame, root: Path) -> None:
        self.tiles = np.zeros((len(samples), 225, CELL * 5, 3), dtype=np.uint8)
        self.available = np.zeros(len(samples), dtype=bool)
        usable = np.flatnonzero((samples["status"] == "ok").to_numpy())
        for row in progress(usable, desc="tiles", unit="sample"):
            record = samples.iloc[row]
            self.tiles[row] = self._tile(
                root / record["skeleton_path"], root / record["video_path"]
            )
            self.available[row] = True

    def tile(self, row: int, rng=None, flip: bool = False) -> np.ndarray:
        return self.tiles[row]

    def _tile(self, skeleton: Path, video: Path) -> np.ndarray:
        fields = (JOINT_FIELDS.index("colorX"), JOINT_FIELDS.index("colorY"))
        colour = read_skeleton_file(skeleton, fields=fields).dense(1)[0]  # (F, 25, 2)
        count = len(colour)
        step = max(count // 6, 1)
        wanted = [min(step * (i + 1), count - 1) for i in range(5)]  # spec 4.3.1: s..5s
        frames = {}
        with av.open(str(video)) as container:
            for index, frame in enumerate(container.decode(video=0)):
                if index in wanted:
                    frames[index] = frame.to_ndarray(format="rgb24")
                if index >= max(wanted):
                    break
        out = np.zeros((225, CELL * 5, 3), dtype=np.uint8)
        for column, index in enumerate(wanted):
            image = frames.get(index)
            if image is None:
                continue
            scale = image.shape[1] / COLOR_SIZE[0]
            half = PATCH_FULL_HD * scale / 2
            for part, joint in enumerate(PART_JOINTS):
                x, y = colour[index, joint] * scale
                box = tuple(round(v) for v in (x - half, y - half, x + half, y + half))
                patch = Image.fromarray(image).crop(box).resize((CELL, CELL), Image.BILINEAR)
                out[part * CELL : (part + 1) * CELL, column * CELL : (column + 1) * CELL] = patch
        return out


def run_workflow(workdir: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
         "--cores", "2", "--configfile", str(CONFIG)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="work folder (default: a temporary one)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    setup_logging()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mmnet-demo-"))
    figures: dict = {"workflow_seconds": run_workflow(workdir), "trainings": {}}
    config = load_config([CONFIG])
    results = workdir / "results"
    samples = pd.read_parquet(results / "demo" / "samples.parquet")
    start = time.perf_counter()
    tiles = KinectTiles(samples, workdir)
    figures["tile_seconds"] = time.perf_counter() - start
    for protocol in trained_protocols(config, "demo"):
        run = results / f"demo_{protocol}"
        job = TrainJob(
            dataset="demo",
            kind="demo",
            protocol=protocol,
            stream="rgb",
            options=train_options(config, "demo", protocol, "rgb"),
            samples=str(results / "demo" / "samples.parquet"),
            skeleton=str(results / "demo" / "skeleton.zarr"),
            out_dir=str(run / "rgb"),
            roi="KinectTiles (bench stand-in)",
            joint_model=str(run / "joint" / "model.pt"),
        )
        train_stream(job, threads=2, roi_store=tiles)
        for stream in ("joint", "bone", "rgb"):
            metrics = json.loads((run / stream / "metrics.json").read_text())
            figures["trainings"][f"{protocol}/{stream}"] = {
                "test_top1": metrics["test"]["top1"],
                "test_top5": metrics["test"]["top5"],
                "test_samples": metrics["test"]["samples"],
                "seconds": metrics["seconds"],
                "selected_epoch": metrics["selected_epoch"],
            }
    print(f"work folder: {workdir}")
    print(f"demo workflow (skeletons + joint/bone trainings): {figures['workflow_seconds']:.0f} s")
    print(f"stand-in ROI tiles: {figures['tile_seconds']:.0f} s")
    print(f"{'training':<14} {'top-1':>7} {'top-5':>7} {'seconds':>8}  (chance 14.3 %)")
    for name, f in figures["trainings"].items():
        print(f"{name:<14} {f['test_top1']:>7.1%} {f['test_top5']:>7.1%} {f['seconds']:>8.0f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
