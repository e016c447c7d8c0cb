"""The real NTU videos of ../shared/realdata as a samples table, for bench/frames.py and
bench/roi.py: one ``ok`` row per video with its frame count and path. Only
S001C001P001R001A001 has its skeleton file; the S004 videos have none (their poses come
from a model, never from the skeleton)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from mmnet.store import write_parquet
from mmnet.video import VideoReader

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMNET_REALDATA", REPO.parent / "shared" / "realdata"))
VIDEOS = REALDATA / "ntu60" / "videos"
SKELETONS = REALDATA / "ntu60" / "skeletons"


def real_videos(folder: Path = VIDEOS) -> list[Path]:
    videos = sorted(folder.glob("*_rgb.avi"))
    if not videos:
        raise SystemExit(f"no *_rgb.avi in {folder} (set MMNET_REALDATA)")
    return videos


def samples_table(videos: list[Path], out: Path) -> pd.DataFrame:
    """Write a ``samples.parquet`` for ``videos`` (NTU ids from the file names)."""
    rows = []
    for path in videos:
        sample = path.name.removesuffix("_rgb.avi")
        with VideoReader(path) as reader:
            n_frames = reader.n_frames
        skeleton = SKELETONS / f"{sample}.skeleton"
        action = int(sample[-3:])
        rows.append({
            "sample": sample, "action": action, "label": action - 1, "status": "ok",
            "reason": "", "n_frames": n_frames, "video_path": str(path),
            "skeleton_path": str(skeleton) if skeleton.is_file() else None,
        })  # fmt: skip
    table = pd.DataFrame(rows)
    table["n_frames"] = table["n_frames"].astype("int32")
    write_parquet(table, out)
    return table


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
