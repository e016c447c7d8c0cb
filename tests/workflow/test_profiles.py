"""The execution profiles, as Snakemake reads them (dry runs; no cluster needed)."""

from __future__ import annotations

import re
import subprocess

import pytest
from conftest import REPO, job_counts, realdata, snakemake_command

pytestmark = pytest.mark.workflow


def test_profile_dry_run_prints_each_jobs_sbatch_resources(tmp_path):
    """On a real-looking config (the real NTU60 files), `-n` with the profile shows what
    every job would ask SLURM for, with the profile's shard count."""
    skeletons = realdata("ntu60", "skeletons")
    config = tmp_path / "config.yaml"
    config.write_text(f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {skeletons}\n")
    out = subprocess.run(
        [*snakemake_command(tmp_path), "--profile", str(REPO / "profiles" / "slurm"), "-n",
         "results/ntu60/skeleton.zarr", "--configfile", str(config)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert job_counts(out)["parse_skeletons"] == 64  # set-scatter
    resources = re.findall(r"^rule (\w+):.*?^\s+resources: (.*?)$", out, flags=re.M | re.S)
    assert {rule for rule, _ in resources} == {
        "index_samples",
        "parse_skeletons",
        "gather_skeletons",
    }
    for rule, line in resources:
        assert "slurm_partition=cpu" in line and "mem_mb=" in line and "runtime=" in line, rule


def test_local_profile_dry_run(tmp_path):
    out = subprocess.run(
        [*snakemake_command(tmp_path), "--profile", str(REPO / "profiles" / "local"), "-n",
         "--configfile", str(REPO / "config" / "demo.yaml")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert job_counts(out)["parse_skeletons"] == 8  # the workstation's shard count
    assert "mem_mb=2000" in out  # the profile's default for rules that declare none
