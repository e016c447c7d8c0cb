"""Selected-frame extraction against the original's route, on the real NTU videos.

Per video (default ../shared/realdata/ntu60/videos, 1920x1080):

* original route (spec 4.1): decode every frame and write every frame as a full-resolution
  JPEG at MATLAB's default quality 75: seconds and bytes;
* ours, the extract_frames stage itself (``mmnet.stages.frames.write_shard_frames``) with
  the default config: the evaluation frames and 3 training draws (~18 distinct frames), decoded by
  seeking and written as 540-line JPEGs (quality 90; --pose-height, --jpeg-quality) for
  the pose models: seconds, bytes;
* the decoders: PyAV (what mmnet uses) and OpenCV, each seeking to the selected frames at
  full resolution and each decoding every frame; seeking is checked pixel for pixel against
  the same library's sequential decode.

With the kinect and import backends no frame is written at all: build_roi decodes the
selected frames straight from the video (the "PyAV seek" column).

The OpenPose binary route (``frames.keep: false``, the default): extract_pose2d itself, with
the tests' ``openpose.bin`` stand-in (tests/openpose_stub.py: everything but the network),
over all the videos, once with the stage's block of 64 samples and once with blocks of one.
The stand-in records the bytes on disk in the stage's scratch folder at each call: the
peak disk use of a pose job. NTU60's figures are extrapolated from the per-video means:
the original keeps every frame of its 56,880 videos; a pose job holds one block.

Usage: python bench/frames.py [--videos DIR] [--json out.json] [--pose-height 540]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from openpose_stub import write_fake_openpose
from realvideos import VIDEOS, folder_bytes, real_videos, samples_table

from mmnet.datasets.ntu import NTU60
from mmnet.frames import FrameConfig
from mmnet.pose2d import PoseOptions, make_backend
from mmnet.pose2d.base import OpenPoseOptions
from mmnet.stages.frames import write_shard_frames
from mmnet.stages.pose2d import estimate_shard
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.store import SAMPLES_PER_FILE
from mmnet.video import VideoReader

#: RGB videos of NTU RGB+D 60 (the original dumps the frames of every one).
NTU60_VIDEOS = 56_880


def digest(array) -> str:
    return hashlib.blake2b(array.tobytes(), digest_size=16).hexdigest()


def original_route(video: Path, out: Path) -> tuple[float, int, list[str]]:
    """Every frame decoded and written as ``<k>.jpg`` (quality 75); per-frame digests."""
    out.mkdir()
    digests = []
    start = time.perf_counter()
    with av.open(str(video)) as container:
        for k, frame in enumerate(container.decode(video=0)):
            pixels = frame.to_ndarray(format="rgb24")
            Image.fromarray(pixels).save(out / f"{k}.jpg", quality=75)
            digests.append(digest(pixels))
    return time.perf_counter() - start, folder_bytes(out), digests


def ours_stage(video: Path, work: Path, config: FrameConfig) -> tuple[float, int, int]:
    samples = work / "samples.parquet"
    samples_table([video], samples)
    start = time.perf_counter()
    table = write_shard_frames(NTU60, config, Shard(0, 1), samples, work / "frames")
    seconds = time.perf_counter() - start
    return seconds, folder_bytes(work / "frames" / "images"), int(table["frames_written"][0])


def openpose_binary_disk(videos: list[Path], config: FrameConfig, block: int) -> dict:
    """extract_pose2d with the openpose.bin stand-in over ``videos``, ``block`` samples per
    block: the images and scratch bytes of every call, and whether nothing was left."""
    work = Path(tempfile.mkdtemp(prefix="bench-openpose-"))
    try:
        samples_table(videos, work / "samples.parquet")
        binary = write_fake_openpose(work / "bin")
        openpose = OpenPoseOptions(interface="binary", binary=str(binary))
        backend = make_backend("openpose", NTU60, options=PoseOptions(openpose=openpose))
        estimate_shard(
            NTU60, backend, config, Shard(0, 1), work / "samples.parquet",
            ShardOutput(work / "p.zarr", work / "p.parquet"), samples_per_file=block,
        )  # fmt: skip
        calls = [[int(v) for v in line.split()] for line in (binary.parent / "disk.txt").open()]
        left = list(work.rglob("*.jpg"))
        return {
            "block": block, "calls": len(calls), "images": sum(c[0] for c in calls),
            "peak_bytes": max(c[2] for c in calls), "written_bytes": sum(c[2] for c in calls),
            "frames_left_on_disk": len(left),
        }  # fmt: skip
    finally:
        shutil.rmtree(work)


def pyav_seek(video: Path, frames: list[int], reference: list[str]) -> tuple[float, bool]:
    start = time.perf_counter()
    with VideoReader(video) as reader:
        images = reader.read(frames)
    seconds = time.perf_counter() - start
    return seconds, all(digest(images[f]) == reference[f] for f in frames)


def opencv_all(video: Path) -> tuple[float, list[str]]:
    capture = cv2.VideoCapture(str(video))
    digests = []
    start = time.perf_counter()
    while True:
        ok, image = capture.read()
        if not ok:
            break
        digests.append(digest(image))
    capture.release()
    return time.perf_counter() - start, digests


def opencv_seek(video: Path, frames: list[int], reference: list[str]) -> tuple[float, bool]:
    capture = cv2.VideoCapture(str(video))
    start = time.perf_counter()
    exact = True
    for frame in frames:
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame)
        ok, image = capture.read()
        exact &= ok and digest(image) == reference[frame]
    capture.release()
    return time.perf_counter() - start, exact


def pyav_all(video: Path) -> float:
    start = time.perf_counter()
    with av.open(str(video)) as container:
        for frame in container.decode(video=0):
            frame.to_ndarray(format="rgb24")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of *_rgb.avi")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--pose-height", type=int, default=540, help="frames.pose_height")
    parser.add_argument("--jpeg-quality", type=int, default=90, help="frames.jpeg_quality")
    args = parser.parse_args()
    config = FrameConfig(pose_height=args.pose_height, jpeg_quality=args.jpeg_quality)
    rows = []
    videos = real_videos(args.videos)
    for video in videos:
        work = Path(tempfile.mkdtemp(prefix="bench-frames-"))
        try:
            orig_s, orig_bytes, digests = original_route(video, work / "all")
            ours_s, ours_bytes, written = ours_stage(video, work / "ours", config)
            selected = sorted(
                {int(f) for f in config.select(len(digests), video.name[:20]).frames()}
            )
            seek_s, seek_exact = pyav_seek(video, selected, digests)
            cv_all_s, cv_digests = opencv_all(video)
            cv_seek_s, cv_exact = opencv_seek(video, selected, cv_digests)
            rows.append({
                "video": video.name, "frames": len(digests), "selected": written,
                "original_s": orig_s, "original_bytes": orig_bytes,
                "ours_s": ours_s, "ours_bytes": ours_bytes,
                "pyav_seek_s": seek_s, "pyav_seek_exact": seek_exact, "pyav_all_s": pyav_all(video),
                "opencv_seek_s": cv_seek_s, "opencv_seek_exact": cv_exact,
                "opencv_all_s": cv_all_s, "opencv_frames": len(cv_digests),
            })  # fmt: skip
        finally:
            shutil.rmtree(work)
    header = ("video", "frames", "sel", "orig s", "orig MB", "ours s", "ours KB", "time x",
              "disk x", "PyAV seek s", "=", "PyAV all s", "CV seek s", "=", "CV all s")  # fmt: skip
    print(" | ".join(header))
    for r in rows:
        print(" | ".join([
            r["video"][:20], str(r["frames"]), str(r["selected"]), f"{r['original_s']:.2f}",
            f"{r['original_bytes'] / 1e6:.1f}", f"{r['ours_s']:.3f}",
            f"{r['ours_bytes'] / 1e3:.0f}",
            f"{r['original_s'] / r['ours_s']:.1f}", f"{r['original_bytes'] / r['ours_bytes']:.0f}",
            f"{r['pyav_seek_s']:.3f}", "yes" if r["pyav_seek_exact"] else "NO",
            f"{r['pyav_all_s']:.3f}", f"{r['opencv_seek_s']:.3f}",
            "yes" if r["opencv_seek_exact"] else "NO", f"{r['opencv_all_s']:.3f}",
        ]))  # fmt: skip
    mean = {
        key: statistics.mean(r[key] for r in rows)
        for key in rows[0]
        if key.endswith(("_s", "_bytes"))
    }
    summary = {
        "videos": len(rows),
        "seconds_per_video": {k: round(v, 4) for k, v in mean.items() if k.endswith("_s")},
        "original_over_ours_time": round(mean["original_s"] / mean["ours_s"], 1),
        "original_over_ours_disk": round(mean["original_bytes"] / mean["ours_bytes"], 1),
        "original_over_roi_path_time": round(mean["original_s"] / mean["pyav_seek_s"], 1),
        "bytes_per_video": {
            "original": round(mean["original_bytes"]), "ours": round(mean["ours_bytes"]),
        },
        "pyav_seek_exact": all(r["pyav_seek_exact"] for r in rows),
        "opencv_seek_exact": all(r["opencv_seek_exact"] for r in rows),
    }  # fmt: skip
    binary_route = [openpose_binary_disk(videos, config, b) for b in (SAMPLES_PER_FILE, 1)]
    per_video = binary_route[0]["written_bytes"] / len(videos)
    original_ntu60 = mean["original_bytes"] * NTU60_VIDEOS
    peak_ntu60 = per_video * SAMPLES_PER_FILE
    summary["openpose_binary"] = {
        "runs": binary_route,
        "bytes_per_video_written_then_deleted": round(per_video),
        "ntu60_original_dump_gb": round(original_ntu60 / 1e9, 1),
        "ntu60_peak_per_pose_job_mb": round(peak_ntu60 / 1e6, 1),
        "ntu60_original_over_peak_per_pose_job": round(original_ntu60 / peak_ntu60),
    }
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "videos": rows}, indent=2))


if __name__ == "__main__":
    main()
