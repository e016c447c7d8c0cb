"""Training as separate processes: killed and resumed, DDP under torchrun, and as Snakemake rules."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from conftest import job_counts, snakemake
from training_data import TINY_OPTIONS

from mmnet.train.distributed import launch_torchrun
from mmnet.train.job import TrainJob
from mmnet.train.options import TrainOptions

pytestmark = pytest.mark.workflow

# longer, and with augmentation, so that resuming mid-run has state to restore
OPTIONS = {**TINY_OPTIONS, "epochs": 8, "lr_steps": [4], "random_move": True, "seed": 1}


def tiny_job(tiny, out: Path, **options) -> TrainJob:
    return TrainJob(
        dataset="tiny", kind="demo", protocol="xsub", stream="joint",
        options=TrainOptions.from_dict({**OPTIONS, **options}), samples=str(tiny[0]),
        skeleton=str(tiny[1]), out_dir=str(out),
    )  # fmt: skip


def write_job(tiny, out: Path, **options) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out.parent / f"{out.name}.json"
    tiny_job(tiny, out, **options).to_json(path)
    return path


def start(job: Path) -> subprocess.Popen:
    """One training process, as torchrun starts each DDP worker."""
    return subprocess.Popen(
        [sys.executable, "-m", "mmnet.train.worker", str(job), "2"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def wait_for_epoch(process: subprocess.Popen, resume: Path, epoch: int) -> None:
    """Wait until the resume file records ``epoch`` finished epochs (or more)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read()
        if resume.exists():
            try:
                if torch.load(resume, weights_only=True)["progress"]["epoch"] >= epoch:
                    return
            except (EOFError, RuntimeError):  # being replaced right now
                pass
        time.sleep(0.05)
    raise AssertionError("training did not reach the epoch in time")


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_sigterm_and_sigkill_then_reruns_end_with_the_weights_of_a_straight_run(tiny, tmp_path):
    straight = start(write_job(tiny, tmp_path / "straight"))
    assert straight.wait() == 0, straight.stdout.read()
    job, out = write_job(tiny, tmp_path / "run"), tmp_path / "run"

    first = start(job)
    wait_for_epoch(first, out / "resume.pt", 1)
    first.send_signal(signal.SIGTERM)  # SLURM preemption / time limit
    log = first.stdout.read()
    assert first.wait() == 75, log  # non-zero (EX_TEMPFAIL): the job is retried
    assert "stopped at epoch" in log and (out / "resume.pt").exists()

    second = start(job)
    wait_for_epoch(second, out / "resume.pt", 4)
    second.kill()  # no chance to save anything: the last epoch's resume file remains
    second.wait()
    assert not (out / "model.pt").exists()

    third = start(job)
    assert third.wait() == 0, third.stdout.read()
    assert not (out / "resume.pt").exists()
    expected = weights(tmp_path / "straight" / "model.pt")
    for key, value in weights(out / "model.pt").items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=0)


def test_two_ddp_processes_train_like_one_on_the_same_global_batch(tiny, tmp_path):
    # A small learning rate: with the original's N(0, 0.02) initialisation, batch norm's
    # scale invariance amplifies float rounding chaotically at large ones (even 1 and 2 CPU
    # threads of one process end 1e-3 apart after 8 steps at lr 0.002). Here the runs agree
    # to ~2e-7 after one epoch (4 steps), while unsynchronised batch norm is 2e-2 off.
    same = {"epochs": 1, "base_lr": 0.001, "dropout": 0.0, "selection": "last", "random_move": True}
    one = start(write_job(tiny, tmp_path / "one", **same))
    assert one.wait() == 0, one.stdout.read()
    job = tiny_job(tiny, tmp_path / "two", **same)
    launch_torchrun(job, processes=2, threads=2, job_file=tmp_path / "two_job.json")
    metrics = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["batch_per_process"] == 4
    reference = weights(tmp_path / "one" / "model.pt")
    for key, value in weights(tmp_path / "two" / "model.pt").items():
        torch.testing.assert_close(value, reference[key], rtol=1e-4, atol=1e-5, msg=key)
    a = pd.read_csv(tmp_path / "one" / "history.csv")
    b = pd.read_csv(tmp_path / "two" / "history.csv")
    pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"), rtol=1e-4)


DEMO_TRAIN = """datasets:
  demo:
    kind: demo
    protocols: [xsub, xview]
train:
  protocols: {demo: [xsub]}
"""


def test_train_skeleton_rule_on_the_demo(demo_run, tmp_path):
    """`train.protocols` picks what is trained; the shared demo run's training folder holds
    every output, scored on exactly the test split, with its log and benchmark."""
    config = tmp_path / "config.yaml"
    config.write_text(DEMO_TRAIN)
    dry = snakemake(tmp_path, "-n", "--configfile", str(config)).stdout
    assert job_counts(dry)["train_skeleton"] == 2  # joint and bone of the one trained protocol
    out = demo_run / "results" / "demo_xsub" / "joint"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["model.pt", "scores.parquet", "metrics.json", "history.csv", "curve.png"]
    )
    samples = pd.read_parquet(demo_run / "results" / "demo" / "samples.parquet")
    test = samples[(samples["status"] == "ok") & ~samples["xsub"]]
    scores = pd.read_parquet(out / "scores.parquet")
    assert sorted(scores["sample"]) == sorted(test["sample"])
    for kind, suffix in (("logs", "log"), ("benchmarks", "tsv")):
        assert (
            demo_run / "results" / kind / "train_skeleton" / f"demo_xsub_joint.{suffix}"
        ).exists()
