"""The README's main job, end to end, and what a partial rerun runs.

``demo_run`` (conftest) is one real ``snakemake`` run of the demo (``config/demo.yaml``, with
the shorter trainings of ``tests/demo_quick.yaml``) from nothing to
``results/demo_xsub/ensemble.json``. The rerun cases read Snakemake's own dry-run job table
(never timings); the ones that change files work on a copy of that folder (results and
``.snakemake`` metadata, modification times kept), so the shared run stays intact.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
import zarr
from conftest import DEMO_ARGS, DEMO_CONFIGS, job_counts, snakemake, snakemake_command

from mmnet.ensemble import read_test_labels

pytestmark = pytest.mark.workflow

CHANCE = 1 / 7
STREAMS = ("joint", "bone", "rgb")


def copy_run(demo_run: Path, destination: Path) -> Path:
    """A copy of the demo run that Snakemake sees as up to date (mtimes and metadata kept)."""
    shutil.copytree(demo_run, destination, symlinks=True)
    assert "Nothing to be done" in snakemake(destination, "-n", *DEMO_ARGS).stdout
    return destination


def train_override(directory: Path, stream: str, **options) -> str:
    """A second config file: the demo's training overrides plus one for ``stream``.

    (Snakemake replaces lists when it merges config files, so the demo's own rules are kept.)
    """
    overrides = yaml.safe_load(DEMO_CONFIGS[-1].read_text())["train"]["overrides"]
    path = directory / f"override_{stream}.yaml"
    rules = [*overrides, {"match": {"stream": stream}, "set": options}]
    path.write_text(yaml.safe_dump({"train": {"overrides": rules}}))
    return str(path)


def scheduled_jobs(stdout: str) -> dict[str, int]:
    return job_counts(stdout) if "Job stats:" in stdout else {}


def test_the_demo_dag_runs_from_nothing_to_the_ensemble(demo_run):
    results = demo_run / "results"
    test = read_test_labels(results / "demo" / "samples.parquet", "xsub")
    report = json.loads((results / "demo_xsub" / "ensemble.json").read_text())
    assert (report["dataset"], report["protocol"], report["n_samples"]) == (
        "demo",
        "xsub",
        len(test),
    )
    assert list(report["streams"]) == list(STREAMS)
    for stream in STREAMS:
        metrics = json.loads((results / "demo_xsub" / stream / "metrics.json").read_text())
        assert metrics["test"]["samples"] == len(test)
        # the ensemble fused exactly what each training scored
        assert report["streams"][stream]["top1"] == pytest.approx(metrics["test"]["top1"])
        assert report["streams"][stream]["top1"] > 3 * CHANCE, stream  # well above chance
        assert metrics["validation"]["samples"] > 0  # selected on validation, not on test
    assert (
        json.loads((results / "demo_xsub" / "rgb" / "metrics.json").read_text())[
            "test_rows_without_roi"
        ]
        == 0
    )
    fused = report["combinations"]["joint+bone+rgb"]["top1"]
    assert fused > 3 * CHANCE
    # every stage left its log and benchmark
    for rule in ("demo_dataset", "index_samples", "parse_skeletons", "gather_skeletons",
                 "extract_pose2d", "gather_pose2d", "build_roi", "gather_roi",
                 "train_skeleton", "train_rgb", "ensemble"):  # fmt: skip
        assert any((results / "logs" / rule).iterdir()), rule
        assert any((results / "benchmarks" / rule).iterdir()), rule
    assert not (results / "demo" / "shards").exists() or not any(
        (results / "demo" / "shards").iterdir()
    )  # shard stores are temporary


def test_a_training_option_reruns_only_that_stream_and_the_ensemble(demo_run, tmp_path):
    override = train_override(tmp_path, "bone", epochs=31)
    out = snakemake(demo_run, "-n", *DEMO_ARGS, override).stdout
    assert scheduled_jobs(out) == {"train_skeleton": 1, "ensemble": 1, "all": 1, "total": 3}
    assert re.findall(r"wildcards: .*stream=(\w+)", out) == ["bone"]
    # the joint model feeds the rgb stream's attention: changing it retrains rgb too
    override = train_override(tmp_path, "joint", epochs=31)
    out = snakemake(demo_run, "-n", *DEMO_ARGS, override).stdout
    assert scheduled_jobs(out) == {
        "train_skeleton": 1, "train_rgb": 1, "ensemble": 1, "all": 1, "total": 4,
    }  # fmt: skip
    assert sorted(re.findall(r"wildcards: .*stream=(\w+)", out)) == ["joint", "rgb"]


def test_forcerun_and_until(demo_run):
    out = snakemake(demo_run, "-n", "--forcerun", "train_rgb", *DEMO_ARGS).stdout
    assert scheduled_jobs(out) == {"train_rgb": 1, "ensemble": 1, "all": 1, "total": 3}
    out = snakemake(demo_run, "-n", "--forcerun", "gather_skeletons", "--until", "train_skeleton",
                    *DEMO_ARGS).stdout  # fmt: skip
    # the temporary shards are gone, so the gather needs them again; nothing after the trainings
    assert scheduled_jobs(out) == {
        "parse_skeletons": 8, "gather_skeletons": 1, "train_skeleton": 2, "total": 11,
    }  # fmt: skip


def test_deleting_the_roi_store_reruns_only_the_rgb_side(demo_run, tmp_path):
    run = copy_run(demo_run, tmp_path / "run")
    roi = run / "results" / "demo" / "roi.zarr"
    before = zarr.open_group(roi, mode="r")
    saved = {key: before[key][:] for key in before.array_keys()}
    shutil.rmtree(roi)
    out = snakemake(run, "-n", *DEMO_ARGS).stdout
    assert scheduled_jobs(out) == {
        "build_roi": 8, "gather_roi": 1, "roi_preview": 1, "train_rgb": 1, "ensemble": 1, "all": 1,
        "total": 13,
    }  # fmt: skip
    out = snakemake(run, "--until", "gather_roi", *DEMO_ARGS).stdout
    after = zarr.open_group(roi, mode="r")
    for key, values in saved.items():  # rebuilt bit for bit
        np.testing.assert_array_equal(after[key][:], values, err_msg=key)
    out = snakemake(run, "-n", *DEMO_ARGS).stdout
    assert scheduled_jobs(out) == {
        "roi_preview": 1, "train_rgb": 1, "ensemble": 1, "all": 1, "total": 4,
    }  # fmt: skip


def test_changing_the_bone_backbone_reruns_only_bone_and_the_ensemble(demo_run, tmp_path):
    override = train_override(tmp_path, "bone", backbone="msg3d", base_channels=12)
    out = snakemake(demo_run, "-n", *DEMO_ARGS, override).stdout
    assert scheduled_jobs(out) == {"train_skeleton": 1, "ensemble": 1, "all": 1, "total": 3}


def test_a_tiny_msg3d_trains_on_the_demo_through_the_dag(demo_run, tmp_path):
    """MS-G3D joint and bone (tiny width), the rgb stream's own ST-GCN teacher, the rgb
    stream on it, and an ensemble.json that says it fused the paper's method."""
    run = copy_run(demo_run, tmp_path / "run")
    overrides = yaml.safe_load(DEMO_CONFIGS[-1].read_text())["train"]["overrides"]
    tiny = {"backbone": "msg3d", "base_channels": 6, "num_gcn_scales": 3, "num_g3d_scales": 2,
            "epochs": 2, "lr_steps": [1], "forward_batch_size": 8}  # fmt: skip
    rules = [*overrides, {"match": {"stream": ["joint", "bone"]}, "set": tiny},
             {"match": {"stream": "teacher"}, "set": {"epochs": 2, "lr_steps": [1]}},
             {"match": {"stream": "rgb"}, "set": {"epochs": 1, "lr_steps": []}}]  # fmt: skip
    config = tmp_path / "msg3d.yaml"
    config.write_text(yaml.safe_dump({"train": {"overrides": rules}}))
    result = snakemake(run, *DEMO_ARGS, str(config))
    assert "MMNet as reported" in result.stdout + result.stderr  # the table the run ends with
    results = run / "results" / "demo_xsub"
    models = {s: json.loads((results / s / "metrics.json").read_text())["model"]
              for s in ("joint", "bone", "teacher", "rgb")}  # fmt: skip
    assert models == {"joint": "msg3d", "bone": "msg3d", "teacher": "stgcn", "rgb": "mmnet"}
    report = json.loads((results / "ensemble.json").read_text())
    assert report["method"] == "MMNet as reported (MS-G3D J+B + R)"
    rgb = torch.load(results / "rgb" / "model.pt", weights_only=True)["state_dict"]
    teacher = torch.load(results / "teacher" / "model.pt", weights_only=True)["state_dict"]
    for key, value in teacher.items():  # the rgb stream's ST-GCN is the teacher, frozen
        torch.testing.assert_close(rgb[f"stgcn.{key}"], value, rtol=0, atol=0)


def wait_for(path: Path, pattern: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and re.search(pattern, path.read_text()):
            return
        time.sleep(0.5)
    raise AssertionError(f"{path} never matched {pattern!r} in {timeout} s")


def test_a_killed_training_is_rerun_not_trusted(demo_run, tmp_path):
    """SIGKILL the training process of a job (what an out-of-memory kill or a lost node does):
    Snakemake fails the job and removes its outputs, a rerun runs it again, and the training
    resumes from its last finished epoch."""
    run = copy_run(demo_run, tmp_path / "run")
    override = train_override(tmp_path, "bone", epochs=4, lr_steps=[3])
    args = ["results/demo_xsub/bone/scores.parquet", *DEMO_ARGS, override]
    log = run / "results" / "logs" / "train_skeleton" / "demo_xsub_bone.log"
    log.unlink()
    process = subprocess.Popen(
        [*snakemake_command(run), "--cores", "2", *args],
        cwd=run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(log, r"epoch 2/4", timeout=120)
        training = subprocess.run(
            ["pgrep", "-g", str(process.pid), "-f", r"\.train\.py"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        for pid in training:
            os.kill(int(pid), signal.SIGKILL)
        assert process.wait(timeout=60) != 0  # the job failed, so the run failed
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    bone = run / "results" / "demo_xsub" / "bone"
    assert not (bone / "scores.parquet").exists() and not (bone / "model.pt").exists()
    out = snakemake(run, "-n", *args).stdout
    assert scheduled_jobs(out) == {"train_skeleton": 1, "total": 1}
    snakemake(run, *args)
    history = pd.read_csv(bone / "history.csv")
    assert history["epoch"].tolist() == [1, 2, 3, 4]  # every epoch once: it resumed
    assert "resuming at epoch" in log.read_text()
    out = snakemake(run, "-n", *DEMO_ARGS, override).stdout
    assert scheduled_jobs(out) == {"ensemble": 1, "all": 1, "total": 2}
