"""The ROI store against the original's route, on the real NTU videos.

Builds ``roi.zarr`` for the real videos of ../shared/realdata/ntu60/videos with the real
stages (extract_pose2d with MediaPipe, which needs no skeleton and decodes its frames in
memory, -> build_roi, default config: 5 evaluation frames + 3 random-interval draws), then measures:

* build: seconds per sample per core (one process), once per dataset;
* loader: tiles per second per core from ``RoiStore.tile`` (evaluation and training);
* the original's route, per access (it rebuilds the ROI at every access, spec 4.3): the
  JPEG dump of every frame on disk (quality 75, as MATLAB wrote it) and one OpenPose JSON
  per frame, then per sample 5 x (read JSON, open the 1080p JPEG, 5 PIL crops pasted on a
  480x480 canvas), resize to 225x225; tiles per second per core, bytes per sample;
* bytes per sample in roi.zarr, and NTU60 / NTU120 extrapolated (56,578 / 113,945 samples);
* the codec: the same columns as Blosc LZ4HC (what the store uses), LZ4, zstd, delta + zstd
  and lossless WebP (what the store used before) at several efforts: bytes per column,
  CPU time to encode a column and to decode a 5-column tile.

Loader and codec times are CPU time of this process (the machine may be shared).

Usage: python bench/roi.py [--videos DIR] [--reads 200] [--json out.json]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numcodecs
import numpy as np
import pandas as pd
import zarr
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from realvideos import VIDEOS, folder_bytes, real_videos, samples_table

from mmnet.datasets.ntu import NTU60
from mmnet.frames import FrameConfig
from mmnet.pose2d import make_backend
from mmnet.roi import RoiStore
from mmnet.roi.store import COLUMN_CODEC
from mmnet.roi.tile import EMPTY
from mmnet.stages.pose2d import estimate_shard, merge_poses
from mmnet.stages.roi import merge_rois, roi_shard
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.video import VideoReader

NTU60_SAMPLES, NTU120_SAMPLES = 56_578, 113_945
ROI_KEYPOINT_VALUES = (0, 1, 12, 13, 21, 22, 30, 31, 39, 40)  # the original's flat indices


def build_store(videos: list[Path], work: Path, config: FrameConfig) -> dict:
    samples = work / "samples.parquet"
    samples_table(videos, samples)
    backend = make_backend("mediapipe", NTU60)
    start = time.perf_counter()
    estimate_shard(
        NTU60,
        backend,
        config,
        Shard(0, 1),
        samples,
        ShardOutput(work / "p.zarr", work / "p.parquet"),
    )
    merge_poses(samples, [work / "p.zarr"], [work / "p.parquet"], work / "pose2d.zarr",
                  work / "pose2d.parquet")  # fmt: skip
    pose_s = time.perf_counter() - start
    start = time.perf_counter()
    roi_shard(NTU60, config, Shard(0, 1), samples, work / "pose2d.zarr", work / "pose2d.parquet",
              ShardOutput(work / "r.zarr", work / "r.parquet"))  # fmt: skip
    merge_rois(samples, [work / "r.zarr"], [work / "r.parquet"], work / "roi.zarr",
               work / "roi.parquet")  # fmt: skip
    roi_s = time.perf_counter() - start
    return {"frames_and_pose_s_per_sample": pose_s / len(videos),
            "build_roi_s_per_sample": roi_s / len(videos)}  # fmt: skip


def write_original_inputs(videos: list[Path], work: Path) -> dict[str, dict[int, Path]]:
    """The original's inputs: every frame as JPEG (q75) and every selected frame's OpenPose
    JSON (BODY_25 people from our pose2d store), in its folder layout."""
    pose = zarr.open_group(work / "pose2d.zarr", mode="r")
    table = pd.read_parquet(work / "samples.parquet")
    jsons: dict[str, dict[int, Path]] = {}
    for row, video in enumerate(videos):
        sample = table.at[row, "sample"]
        folder = work / "original" / sample
        folder.mkdir(parents=True)
        with VideoReader(video) as reader:
            for k, image in enumerate(reader):
                Image.fromarray(image).save(folder / f"{k}.jpg", quality=75)
        jsons[sample] = {}
        for entry, frame in enumerate(pose["frame"][row]):
            if frame < 0:
                continue
            people = pose["keypoints"][row, entry, : max(0, int(pose["people"][row, entry]))]
            path = folder / f"{sample}_rgb_{int(frame):012d}_keypoints.json"
            path.write_text(json.dumps({"version": 1.3, "people": [
                {"pose_keypoints_2d": p.ravel().tolist()} for p in people]}))  # fmt: skip
            jsons[sample][int(frame)] = path
    return jsons


def original_tile(folder: Path, frames: list[int], jsons: dict[int, Path]) -> np.ndarray:
    """construct_st_roi's work for one access (single person, evaluation frames)."""
    canvas = Image.new("RGB", (480, 480))
    for i, frame in enumerate(frames):
        people = json.loads(jsons[frame].read_text())["people"]
        image = Image.open(folder / f"{frame}.jpg")
        points = people[0]["pose_keypoints_2d"]
        column = Image.new("RGB", (96, 480))
        for row in range(5):
            x, y = points[ROI_KEYPOINT_VALUES[2 * row]], points[ROI_KEYPOINT_VALUES[2 * row + 1]]
            column.paste(image.crop((x - 48, y - 48, x + 48, y + 48)), (0, 96 * row))
        canvas.paste(column, (96 * i + 1, 0))
    return np.asarray(canvas.resize((225, 225), Image.BILINEAR))


