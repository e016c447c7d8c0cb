"""The ROI of PKU-MMD and N-UCLA against the original's route, on their demos' raw files.

For each demo kind (small: 2 subjects), the real stages run (index, skeletons, pose2d from
the generated OpenPose JSON, build_roi) and this measures, on one process (one core):

* ours: ROI columns built per second by build_roi (frames decoded straight from the long
  videos, or N-UCLA's own JPEG files through fileList.txt), and evaluation tiles per second
  read back from roi.zarr (the loader);
* the original's route: first every frame as JPEG (PKU-MMD: decode each long video and
  write every frame, quality 75, as its MATLAB script; N-UCLA ships JPEG, nothing to
  dump), then per access the evaluation tile rebuilt from files (5 x: read the OpenPose
  JSON, open the JPEG, 5 crops pasted on a canvas; resize to 225 x 225), as
  ``construct_st_roi`` does at every access; columns and tiles per second.

Usage: python bench/roi_datasets.py [--kinds demo_pku demo_nucla] [--reads 100] [--json F]
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mmnet.config import SkeletonOptions
from mmnet.datasets.demo import DEMO_NUCLA, DEMO_PKU
from mmnet.demo.nucla import generate_demo_nucla
from mmnet.demo.pku import generate_demo_pku
from mmnet.frame_source import open_frames
from mmnet.frames import FrameConfig
from mmnet.pose2d.from_json import ImportBackend
from mmnet.roi import RoiStore
from mmnet.roi.tile import ROI_KEYPOINTS
from mmnet.stages.index import write_index
from mmnet.stages.pose2d import estimate_shard, merge_poses
from mmnet.stages.roi import merge_rois, roi_shard
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import build_skeletons
from mmnet.video import VideoReader

log = logging.getLogger("bench.roi_datasets")
KINDS = {
    "demo_pku": (
        DEMO_PKU,
        ["xview"],
        lambda out: generate_demo_pku(out, subjects=2, sequences=1, frames=(24, 28), gaps=(12, 14)),
    ),
    "demo_nucla": (
        DEMO_NUCLA,
        ["123"],
        lambda out: generate_demo_nucla(out, subjects=2, environments=1, frames=(24, 28)),
    ),
}


def build(kind: str, work: Path, config: FrameConfig) -> tuple[pd.DataFrame, float]:
    """Generate the demo and run the stages; the table and build_roi's seconds."""
    dataset, protocols, generate = KINDS[kind]
    generate(work / "raw")
    write_index(dataset, dataset.generated.raw_paths(work / "raw"), protocols, work / "i.parquet")
    build_skeletons(
        dataset,
        SkeletonOptions(),
        work / "i.parquet",
        work / "sk.zarr",
        work / "samples.parquet",
        protocols=protocols,
    )
    samples = work / "samples.parquet"
    backend = ImportBackend(dataset, work / "raw" / dataset.generated.openpose_json)
    estimate_shard(
        dataset,
        backend,
        config,
        Shard(0, 1),
        samples,
        ShardOutput(work / "p.zarr", work / "p.parquet"),
    )
    merge_poses(
        samples,
        [work / "p.zarr"],
        [work / "p.parquet"],
        work / "pose2d.zarr",
        work / "pose2d.parquet",
        min_kept=0,
    )
    start = time.perf_counter()
    roi_shard(
        dataset,
        config,
        Shard(0, 1),
        samples,
        work / "pose2d.zarr",
        work / "pose2d.parquet",
        ShardOutput(work / "r.zarr", work / "r.parquet"),
    )
    seconds = time.perf_counter() - start
    merge_rois(
        samples,
        [work / "r.zarr"],
        [work / "r.parquet"],
        work / "roi.zarr",
        work / "roi.parquet",
        min_kept=0,
    )
    return pd.read_parquet(samples).merge(
        pd.read_parquet(work / "roi.parquet"), on="sample"
    ), seconds


