"""Which video frames a sample's ROI uses (spec §4.3.1): one function for every stage.

The original picks, per access, ``K`` frames of a sample of ``L`` frames (``Q = K + 1``,
``s = L // Q``):

- evaluation: the candidates ``0, s, 2s, ...`` (< L) minus every value equal to 0 or to
  ``Q*s``, first ``K`` kept: the frames ``s, 2s, ..., K*s``, the inner boundaries of
  ``Q`` equal segments;
- training (random interval): ``s' ~ U{1..L//Q}``, ``start ~ U{0..L-Q*s'}``, candidates
  ``start + i*s'`` (< L), the same dropping rule with ``s'``, first ``K`` kept;
- ``L < Q`` (``s == 0``): ``[i*L//K + L//(2K) for i < K]`` minus zeros, so fewer than ``K``
  frames may remain (their columns stay empty, as in the original).

Frames are stored once, so training cannot draw afresh at every access. Instead ``k``
random-interval draws per sample are made here, exactly as above, with a generator seeded
by the configuration's seed and the sample id (the same frames in every stage, shard and
run). Draw ``j`` puts one candidate frame in every segment (tile column); the training
loader picks one draw per access (:class:`mmnet.roi.RoiStore`).

Fallback (spec §4.3.1): a frame where the pose stage finds nobody is replaced by the next
frame (up to ``fallback`` frames later) that has somebody; :func:`fallback_chain` lists the
frames to try, in order.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mmnet.datasets.base import STATUS_OK, Dataset
from mmnet.logs import progress
from mmnet.store import SAMPLES_PER_FILE, atomic_path, shard_blocks, typed_table, write_parquet
from mmnet.video import VideoError, VideoReader, open_sample_video, scaled_size

log = logging.getLogger(__name__)

#: Column entry of a frame that does not exist (``L < K + 1``) or has no person.
NO_FRAME = -1
#: Stage status of a sample that is not ``ok`` in ``samples.parquet`` (not processed).
STATUS_SKIPPED = "skipped"


@dataclass(frozen=True)
class FrameSelection:
    """The frames of one sample's tiles; ``NO_FRAME`` marks an empty column.

    Attributes:
        evaluation: ``(K,)`` frames of the evaluation tile.
        training: ``(k, K)`` frames of the ``k`` random-interval training draws.
    """

    evaluation: np.ndarray
    training: np.ndarray

    @property
    def slots(self) -> np.ndarray:
        """Every column's frame: evaluation first, then the draws, ``(K * (1 + k),)``."""
        return np.concatenate([self.evaluation, self.training.ravel()])

    def frames(self) -> np.ndarray:
        """The distinct frames used, ascending."""
        slots = self.slots
        return np.unique(slots[slots != NO_FRAME])


def _first_kept(candidates: range, interval: int, count: int) -> np.ndarray:
    """Drop candidates equal to 0 or to ``(count + 1) * interval``; keep the first ``count``."""
    dropped = {0, (count + 1) * interval}
    kept = [c for c in candidates if c not in dropped][:count]
    return _padded(kept, count)


def _padded(frames: list[int], count: int) -> np.ndarray:
    out = np.full(count, NO_FRAME, dtype=np.int64)
    out[: len(frames)] = frames
    return out


