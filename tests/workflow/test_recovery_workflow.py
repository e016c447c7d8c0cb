"""After a ``kill -9`` of the whole run, the documented recovery command finishes the job and
its outputs equal those of an uninterrupted run (docs/running.md, "After a crash").

Each case works on a copy of the shared demo run, forces one stage to run again, kills the
whole Snakemake process group at a chosen moment, then runs the recovery command:

    snakemake --unlock ... && snakemake --cores 2 --rerun-incomplete ...
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from conftest import DEMO_ARGS, snakemake, snakemake_command

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

BONE = Path("results/demo_xsub/bone")


def copy_run(demo_run: Path, destination: Path) -> Path:
    shutil.copytree(demo_run, destination, symlinks=True)
    return destination


def kill_when(run: Path, ready: Callable[[], bool], *args: str, timeout: float = 300) -> None:
    """Start ``snakemake --cores 2 *args`` in ``run``; ``kill -9`` its whole process group
    as soon as ``ready()`` holds."""
    process = subprocess.Popen(
        [*snakemake_command(run), "--cores", "2", *args],
        cwd=run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert process.poll() is None, "the run ended before the moment to kill it"
            assert time.monotonic() < deadline, "the moment to kill never came"
            time.sleep(0.002)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def recover(run: Path, *targets: str) -> None:
    """The documented recovery command, for the run that was killed."""
    snakemake(run, "--unlock", *DEMO_ARGS)
    snakemake(run, "--rerun-incomplete", *targets, *DEMO_ARGS)


def assert_same_ensemble(a: Path, b: Path) -> None:
    first, second = (
        json.loads((p / "results/demo_xsub/ensemble.json").read_text()) for p in (a, b)
    )
    assert first == second


def assert_same_weights(a: Path, b: Path) -> None:
    first, second = (torch.load(p, weights_only=True)["state_dict"] for p in (a, b))
    for key, value in first.items():
        torch.testing.assert_close(second[key], value, rtol=0, atol=0, msg=key)


def test_killed_during_a_gather(demo_run, tmp_path):
    """The ROI gather: its shards are rebuilt, then the store, the rgb stream and the ensemble
    (the skeleton gather writes through the same `mmnet.store.gather_stores`; killing this
    one retrains only the rgb stream, which keeps the suite short)."""
    run = copy_run(demo_run, tmp_path / "run")
    log = run / "results/logs/gather_roi/demo.log"
    log.unlink()
    kill_when(run, log.exists, "--forcerun", "gather_roi", *DEMO_ARGS)
    recover(run)
    before, after = (
        zarr.open_group(p / "results/demo/roi.zarr", mode="r") for p in (demo_run, run)
    )
    for name in before.array_keys():
        np.testing.assert_array_equal(before[name][:], after[name][:], err_msg=name)
    pd.testing.assert_frame_equal(
        pd.read_parquet(demo_run / "results/demo/roi.parquet"),
        pd.read_parquet(run / "results/demo/roi.parquet"),
    )
    assert_same_weights(demo_run / "results/demo_xsub/rgb/model.pt",
                        run / "results/demo_xsub/rgb/model.pt")  # fmt: skip
    assert_same_ensemble(demo_run, run)
    assert not list((run / "results/demo").glob(".*.tmp-*"))  # no temporary outlives its job


def test_killed_during_a_training(demo_run, tmp_path):
    run = copy_run(demo_run, tmp_path / "run")
    resume = run / BONE / "resume.pt"

    def two_epochs_done() -> bool:
        try:
            return torch.load(resume, weights_only=True)["progress"]["epoch"] >= 2
        except (FileNotFoundError, EOFError, RuntimeError):
            return False

    kill_when(run, two_epochs_done, "--forcerun", str(BONE / "model.pt"), *DEMO_ARGS)
    assert not (run / "results/demo_xsub/ensemble.json").exists()  # nothing stale downstream
    recover(run)
    assert_same_weights(demo_run / BONE / "model.pt", run / BONE / "model.pt")
    assert_same_ensemble(demo_run, run)
    history = pd.read_csv(run / BONE / "history.csv")
    assert history["epoch"].tolist() == list(range(1, len(history) + 1))


def test_killed_while_a_training_writes_its_outputs(demo_run, tmp_path):
    run = copy_run(demo_run, tmp_path / "run")
    folder = run / BONE
    kill_when(run, lambda: any(folder.glob(".outputs-*")), "--forcerun", str(BONE / "model.pt"),
              *DEMO_ARGS)  # fmt: skip
    recover(run)
    assert_same_weights(demo_run / BONE / "model.pt", folder / "model.pt")
    assert_same_ensemble(demo_run, run)
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["model.pt", "scores.parquet", "metrics.json", "history.csv", "curve.png"]
    )  # the five outputs, no staging folder, no resume file
