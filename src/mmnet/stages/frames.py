"""Stage extract_frames: the selected frames of one shard as JPEG files (``frames.keep``).

Only the OpenPose binary reads frame files, and extract_pose2d decodes them itself, one
block at a time, unless ``frames.keep`` asks to keep them (e.g. to run OpenPose elsewhere
and come back with the ``import`` backend). Output: ``<out>/images/<stem>.jpg`` (OpenPose's
naming, so ``openpose.bin --image_dir`` writes the JSON names the original used) and
``<out>/frames.parquet``: one row per sample of the shard with ``frames_status`` (``ok``,
``skipped``, or the video or frame-folder problem) and sizes. A bad video or frame folder
is recorded, not fatal; a frame file that cannot be read is not written and is named in
``frames_reason``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mmnet.config import Config
from mmnet.datasets.base import Dataset
from mmnet.frame_source import FramesError, open_frames, unreadable_note, write_frame_images
from mmnet.frames import FrameConfig
from mmnet.logs import progress
from mmnet.stages.shards import Shard
from mmnet.status import STATUS_OK, STATUS_SKIPPED
from mmnet.store import SAMPLES_PER_FILE, atomic_path, typed_table, write_parquet

log = logging.getLogger(__name__)

FRAMES_TABLE = "frames.parquet"
IMAGES = "images"
FRAMES_COLUMNS = (
    "row", "sample", "frames_status", "frames_reason", "video_frames", "video_width",
    "video_height", "image_width", "image_height", "frames_written",
)  # fmt: skip


def extract_frames(
    config: Config, dataset: str, shard: Shard, samples: str | Path, out_dir: str | Path
) -> pd.DataFrame:
    """Rule extract_frames (``mmnet extract-frames``): see :func:`write_shard_frames`."""
    return write_shard_frames(config.dataset(dataset).kind, config.frames, shard, samples, out_dir)


def write_shard_frames(
    kind: Dataset,
    frames: FrameConfig,
    shard: Shard,
    samples: str | Path,
    out_dir: str | Path,
    *,
    samples_per_file: int = SAMPLES_PER_FILE,
) -> pd.DataFrame:
    """Decode the selected frames of the rows of ``shard`` into ``out_dir``."""
    table = pd.read_parquet(samples)
    rows = shard.rows(len(table), samples_per_file)
    records = []
    with atomic_path(out_dir) as tmp:
        (tmp / IMAGES).mkdir(parents=True)
        for row in progress(rows, desc=f"frames {shard.name}", unit="sample"):
            sample = table.iloc[row].to_dict()
            record = {"row": row, "sample": sample["sample"], "frames_status": STATUS_SKIPPED,
                      "frames_reason": f"sample status is {sample['status']}"}  # fmt: skip
            if sample["status"] == STATUS_OK:
                record.update(_extract_sample(kind, sample, tmp / IMAGES, frames))
            records.append(record)
        result = typed_table(records, FRAMES_COLUMNS)
        write_parquet(result, tmp / FRAMES_TABLE)
    written = int(result["frames_written"].fillna(0).sum())
    video_frames = int(result["video_frames"].fillna(0).sum())
    log.info(
        "shard %s: %d samples, %d of their %d video frames decoded and written; %s",
        shard.name, len(rows), written, video_frames,
        result["frames_status"].value_counts().to_dict(),
    )  # fmt: skip
    return result


def _extract_sample(dataset: Dataset, sample: dict, out_dir: Path, config: FrameConfig) -> dict:
    try:
        with open_frames(dataset, sample) as source:
            selection = config.select(source.n_frames, sample["sample"], dataset.rgb.frame_rule)
            frames = {
                int(f): dataset.frame_stem(sample, source.pose_index(int(f)))
                for f in selection.frames()
            }
            width, height = write_frame_images(
                source, frames, out_dir, max_height=config.pose_height,
                quality=config.jpeg_quality,
            )  # fmt: skip
            return {
                "frames_status": STATUS_OK, "frames_reason": unreadable_note(source.problems),
                "video_frames": source.total_frames, "video_width": source.width,
                "video_height": source.height, "image_width": width, "image_height": height,
                "frames_written": len(frames) - len(source.problems),
            }  # fmt: skip
    except FramesError as err:
        log.warning("%s: %s", sample["sample"], err)
        return {"frames_status": err.status, "frames_reason": str(err)}
