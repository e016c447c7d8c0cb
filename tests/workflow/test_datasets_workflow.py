"""PKU-MMD and N-UCLA through the real Snakemake DAG (skeleton stage), on the real files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import REPO, job_counts, realdata, snakemake
from test_skeleton_workflow import write_config

pytestmark = [pytest.mark.workflow, pytest.mark.realdata]


def datasets_config(workdir: Path) -> str:
    pku, nucla = realdata("pku_mmd"), realdata("nw_ucla")
    return write_config(
        workdir,
        f"""datasets:
  pku:
    kind: pku
    skeletons: {pku / "PKU_Skeleton_Renew"}
    labels: {pku / "Train_Label_PKU_final"}
    splits: {pku / "Split"}
  nucla:
    kind: nucla
    skeletons: {nucla / "all_sqe"}
    protocols: [123, 132, 231]
train:
  protocols: {{pku: [], nucla: []}}  # the skeleton stage only
""",
    )


def test_dry_run_shows_both_datasets(tmp_path):
    out = snakemake(tmp_path, "-n", "--configfile", datasets_config(tmp_path)).stdout
    assert job_counts(out) == {
        "index_samples": 2, "parse_skeletons": 16, "gather_skeletons": 2, "all": 1, "total": 21,
    }  # fmt: skip
    assert not (tmp_path / "results").exists()


def test_their_ensemble_fuses_the_skeleton_streams(tmp_path):
    """Without their RGB source (no videos, no frames), ensemble.json fuses joint+bone."""
    config = datasets_config(tmp_path)
    out = snakemake(tmp_path, "-n", "results/pku_xsub/ensemble.json", "--configfile", config).stdout
    assert job_counts(out) == {
        "index_samples": 1, "parse_skeletons": 8, "gather_skeletons": 1, "train_skeleton": 2,
        "ensemble": 1, "total": 13,
    }  # fmt: skip
    ensemble = out.split("rule ensemble:")[1]
    assert "results/pku_xsub/joint/scores.parquet, results/pku_xsub/bone/scores.parquet" in ensemble
    assert "rgb" not in ensemble.split("output:")[0]


def test_skeleton_stage_runs_for_both(tmp_path):
    config = datasets_config(tmp_path)
    snakemake(tmp_path, "--configfile", config, "--set-scatter", "skeleton_shards=2")
    results = tmp_path / "results"
    pku = pd.read_parquet(results / "pku" / "samples.parquet")
    assert len(pku) == 45 and pku["status"].value_counts().to_dict() == {"ok": 29, "rejected": 16}
    assert {"video", "start", "end", "xsub", "xview"} <= set(pku.columns)
    nucla = pd.read_parquet(results / "nucla" / "samples.parquet")
    assert len(nucla) == 31 and (nucla["status"] == "ok").sum() == 30  # one unused by the original
    assert [c for c in nucla.columns if c[0].isdigit()] == ["123", "132", "231"]
    for name, shape, samples in (
        ("pku", (45, 3, 300, 25, 2), pku),
        ("nucla", (31, 3, 192, 20, 1), nucla),
    ):
        joint = zarr.open_group(results / name / "skeleton.zarr", mode="r")["joint"]
        assert joint.shape == shape
        ok = (samples["status"] == "ok").to_numpy()
        filled = np.array([joint[i].any() for i in range(len(samples))])
        assert (filled == ok).all()  # every usable sample has data, every rejected one none
        assert (results / "logs" / "gather_skeletons" / f"{name}.log").exists()
    rerun = snakemake(tmp_path, "-n", "--configfile", config, "--set-scatter", "skeleton_shards=2")
    assert "Nothing to be done" in rerun.stdout
    cli = tmp_path / "cli"
    cli.mkdir()
    for name in ("pku", "nucla"):  # the mmnet command writes the same store as the rules
        subprocess.run(
            [sys.executable, "-m", "mmnet", "skeletons", "-c", config, "-d", name, "-w", "2"],
            cwd=cli, check=True, capture_output=True,
        )  # fmt: skip
        a = zarr.open_group(results / name / "skeleton.zarr", mode="r")["joint"]
        b = zarr.open_group(cli / "results" / name / "skeleton.zarr", mode="r")["joint"]
        np.testing.assert_array_equal(a[:], b[:])
        pd.testing.assert_frame_equal(
            pd.read_parquet(results / name / "samples.parquet"),
            pd.read_parquet(cli / "results" / name / "samples.parquet"),
        )


def test_protocol_wildcard_splits_digit_protocols(tmp_path):
    """``results/{dataset}_{protocol}/`` resolves ``nucla_123`` and ``pku_xsub`` exactly."""
    config = datasets_config(tmp_path)
    snakefile = tmp_path / "Snakefile"
    snakefile.write_text(
        f'include: "{REPO / "rules" / "common.smk"}"\n\n'
        "rule probe:\n"
        '    output: "results/{dataset}_{protocol}/probe.txt"\n'
        '    shell: "echo {wildcards.dataset} {wildcards.protocol} > {output}"\n'
    )

    def probe(*targets: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(tmp_path)]
        return subprocess.run(
            [*command, *targets, "--cores", "1", "--configfile", config],
            capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip

    targets = [
        "results/nucla_123/probe.txt",
        "results/nucla_231/probe.txt",
        "results/pku_xsub/probe.txt",
    ]
    assert probe(*targets).returncode == 0
    found = [(tmp_path / t).read_text().split() for t in targets]
    assert found == [["nucla", "123"], ["nucla", "231"], ["pku", "xsub"]]
    unknown = probe("results/nucla_xsub1/probe.txt")
    assert unknown.returncode != 0 and "MissingRuleException" in unknown.stdout + unknown.stderr
