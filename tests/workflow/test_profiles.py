"""The execution profiles, as Snakemake reads them (dry runs; no cluster needed)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml
from conftest import REPO, job_counts, realdata, snakemake_command

pytestmark = pytest.mark.workflow


def test_profile_dry_run_prints_each_jobs_sbatch_resources(tmp_path):
    """On a real-looking config (the real NTU60 files), `-n` with the profile shows what
    every job of `results/ntu60_xsub/ensemble.json` would ask SLURM for, with the profile's
    shard counts."""
    skeletons, videos = realdata("ntu60", "skeletons"), realdata("ntu60", "videos")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {skeletons}\n    videos: {videos}\n"
    )
    out = subprocess.run(
        [*snakemake_command(tmp_path), "--profile", str(REPO / "profiles" / "slurm"), "-n",
         "results/ntu60_xsub/ensemble.json", "--configfile", str(config)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counts = job_counts(out)
    assert counts["parse_skeletons"] == counts["extract_pose2d"] == counts["build_roi"] == 64
    # the paper's MS-G3D joint and bone, the rgb stream's ST-GCN teacher, rgb, the ensemble
    assert counts["train_skeleton"] == 3 and counts["train_rgb"] == 1 and counts["ensemble"] == 1
    streams = re.findall(r"wildcards: dataset=ntu60, protocol=xsub, stream=(\w+)", out)
    assert sorted(streams) == ["bone", "joint", "rgb", "teacher"]  # train_rgb: stream=rgb
    assert "results/ntu60_xsub/teacher/model.pt" in out.split("rule train_rgb:")[1]
    options = {
        stream: yaml.safe_load(subprocess.run(
            [sys.executable, "-m", "mmnet", "train-options", "-c", str(config), "-d", "ntu60",
             "-p", "xsub", "-s", stream], capture_output=True, text=True, check=True).stdout)
        for stream in ("joint", "bone", "teacher")
    }  # fmt: skip
    assert [options[s]["backbone"] for s in ("joint", "bone", "teacher")] == ["msg3d"] * 2 + [
        "stgcn"
    ]
    assert (options["joint"]["base_lr"], options["joint"]["lr_steps"]) == (0.05, [30, 40])
    resources = dict(re.findall(r"^rule (\w+):.*?^\s+resources: (.*?)$", out, flags=re.M | re.S))
    assert set(resources) == {
        "index_samples", "parse_skeletons", "gather_skeletons", "extract_pose2d",
        "gather_pose2d", "build_roi", "gather_roi", "train_skeleton", "train_rgb", "ensemble",
    }  # fmt: skip
    for rule, line in resources.items():
        assert "mem_mb=" in line and "runtime=" in line, rule
        if rule.startswith("train_"):
            assert "slurm_partition=gpu" in line and "gpu=1" in line and "cpus_per_gpu=8" in line
        else:
            assert "slurm_partition=cpu" in line, rule


def test_local_profile_dry_run(tmp_path):
    out = subprocess.run(
        [*snakemake_command(tmp_path), "--profile", str(REPO / "profiles" / "local"), "-n",
         "--configfile", str(REPO / "config" / "demo.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert job_counts(out)["parse_skeletons"] == 8  # the workstation's shard count
    assert "mem_mb=2000" in out  # the profile's default for rules that declare none