def tiles_per_second(function, calls: int) -> float:
    """Calls per CPU second of this process."""
    start = time.process_time()
    for i in range(calls):
        function(i)
    return calls / (time.process_time() - start)


def webp(effort: int) -> tuple:
    """Lossless WebP at ``effort`` as (encode, decode) of a column (the former store's)."""

    def encode(column: np.ndarray) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(column).save(buffer, "WEBP", lossless=True, method=effort,
                                     quality=round(100 * effort / 6), exact=True)  # fmt: skip
        return buffer.getvalue()

    def decode(data: bytes) -> np.ndarray:
        image = Image.open(io.BytesIO(data), formats=["WEBP"])
        image.load()
        return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))

    return encode, decode


def blosc(cname: str, level: int, delta: bool = False) -> tuple:
    """Blosc without shuffle as (encode, decode); ``delta``: each pixel row minus the row
    above first (uint8, wrapping), undone by a cumulative sum after decompressing."""
    codec = numcodecs.Blosc(cname=cname, clevel=level, shuffle=numcodecs.Blosc.NOSHUFFLE)

    def encode(column: np.ndarray) -> bytes:
        if delta:
            column = column.copy()
            column[1:] -= column[:-1].copy()
        return codec.encode(np.ascontiguousarray(column))

    def decode(data: bytes) -> np.ndarray:
        out = np.empty((225, 45, 3), dtype=np.uint8)
        codec.decode(data, out=out)
        return np.cumsum(out, axis=0, dtype=np.uint8) if delta else out

    return encode, decode


