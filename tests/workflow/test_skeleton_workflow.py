"""Real Snakemake runs of the skeleton part of the DAG, in temporary working folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import DEMO_ARGS, REPO, job_counts, realdata, snakemake

pytestmark = pytest.mark.workflow


def write_config(workdir: Path, text: str) -> str:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(text)
    return str(path)


def real_config(workdir: Path, extra: str = "") -> str:
    """The seven real NTU60 files; cross-view only (all of them are cross-subject training
    subjects, and a protocol without test samples fails the stage)."""
    skeletons = realdata("ntu60", "skeletons")
    return write_config(
        workdir,
        f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {skeletons}\n"
        f"    protocols: [xview]\n{extra}",
    )


# the skeleton stage of the real files only (a bare `snakemake` would also train)
NTU60_TARGETS = ("results/ntu60/samples.parquet", "results/ntu60/skeleton.zarr")


def test_dry_run_shows_the_whole_dag(tmp_path):
    out = snakemake(tmp_path, "-n", "--configfile", str(REPO / "config" / "demo.yaml")).stdout
    assert job_counts(out) == {
        "demo_dataset": 1, "index_samples": 1, "parse_skeletons": 8, "gather_skeletons": 1,
        "extract_pose2d": 8, "gather_pose2d": 1, "build_roi": 8, "gather_roi": 1,
        "roi_preview": 1, "train_skeleton": 2, "train_rgb": 1, "ensemble": 1, "all": 1, "total": 35,
    }  # fmt: skip
    assert not (tmp_path / "results").exists()  # a dry run touches nothing


def test_bad_config_key_fails_at_start_naming_it(tmp_path):
    config = write_config(tmp_path, "datasets:\n  demo:\n    kind: demo\n    protocol: [xsub]\n")
    result = snakemake(tmp_path, "-n", "--configfile", config, check=False)
    assert result.returncode != 0
    assert "datasets.demo: unknown key(s) ['protocol']" in result.stdout + result.stderr


def test_missing_raw_folder_fails_at_start_naming_key_and_path(tmp_path):
    config = write_config(
        tmp_path, "datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: /no/such\n"
    )
    result = snakemake(tmp_path, "-n", "--configfile", config, check=False)
    assert result.returncode != 0
    assert (
        "datasets.ntu60.skeletons: folder '/no/such' does not exist"
        in result.stdout + result.stderr
    )


def test_demo_skeleton_stage(demo_run):
    samples = pd.read_parquet(demo_run / "results" / "demo" / "samples.parquet")
    joint = zarr.open_group(demo_run / "results" / "demo" / "skeleton.zarr", mode="r")["joint"]
    assert joint.shape == (len(samples), 3, 64, 25, 2)
    assert (samples["status"] == "excluded").sum() == 3  # the demo's missing-skeleton list
    ok = samples["status"] == "ok"
    assert ok.sum() == len(samples) - 3
    assert set(samples.loc[ok, "label"]) == set(range(7))
    assert samples.loc[samples["action"] == 7, "n_bodies"].min() >= 2  # the two-person class
    for protocol in ("xsub", "xview"):
        assert 0 < samples.loc[ok, protocol].sum() < ok.sum()
    first_ok = int(np.flatnonzero(ok)[0])
    assert joint[first_ok].any() and not joint[int(np.flatnonzero(~ok)[0])].any()
    assert (demo_run / "results" / "logs" / "gather_skeletons" / "demo.log").exists()
    assert not (demo_run / "results" / "demo" / "shards").exists() or not any(
        (demo_run / "results" / "demo" / "shards").iterdir()
    )  # shard stores are temporary


def test_second_run_has_nothing_to_do(demo_run):
    out = snakemake(demo_run, "-n", *DEMO_ARGS).stdout
    assert "Nothing to be done" in out


def test_rules_and_cli_write_identical_stores(tmp_path):
    snakemake(tmp_path / "rules", *NTU60_TARGETS, "--configfile", real_config(tmp_path / "rules"))
    cli = tmp_path / "cli"
    subprocess.run(
        [sys.executable, "-m", "mmnet", "skeletons", "-c", real_config(cli), "-d", "ntu60", "-w", "3"],
        cwd=cli, check=True, capture_output=True,
    )  # fmt: skip
    a = zarr.open_group(tmp_path / "rules" / "results" / "ntu60" / "skeleton.zarr", mode="r")
    b = zarr.open_group(cli / "results" / "ntu60" / "skeleton.zarr", mode="r")
    np.testing.assert_array_equal(a["joint"][:], b["joint"][:])
    assert dict(a["joint"].attrs) == dict(b["joint"].attrs)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "rules" / "results" / "ntu60" / "samples.parquet"),
        pd.read_parquet(cli / "results" / "ntu60" / "samples.parquet"),
    )


def test_failed_parse_leaves_nothing_trusted_and_rerun_completes(tmp_path, ntu60_skeletons):
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in ntu60_skeletons:
        (raw / path.name).write_bytes(path.read_bytes())
    good = (raw / "S001C001P001R001A002.skeleton").read_bytes()
    (raw / "S001C001P001R001A002.skeleton").write_bytes(good[:3000])
    config = write_config(
        tmp_path,
        f"datasets:\n  ntu60:\n    kind: ntu60\n    skeletons: {raw}\n    protocols: [xview]\n",
    )
    result = snakemake(tmp_path, *NTU60_TARGETS, "--configfile", config, check=False)
    assert result.returncode != 0
    log = (tmp_path / "results" / "logs" / "parse_skeletons").glob("*.log")
    assert any("A002.skeleton, line" in p.read_text() for p in log)  # the log names file + line
    assert not (tmp_path / "results" / "ntu60" / "skeleton.zarr").exists()
    (raw / "S001C001P001R001A002.skeleton").write_bytes(good)
    snakemake(tmp_path, *NTU60_TARGETS, "--configfile", config)
    samples = pd.read_parquet(tmp_path / "results" / "ntu60" / "samples.parquet")
    assert (samples["status"] == "ok").all()