def _short_sample(n_frames: int, count: int) -> np.ndarray:
    """The original's ``s == 0`` rule for samples with fewer than ``count + 1`` frames."""
    frames = [i * n_frames // count + n_frames // (2 * count) for i in range(count)]
    return _padded([f for f in frames if f != 0], count)


def evaluation_frames(n_frames: int, count: int = 5) -> np.ndarray:
    """The fixed frames ``s, 2s, ..., count*s`` (``s = n_frames // (count + 1)``)."""
    interval = n_frames // (count + 1)
    if interval == 0:
        return _short_sample(n_frames, count)
    return _first_kept(range(0, n_frames, interval), interval, count)


def random_interval_frames(n_frames: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """One random-interval draw: ``start + i*s'`` with random ``s'`` and ``start``."""
    segments = count + 1
    if n_frames // segments == 0:
        return _short_sample(n_frames, count)
    interval = int(rng.integers(1, n_frames // segments + 1))
    start = int(rng.integers(0, n_frames - segments * interval + 1))
    return _first_kept(range(start, n_frames, interval), interval, count)


def sample_rng(seed: int, sample: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the sample id (stable across runs)."""
    return np.random.default_rng([seed, zlib.crc32(sample.encode())])


def select_frames(
    n_frames: int, sample: str, *, count: int = 5, draws: int = 3, seed: int = 0
) -> FrameSelection:
    """The evaluation frames and ``draws`` random-interval draws of one sample."""
    if n_frames < 1:
        raise ValueError(f"{sample}: a sample needs at least one frame, got {n_frames}")
    rng = sample_rng(seed, sample)
    training = np.array(
        [random_interval_frames(n_frames, count, rng) for _ in range(draws)], dtype=np.int64
    ).reshape(draws, count)
    return FrameSelection(evaluation_frames(n_frames, count), training)


def fallback_chain(frame: int, n_frames: int, fallback: int) -> list[int]:
    """Frames to try for a column, in order: ``frame, frame + 1, ..., frame + fallback``."""
    if frame == NO_FRAME:
        return []
    return list(range(frame, min(frame + fallback + 1, n_frames)))


@dataclass(frozen=True)
class FrameConfig:
    """The ``frames`` section of the config (see the schema for each key)."""

    temporal_rgb_frames: int = 5
    training_candidates: int = 3
    seed: int = 0
    fallback: int = 2
    pose_height: int | None = 540
    jpeg_quality: int = 90
    keep: bool = False

    def select(self, n_frames: int, sample: str) -> FrameSelection:
        return select_frames(
            n_frames,
            sample,
            count=self.temporal_rgb_frames,
            draws=self.training_candidates,
            seed=self.seed,
        )

    @property
    def slots(self) -> int:
        """Columns per sample: the evaluation tile's and the training candidates'."""
        return self.temporal_rgb_frames * (1 + self.training_candidates)

    @property
    def max_pose_frames(self) -> int:
        """Most frames the pose stage can look at in one sample (every slot, every fallback)."""
        return self.slots * (1 + self.fallback)


# --- the extract_frames stage --------------------------------------------------------------

FRAMES_TABLE = "frames.parquet"
IMAGES = "images"
FRAMES_COLUMNS = (
    "row", "sample", "frames_status", "frames_reason", "video_frames", "video_width",
    "video_height", "image_width", "image_height", "frames_written",
)  # fmt: skip


def write_frame_images(
    reader: VideoReader,
    frames: dict[int, str],
    out_dir: Path,
    *,
    first_frame: int = 0,
    max_height: int | None,
    quality: int,
) -> tuple[int, int]:
    """Decode sample frames ``{frame: file stem}`` and write them as JPEG into ``out_dir``.

    Frames are shrunk to ``max_height`` lines (pose models see far fewer; ``docs/rgb.md``).
    Returns the image size ``(width, height)``.
    """
    size = scaled_size(reader.width, reader.height, max_height)
    images = reader.read([first_frame + f for f in frames], size=size)
    for frame, stem in frames.items():
        Image.fromarray(images[first_frame + frame]).save(out_dir / f"{stem}.jpg", quality=quality)
    return size


def extract_frames(
    samples: str | Path,
    dataset: Dataset,
    shard: int,
    n_shards: int,
    out_dir: str | Path,
    config: FrameConfig,
    *,
    samples_per_file: int = SAMPLES_PER_FILE,
) -> pd.DataFrame:
    """Decode the selected frames of shard ``shard`` of ``n_shards`` into ``out_dir``.

    ``out_dir/images/<stem>.jpg`` (OpenPose's naming, so ``openpose.bin --image_dir`` writes
    the JSON names the original used) and ``out_dir/frames.parquet``: one row per sample of
    the shard with ``frames_status`` (``ok``, ``skipped``, or the video problem) and sizes.
    A bad video is recorded, not fatal.
    """
    table = pd.read_parquet(samples)
    blocks = shard_blocks(len(table), shard, n_shards, samples_per_file)
    rows = [row for block in blocks for row in block]
    records = []
    with atomic_path(out_dir) as tmp:
        (tmp / IMAGES).mkdir(parents=True)
        for row in progress(rows, desc=f"frames {shard + 1}/{n_shards}", unit="sample"):
            sample = table.iloc[row].to_dict()
            record = {"row": row, "sample": sample["sample"], "frames_status": STATUS_SKIPPED,
                      "frames_reason": f"sample status is {sample['status']}"}  # fmt: skip
            if sample["status"] == STATUS_OK:
                record.update(_extract_sample(dataset, sample, tmp / IMAGES, config))
            records.append(record)
        result = typed_table(records, FRAMES_COLUMNS)
        write_parquet(result, tmp / FRAMES_TABLE)
    written = int(result["frames_written"].fillna(0).sum())
    video_frames = int(result["video_frames"].fillna(0).sum())
    log.info(
        "shard %d/%d: %d samples, %d of their %d video frames decoded and written; %s",
        shard + 1, n_shards, len(rows), written, video_frames,
        result["frames_status"].value_counts().to_dict(),
    )  # fmt: skip
    return result


def _extract_sample(dataset: Dataset, sample: dict, out_dir: Path, config: FrameConfig) -> dict:
    video = dataset.sample_video(sample)
    selection = config.select(video.n_frames, sample["sample"])
    try:
        with open_sample_video(video) as reader:
            frames = {
                int(f): dataset.frame_stem(sample, video.first_frame + int(f))
                for f in selection.frames()
            }
            width, height = write_frame_images(
                reader, frames, out_dir, first_frame=video.first_frame,
                max_height=config.pose_height, quality=config.jpeg_quality,
            )  # fmt: skip
            return {
                "frames_status": STATUS_OK, "frames_reason": "",
                "video_frames": reader.n_frames, "video_width": reader.width,
                "video_height": reader.height, "image_width": width, "image_height": height,
                "frames_written": len(frames),
            }  # fmt: skip
    except VideoError as err:
        log.warning("%s: %s", sample["sample"], err)
        return {"frames_status": err.status, "frames_reason": str(err)}
