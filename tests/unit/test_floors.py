"""Floors: a stage that keeps too few samples fails, names the reasons, and writes nothing."""

from __future__ import annotations

import shutil

import pytest
from conftest import realdata
from realvideos import real_videos, samples_table

from mmnet.config import SkeletonOptions
from mmnet.datasets.base import RawPaths
from mmnet.datasets.ntu import NTU60
from mmnet.frames import FrameConfig
from mmnet.pose2d import make_backend
from mmnet.stages.floors import FloorError
from mmnet.stages.index import write_index
from mmnet.stages.pose2d import estimate_shard, merge_poses
from mmnet.stages.roi import merge_rois, roi_shard
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import build_skeletons

pytestmark = pytest.mark.realdata
CONFIG = FrameConfig(training_candidates=1)


def test_a_protocol_without_test_samples_fails_before_any_store(tmp_path):
    """The seven real NTU60 files are all cross-subject training subjects (P001, P008)."""
    raw = RawPaths(skeletons=(realdata("ntu60", "skeletons"),))
    write_index(NTU60, raw, ["xsub", "xview"], tmp_path / "index.parquet")
    with pytest.raises(FloorError, match="protocol xsub has 7 training and 0 test samples"):
        build_skeletons(NTU60, SkeletonOptions(), tmp_path / "index.parquet",
                        tmp_path / "skeleton.zarr", tmp_path / "samples.parquet",
                        protocols=["xsub", "xview"])  # fmt: skip
    assert not (tmp_path / "skeleton.zarr").exists()
    assert not (tmp_path / "samples.parquet").exists()
    build_skeletons(
        NTU60,
        SkeletonOptions(),
        tmp_path / "index.parquet",
        tmp_path / "skeleton.zarr",
        tmp_path / "samples.parquet",
        protocols=["xview"],
    )  # fmt: skip  (cameras 2, 3 train; camera 1 tests)


def test_every_video_broken_fails_the_roi_stage_naming_the_reasons(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    for video in real_videos()[:3]:
        shutil.copy(video, videos / video.name)
    samples = tmp_path / "samples.parquet"
    samples_table(sorted(videos.iterdir()), samples)
    backend = make_backend("mediapipe", NTU60)
    pose = ShardOutput(tmp_path / "p.zarr", tmp_path / "p.parquet")
    estimate_shard(NTU60, backend, CONFIG, Shard(0, 1), samples, pose)
    merge_poses(samples, [pose.store], [pose.table], tmp_path / "pose2d.zarr",
                tmp_path / "pose2d.parquet")  # fmt: skip
    for video in videos.iterdir():  # the videos break between the pose and the ROI stage
        video.write_bytes(b"not a video")
    roi = ShardOutput(tmp_path / "r.zarr", tmp_path / "r.parquet")
    roi_shard(NTU60, CONFIG, Shard(0, 1), samples, tmp_path / "pose2d.zarr",
              tmp_path / "pose2d.parquet", roi)  # fmt: skip
    with pytest.raises(FloorError) as error:
        merge_rois(samples, [roi.store], [roi.table], tmp_path / "roi.zarr",
                   tmp_path / "roi.parquet")  # fmt: skip
    message = str(error.value)
    assert message.startswith("roi: kept 0 of 3 samples (0%; floor 50%)")
    assert "3 x video_unreadable (e.g. " in message and "floors.min_kept" in message
    assert not (tmp_path / "roi.zarr").exists() and not (tmp_path / "roi.parquet").exists()
