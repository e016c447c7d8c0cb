"""Real Snakemake runs of the RGB stages (frames, 2D pose, ROI) in temporary folders."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import realdata
from openpose_stub import write_fake_openpose
from PIL import Image
from test_skeleton_workflow import job_counts, snakemake, write_config

from mmnet.roi import RoiStore

pytestmark = pytest.mark.workflow

SMALL_DEMO = """
datasets:
  demo:
    kind: demo
    protocols: [xview]  # two subjects: both are xsub training subjects
    pose_backend: {backend}
demo:
  subjects: 2
  replications: 1
frames:
  training_candidates: 2
  pose_height: 135
pose2d:
  openpose:
    interface: {interface}
    binary: {binary}
    extra_args: [--net_resolution, -1x368]
"""


def test_demo_with_the_openpose_binary(tmp_path):
    """extract_pose2d (openpose.bin stand-in) -> build_roi, sharded: the pose jobs decode
    their own frames (no extract_frames job, no frame left on disk) unless `frames.keep`;
    the preview rule draws the tiles."""
    binary = write_fake_openpose(tmp_path / "openpose")
    text = SMALL_DEMO.format(backend="openpose", interface="binary", binary=binary)
    config = write_config(tmp_path, text)
    args = ["--configfile", config, "--set-scatter", "skeleton_shards=2", "rgb_shards=2"]
    counts = job_counts(snakemake(tmp_path, "-n", *args).stdout)
    assert "extract_frames" not in counts and counts["extract_pose2d"] == counts["build_roi"] == 2
    kept = write_config(tmp_path / "kept", text.replace("frames:\n", "frames:\n  keep: true\n"))
    counts = job_counts(snakemake(tmp_path, "-n", *args, "--configfile", kept).stdout)
    assert counts["extract_frames"] == counts["extract_pose2d"] == 2
    snakemake(tmp_path, "results/demo/roi.zarr", "results/demo/roi_preview.png", *args)
    results = tmp_path / "results" / "demo"
    assert not (results / "frames").exists() and not list(results.rglob("*.jpg"))
    calls = (tmp_path / "openpose" / "calls.txt").read_text().splitlines()
    assert len(calls) == 1 and "--net_resolution -1x368" in calls[0]  # one call per block
    images, held, _ = (tmp_path / "openpose" / "disk.txt").read_text().split()
    assert images == held  # while OpenPose ran, the disk held its block's frames only
    pose = pd.read_parquet(results / "pose2d.parquet")
    samples = pd.read_parquet(results / "samples.parquet")
    ok = samples["status"] == "ok"
    assert (pose.loc[ok, "pose_status"] == "ok").all()
    assert (pose.loc[~ok, "pose_status"] == "skipped").all()
    assert (pose.loc[ok, "pose_frames"] < pose.loc[ok, "video_frames"]).all()
    store = RoiStore(results / "roi.zarr")
    assert store.available.sum() == ok.sum()
    assert zarr.open_group(results / "pose2d.zarr", mode="r").attrs["backend"] == "openpose"
    assert Image.open(results / "roi_preview.png").size[0] > 0
    for rule in ("extract_pose2d", "build_roi", "gather_roi", "roi_preview"):
        assert any((tmp_path / "results" / "logs" / rule).iterdir())
        assert any((tmp_path / "results" / "benchmarks" / rule).iterdir())


def test_backends_without_frame_files_skip_extract_frames(tmp_path):
    """mediapipe and OpenPose's Python bindings decode in memory: no extract_frames job."""
    for backend, interface in (("mediapipe", "binary"), ("openpose", "python")):
        text = SMALL_DEMO.format(backend=backend, interface=interface, binary="openpose.bin")
        config = write_config(tmp_path / f"{backend}_{interface}", text)
        counts = job_counts(snakemake(tmp_path, "-n", "--configfile", config).stdout)
        assert "extract_frames" not in counts and counts["extract_pose2d"] == 8, backend


def test_rules_and_cli_write_identical_roi_stores(tmp_path):
    skeletons, videos = realdata("ntu60", "skeletons"), realdata("ntu60", "videos")
    text = (  # cross-view only; six of the seven videos are not in realdata: no floor
        f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {skeletons}\n    videos: {videos}\n"
        "    protocols: [xview]\nfloors: {min_kept: 0}\n"
    )
    rules = tmp_path / "rules"
    args = ["--set-scatter", "skeleton_shards=1", "rgb_shards=2"]
    targets = [f"results/ntu60/{name}" for name in ("skeleton.zarr", "pose2d.zarr", "roi.zarr")]
    snakemake(rules, *targets, "--configfile", write_config(rules, text), *args)
    cli = tmp_path / "cli"
    config = write_config(cli, text)
    for command in (["skeletons"], ["rgb", "-w", "2"]):
        subprocess.run(
            [sys.executable, "-m", "mmnet", *command, "-c", config, "-d", "ntu60"],
            cwd=cli, check=True, capture_output=True,
        )  # fmt: skip
    for name in ("pose2d", "roi"):
        a = zarr.open_group(rules / "results" / "ntu60" / f"{name}.zarr", mode="r")
        b = zarr.open_group(cli / "results" / "ntu60" / f"{name}.zarr", mode="r")
        assert sorted(a.array_keys()) == sorted(b.array_keys())
        for key in a.array_keys():
            np.testing.assert_array_equal(a[key][:], b[key][:], err_msg=f"{name}/{key}")
        pd.testing.assert_frame_equal(
            pd.read_parquet(rules / "results" / "ntu60" / f"{name}.parquet"),
            pd.read_parquet(cli / "results" / "ntu60" / f"{name}.parquet"),
        )
    roi = pd.read_parquet(cli / "results" / "ntu60" / "roi.parquet")
    assert list(roi["roi_status"]) == ["ok"] + ["video_missing"] * 6


def test_rgb_config_errors_name_the_key(tmp_path):
    skeletons = realdata("ntu60", "skeletons")
    no_videos = write_config(
        tmp_path, f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {skeletons}\n"
    )
    result = snakemake(
        tmp_path, "-n", "results/ntu60/roi.zarr", "--configfile", no_videos, check=False
    )
    assert result.returncode != 0
    assert "datasets.ntu60.videos: required for the RGB stages" in result.stdout + result.stderr
    no_json = write_config(
        tmp_path, "datasets:\n  demo:\n    kind: demo\n    pose_backend: import\n"
    )
    result = snakemake(tmp_path, "-n", "--configfile", no_json, check=False)
    assert "datasets.demo.openpose_json: required by pose_backend 'import'" in (
        result.stdout + result.stderr
    )
    typo = write_config(
        tmp_path, "datasets:\n  demo:\n    kind: demo\nframes:\n  temporal_frames: 5\n"
    )
    result = snakemake(tmp_path, "-n", "--configfile", typo, check=False)
    assert "frames: unknown key(s) ['temporal_frames']" in result.stdout + result.stderr