def original_inputs(
    kind: str, table: pd.DataFrame, rows: np.ndarray, work: Path, config: FrameConfig
) -> tuple[list[list[tuple[Path, Path]]], float, int]:
    """Per sample, the (JPEG, JSON) of its evaluation frames in the original's files; the
    seconds and bytes of the JPEG dump (PKU-MMD: every frame of every long video)."""
    dataset = KINDS[kind][0]
    root = work / "raw" / dataset.generated.openpose_json
    dumped: dict[str, Path] = {}
    dump_s, dump_bytes = 0.0, 0
    accesses = []
    for row in rows:
        values = table.iloc[row].to_dict()
        with open_frames(dataset, values) as source:
            frames = config.select(source.n_frames, values["sample"], dataset.rgb.frame_rule)
            indices = [source.pose_index(int(f)) for f in frames.evaluation if f >= 0]
            if kind == "demo_pku":
                video = values["video_path"]
                if video not in dumped:
                    folder = work / "dump" / Path(video).stem
                    folder.mkdir(parents=True)
                    start = time.perf_counter()
                    with VideoReader(video) as reader:
                        for k, image in enumerate(reader):
                            Image.fromarray(image).save(folder / f"{k}.jpg", quality=75)
                    dump_s += time.perf_counter() - start
                    dump_bytes += sum(f.stat().st_size for f in folder.iterdir())
                    dumped[video] = folder
                jpegs = [dumped[video] / f"{k}.jpg" for k in indices]
            else:
                files = dataset.frame_files(values)
                jpegs = [files[int(f)] for f in frames.evaluation if f >= 0]
        accesses.append(
            [
                (j, dataset.openpose_json(root, values, k))
                for j, k in zip(jpegs, indices, strict=True)
            ]
        )
    return accesses, dump_s, dump_bytes


def original_tile(access: list[tuple[Path, Path]], patch: int) -> tuple[np.ndarray, int]:
    """One access of construct_st_roi (single person): the tile and its columns."""
    half = patch / 2
    canvas = Image.new("RGB", (5 * patch, 5 * patch))
    columns = 0
    for i, (jpeg, keypoints) in enumerate(access):
        people = json.loads(keypoints.read_text())["people"] if keypoints.is_file() else []
        if not people:
            continue
        points = np.asarray(people[0]["pose_keypoints_2d"]).reshape(-1, 3)
        image = Image.open(jpeg)
        for row, keypoint in enumerate(ROI_KEYPOINTS):
            x, y = points[keypoint, :2]
            canvas.paste(
                image.crop((x - half, y - half, x + half, y + half)), (patch * i, patch * row)
            )
        columns += 1
    return np.asarray(canvas.resize((225, 225), Image.BILINEAR)), columns


def measure(kind: str, reads: int) -> dict:
    config = FrameConfig()
    work = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    try:
        table, build_s = build(kind, work, config)
        store = RoiStore(work / "roi.zarr")
        rows = np.flatnonzero(store.available)
        built_columns = int(table["columns"].sum())
        start = time.perf_counter()
        for i in range(reads):
            store.tile(int(rows[i % len(rows)]))
        loader = reads / (time.perf_counter() - start)
        accesses, dump_s, dump_bytes = original_inputs(kind, table, rows, work, config)
        patch = KINDS[kind][0].rgb.patch_size(Image.open(accesses[0][0][0]).height)
        start, columns = time.perf_counter(), 0
        for i in range(reads):
            columns += original_tile(accesses[i % len(accesses)], patch)[1]
        original_s = time.perf_counter() - start
    finally:
        shutil.rmtree(work)
    return {
        "samples": len(rows),
        "ours_build_columns_per_s": built_columns / build_s,
        "ours_build_s_per_sample": build_s / len(table),
        "ours_loader_tiles_per_s": loader,
        "original_dump_s": dump_s,
        "original_dump_bytes_per_sample": dump_bytes / len(rows),
        "original_columns_per_s": columns / original_s,
        "original_tiles_per_s": reads / original_s,
        "loader_speedup": loader / (reads / original_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--reads", type=int, default=100, help="tiles read per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    log.setLevel(logging.INFO)
    results = {kind: measure(kind, args.reads) for kind in args.kinds}
    for kind, result in results.items():
        log.info("%s: %s", kind, {k: round(v, 3) for k, v in result.items()})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
