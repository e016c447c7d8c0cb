"""The PKU-MMD and N-UCLA demos through the real Snakemake DAG with their RGB side: the
shipped configs' DAGs, the optional rgb_plain stream, and small runs to ensemble.json with
joint, bone and rgb."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import REPO
from test_skeleton_workflow import job_counts, snakemake, write_config

pytestmark = pytest.mark.workflow

#: A small demo of each kind, one epoch per stream, one shard per stage.
SMALL = {
    "pku": ("demopku", "xview", """
datasets:
  demopku: {kind: demo_pku, protocols: [xview], pose_backend: import}
demo_pku: {subjects: 2, sequences: 1, frames: [24, 28], gaps: [12, 14]}
"""),
    "nucla": ("demonucla", "123", """
datasets:
  demonucla: {kind: demo_nucla, protocols: ["123"], pose_backend: import}
demo_nucla: {subjects: 2, environments: 1, frames: [24, 28]}
"""),
}  # fmt: skip
TRAIN = """
frames: {training_candidates: 1}
train:
  epochs: 1
  lr_steps: []
  batch_size: 8
  test_batch_size: 16
  base_channels: 4
  frame_stride: 2
  overrides:
    - match: {stream: rgb}
      set: {temporal_positions: 3}
"""
SHARDS = ("--set-scatter", "skeleton_shards=1", "rgb_shards=1")


@pytest.mark.parametrize(
    ("config", "run"), [("demo_pku.yaml", "demopku_xsub"), ("demo_nucla.yaml", "demonucla_123")]
)
def test_shipped_demo_configs_train_and_fuse_three_streams(tmp_path, config, run):
    out = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / config)).stdout
    counts = job_counts(out)
    assert counts["build_roi"] == counts["extract_pose2d"] == 8 and counts["roi_preview"] == 1
    assert counts["train_skeleton"] == 2 and counts["train_rgb"] == 1
    assert "extract_frames" not in counts  # import: no frame file is written
    ensemble = out.split("rule ensemble:")[1].split("output:")[0]
    for stream in ("joint", "bone", "rgb"):
        assert f"results/{run}/{stream}/scores.parquet" in ensemble
    assert "rgb_plain" not in out  # the baseline is off by default


def test_rgb_plain_is_trained_and_fused_when_named(tmp_path):
    extra = write_config(tmp_path, "ensemble: {streams: [joint, bone, rgb, rgb_plain]}\n")
    config = str(REPO / "config" / "demo_nucla.yaml")
    out = snakemake(tmp_path, "-n", "--configfile", config, extra).stdout
    assert job_counts(out)["train_rgb"] == 2
    plain = out.split("results/demonucla_123/rgb_plain/model.pt")[0].rsplit("rule train_rgb:", 1)[1]
    assert "joint/model.pt" not in plain  # no teacher for the baseline
    ensemble = out.split("rule ensemble:")[1].split("output:")[0]
    assert "results/demonucla_123/rgb_plain/scores.parquet" in ensemble


@pytest.mark.parametrize("kind", ["pku", "nucla"])
def test_small_demo_runs_to_ensemble_with_three_streams(tmp_path, kind):
    dataset, protocol, text = SMALL[kind]
    config = write_config(tmp_path, text + TRAIN)
    snakemake(tmp_path, "--configfile", config, *SHARDS)
    run = tmp_path / "results" / f"{dataset}_{protocol}"
    report = json.loads((run / "ensemble.json").read_text())
    assert list(report["streams"]) == ["joint", "bone", "rgb"]
    assert "joint+bone+rgb" in report["combinations"]
    roi = pd.read_parquet(tmp_path / "results" / dataset / "roi.parquet")
    usable = pd.read_parquet(tmp_path / "results" / dataset / "samples.parquet")["status"] == "ok"
    assert roi.loc[usable.to_numpy(), "roi_status"].isin(["ok", "partial"]).mean() > 0.8
    bad = roi[usable.to_numpy() & ~roi["roi_status"].isin(["ok", "partial"])]
    assert (bad["roi_reason"].str.len() > 0).all()  # every unusable ROI says why
    assert (tmp_path / "results" / dataset / "roi_preview.png").stat().st_size > 0