def codec_table(columns: np.ndarray, rounds: int = 5) -> list[dict]:
    """Bytes per column, CPU ms to encode a column and to decode a 5-column tile (median of
    ``rounds`` passes over all columns, and the range), for candidate encodings. Every one
    is checked lossless."""
    warnings.filterwarnings("ignore", category=UserWarning)
    store = COLUMN_CODEC["cname"], COLUMN_CODEC["clevel"]
    candidates = {
        "raw pixels": (lambda c: c.tobytes(), lambda b: np.frombuffer(b, np.uint8)),
        f"Blosc {store[0].upper()} {store[1]} (the store)": blosc(*store),
        "Blosc LZ4 5": blosc("lz4", 5),
        "Blosc zstd 1": blosc("zstd", 1),
        "Blosc zstd 3": blosc("zstd", 3),
        "row delta + Blosc LZ4HC 5": blosc("lz4hc", 5, delta=True),
        "row delta + Blosc zstd 1": blosc("zstd", 1, delta=True),
        **{f"lossless WebP effort {e}": webp(e) for e in (0, 1, 4)},
    }
    out = []
    for name, (encode, decode) in candidates.items():
        start = time.process_time()
        encoded = [encode(c) for c in columns]
        encode_ms = (time.process_time() - start) / len(columns) * 1e3
        for column, data in zip(columns, encoded, strict=True):
            if not np.array_equal(np.asarray(decode(data)).reshape(column.shape), column):
                raise AssertionError(f"{name} is not lossless")
        passes = []
        for _ in range(rounds):
            start = time.process_time()
            for data in encoded:
                decode(data)
            passes.append((time.process_time() - start) / len(encoded) * 5e3)
        out.append({"codec": name, "bytes_per_column": float(np.mean([len(e) for e in encoded])),
                    "encode_ms_per_column": encode_ms, "ms_per_tile": float(np.median(passes)),
                    "ms_per_tile_range": [min(passes), max(passes)]})  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of *_rgb.avi")
    parser.add_argument("--reads", type=int, default=200, help="tiles read per measurement")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    videos = real_videos(args.videos)
    config = FrameConfig()
    work = Path(tempfile.mkdtemp(prefix="bench-roi-"))
    try:
        result = build_store(videos, work, config)
        store = RoiStore(work / "roi.zarr")
        rows = np.flatnonzero(store.available)
        roi = pd.read_parquet(work / "roi.parquet")
        store_bytes = folder_bytes(work / "roi.zarr")
        rng = np.random.default_rng(0)
        ours_eval = tiles_per_second(lambda i: store.tile(rows[i % len(rows)]), args.reads)
        ours_train = tiles_per_second(
            lambda i: store.tile(rows[i % len(rows)], rng, flip=bool(i % 2)), args.reads
        )
        jsons = write_original_inputs(videos, work)
        original_bytes = folder_bytes(work / "original")
        table = pd.read_parquet(work / "samples.parquet")
        evaluation = {
            sample: [int(f) for f in config.select(int(n_frames), sample).evaluation]
            for sample, n_frames in zip(table["sample"], table["n_frames"], strict=True)
        }
        original = tiles_per_second(
            lambda i: original_tile(
                work / "original" / table.at[rows[i % len(rows)], "sample"],
                evaluation[table.at[rows[i % len(rows)], "sample"]],
                jsons[table.at[rows[i % len(rows)], "sample"]],
            ),
            max(20, args.reads // 10),
        )
        group = zarr.open_group(work / "roi.zarr", mode="r")
        columns = group["columns"][:][group["column_layout"][:] != EMPTY]  # the used slots
        codecs = codec_table(columns)
        per_sample = store_bytes / len(rows)
        result.update({
            "samples": len(rows), "columns_per_sample": len(columns) / len(rows),
            "roi_status": roi["roi_status"].value_counts().to_dict(),
            "store_bytes_per_sample": per_sample,
            "original_bytes_per_sample": original_bytes / len(rows),
            "ntu60_store_gb": per_sample * NTU60_SAMPLES / 1e9,
            "ntu120_store_gb": per_sample * NTU120_SAMPLES / 1e9,
            "tiles_per_s_per_core": {"ours_evaluation": ours_eval, "ours_training_flip": ours_train,
                                     "original_route": original},
            "speedup_evaluation": ours_eval / original, "speedup_training": ours_train / original,
            "codecs": codecs,
        })  # fmt: skip
    finally:
        shutil.rmtree(work)
    print(f"{result['samples']} samples, {result['columns_per_sample']:.1f} columns each")
    print(f"build (once): frames+pose {result['frames_and_pose_s_per_sample']:.2f} s/sample, "
          f"build_roi {result['build_roi_s_per_sample']:.2f} s/sample")  # fmt: skip
    rates = result["tiles_per_s_per_core"]
    print(f"loader: {rates['ours_evaluation']:.0f} eval tiles/s, {rates['ours_training_flip']:.0f}"
          f" training tiles/s; original route {rates['original_route']:.1f} tiles/s -> "
          f"{result['speedup_evaluation']:.0f}x / {result['speedup_training']:.0f}x")  # fmt: skip
    print(
        f"bytes/sample: roi.zarr {result['store_bytes_per_sample'] / 1e3:.0f} KB, original "
        f"JPEG+JSON {result['original_bytes_per_sample'] / 1e6:.1f} MB; NTU60 store "
        f"{result['ntu60_store_gb']:.1f} GB, NTU120 {result['ntu120_store_gb']:.1f} GB"
    )
    print("codec | KB per column | encode ms per column | decode ms per 5-column tile (range)")
    for row in result["codecs"]:
        low, high = row["ms_per_tile_range"]
        print(f"{row['codec']} | {row['bytes_per_column'] / 1e3:.1f} | "
              f"{row['encode_ms_per_column']:.3f} | {row['ms_per_tile']:.3f} "
              f"({low:.3f}-{high:.3f})")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
