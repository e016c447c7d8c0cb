"""The demo DAG through a real SLURM cluster with ``--profile profiles/slurm``.

A one-node cluster on loopback (``.ci/slurm-cluster.sh``) runs the same targets as a local
run. The test checks that every job that is not a local rule went through ``sbatch`` (the
job ids Snakemake reports, their SLURM records and per-job logs), that one job killed with
``scancel`` while running is resubmitted and the run completes, and that the outputs equal
the local run's (array and table contents, not bytes).

Target-agnostic: ``SLURM_TARGETS`` (or ``MMNET_SLURM_TARGETS``, space-separated) names what
to build and ``KILLED_RULE`` which rule's job to cancel; the comparison covers every file
under ``results/`` except logs and benchmarks. Point it at ``results/demo_xsub/ensemble.json``
once the training rules exist.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import zarr
from conftest import REPO, job_counts, snakemake, snakemake_command
from PIL import Image

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

SLURM_TARGETS = os.environ.get(
    "MMNET_SLURM_TARGETS", "results/demo/skeleton.zarr results/demo/samples.parquet"
).split()
KILLED_RULE = os.environ.get("MMNET_SLURM_KILLED_RULE", "parse_skeletons")
DEMO = str(REPO / "config" / "demo.yaml")
CLUSTER = REPO / ".ci" / "slurm-cluster.sh"
#: Only for the loopback cluster: it keeps no accounting (so job states come from squeue, see
#: the script), status checks start after 2 s instead of 40, and every job's log is kept so
#: the test can read it.
CI_CLUSTER_FLAGS = [
    "--slurm-status-command", "squeue",
    "--slurm-init-seconds-before-status-checks", "2",
    "--slurm-keep-successful-logs",
]  # fmt: skip
#: The demo's 252 samples in the profile's 64 skeleton shards would be 64 jobs of 4 samples
#: each; 2 shards here (2 cores: one wave of jobs; the profile's own value is checked by
#: test_profiles.py).
DEMO_FLAGS = ["--set-scatter", "skeleton_shards=2"]
RUN_TIMEOUT_S = 420
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)")


@pytest.fixture(scope="session")
def slurm_cluster():
    """A running cluster: the one already up, or one started here (and stopped after)."""
    if os.geteuid() != 0:
        pytest.skip("the loopback SLURM cluster needs root (it starts slurmctld and slurmd)")
    if not shutil.which("slurmctld") or not shutil.which("sbatch"):
        pytest.skip("SLURM is not installed: run `.ci/slurm-cluster.sh install` (apt-get)")
    if subprocess.run([CLUSTER, "status"], capture_output=True).returncode == 0:
        yield
        return
    started = subprocess.run([CLUSTER, "up"], capture_output=True, text=True)
    if started.returncode != 0:
        pytest.skip(f"slurmctld could not be started here: {started.stderr.strip()[-500:]}")
    yield
    subprocess.run([CLUSTER, "down"], check=True)


def squeue(*columns: str, states: str = "all") -> list[dict[str, str]]:
    """Jobs SLURM still knows (finished ones for MinJobAge), as dicts of the %-columns."""
    output = subprocess.run(
        ["squeue", "-h", "-t", states, "-o", "|".join(columns)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [dict(zip(columns, line.split("|"), strict=True)) for line in output.splitlines()]


def cancel_one_running_job(workdir: Path, rule: str, done: threading.Event, cancelled: list):
    """scancel the first job of ``rule`` from ``workdir`` caught executing the rule itself
    (its SLURM log shows the in-job step running it), i.e. a job killed halfway."""
    logs = workdir / "results" / "logs" / "slurm" / f"rule_{rule}"
    while not done.is_set() and not cancelled:
        for job in squeue("%i", "%k", "%Z", states="RUNNING"):
            if job["%Z"] != str(workdir) or not job["%k"].startswith(f"rule_{rule}"):
                continue
            log = next(logs.glob(f"*/{job['%i']}.log"), None)
            if log is not None and f"localrule {rule}:" in log.read_text(errors="replace"):
                if subprocess.run(["scancel", job["%i"]], capture_output=True).returncode == 0:
                    cancelled.append(job["%i"])
                break
        time.sleep(0.1)


@pytest.fixture(scope="module")
def runs(slurm_cluster, tmp_path_factory):
    """The targets built locally and through SLURM (one job cancelled on the way)."""
    local = tmp_path_factory.mktemp("local")
    snakemake(local, *SLURM_TARGETS, "--configfile", DEMO)
    workdir = tmp_path_factory.mktemp("slurm")
    done, cancelled = threading.Event(), []
    killer = threading.Thread(
        target=cancel_one_running_job, args=(workdir, KILLED_RULE, done, cancelled)
    )
    killer.start()
    try:
        result = subprocess.run(
            [*snakemake_command(workdir), *SLURM_TARGETS, "--profile", str(REPO / "profiles" / "slurm"),
             *CI_CLUSTER_FLAGS, *DEMO_FLAGS, "--configfile", DEMO],
            cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
        )  # fmt: skip
    finally:
        done.set()
        killer.join()
        leftover = [
            job["%i"]
            for job in squeue("%i", "%Z", states="PENDING,RUNNING")
            if job["%Z"] == str(workdir)
        ]
        if leftover:  # a run that timed out leaves no jobs behind
            subprocess.run(["scancel", *leftover], check=False)
    log = result.stdout + result.stderr
    (workdir / "snakemake-output.txt").write_text(log)
    assert result.returncode == 0, f"the SLURM run failed:\n{log[-6000:]}"
    return {"local": local, "slurm": workdir, "log": log, "cancelled": cancelled}


def test_every_job_went_through_sbatch(runs):
    log = runs["log"]
    counts = job_counts(log)
    local = re.findall(r"^localrule (\w+):", log, flags=re.MULTILINE)
    submitted = SUBMITTED.findall(log)
    records = {job["%i"]: job for job in squeue("%i", "%k", "%T", "%Z")}
    per_rule: dict[str, set[str]] = {}
    for _, slurm_id, slurm_log in submitted:
        record = records[slurm_id]  # SLURM itself knows the job
        assert record["%Z"] == str(runs["slurm"])
        assert Path(slurm_log).is_file()  # its sbatch --output
        rule = record["%k"].removeprefix("rule_").split("_wildcards_")[0]
        per_rule.setdefault(rule, set()).add(record["%k"])
    expected = {
        rule: count - local.count(rule)
        for rule, count in counts.items()
        if rule != "total" and count > local.count(rule)
    }
    assert expected, "nothing was meant to run on the cluster"
    assert {rule: len(jobs) for rule, jobs in per_rule.items()} == expected
    final = {}
    for _, slurm_id, _ in submitted:  # the last attempt of every job completed
        final[records[slurm_id]["%k"]] = records[slurm_id]["%T"]
    assert set(final.values()) == {"COMPLETED"}


def test_a_cancelled_job_is_resubmitted_and_the_run_completes(runs):
    assert len(runs["cancelled"]) == 1, "no running job could be cancelled"
    (cancelled,) = runs["cancelled"]
    records = {job["%i"]: job for job in squeue("%i", "%k", "%T")}
    assert records[cancelled]["%T"] == "CANCELLED"
    assert f"SLURM-job '{cancelled}' failed" in runs["log"]
    again = [
        slurm_id
        for _, slurm_id, _ in SUBMITTED.findall(runs["log"])
        if records[slurm_id]["%k"] == records[cancelled]["%k"] and slurm_id != cancelled
    ]
    assert len(again) == 1 and records[again[0]]["%T"] == "COMPLETED"
    assert int(again[0]) > int(cancelled)


@pytest.mark.filterwarnings("ignore:Object at .snakemake_timestamp:UserWarning")
def test_outputs_equal_a_local_run(runs):  # Snakemake stamps directory outputs with that file
    assert_same_results(runs["local"] / "results", runs["slurm"] / "results")


def assert_same_results(a: Path, b: Path) -> None:
    """Every output under two ``results/`` folders has the same content: zarr arrays and
    attributes, parquet and CSV tables, JSON values, PNG pixels, other files' bytes."""
    files_a, files_b = _outputs(a), _outputs(b)
    assert files_a == files_b
    assert files_a, f"no outputs under {a}"
    for relative in sorted(files_a):
        x, y = a / relative, b / relative
        if x.suffix == ".zarr":
            group_x, group_y = zarr.open_group(x, mode="r"), zarr.open_group(y, mode="r")
            assert sorted(group_x.array_keys()) == sorted(group_y.array_keys()), relative
            for name in group_x.array_keys():
                np.testing.assert_array_equal(group_x[name][:], group_y[name][:], err_msg=relative)
                assert dict(group_x[name].attrs) == dict(group_y[name].attrs), relative
        elif x.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(x), pd.read_parquet(y), obj=relative)
        elif x.suffix == ".csv":
            pd.testing.assert_frame_equal(pd.read_csv(x), pd.read_csv(y), obj=relative)
        elif x.suffix == ".json":
            assert json.loads(x.read_text()) == json.loads(y.read_text()), relative
        elif x.suffix == ".png":
            np.testing.assert_array_equal(np.asarray(Image.open(x)), np.asarray(Image.open(y)))
        else:
            assert x.read_bytes() == y.read_bytes(), relative


def _outputs(results: Path) -> set[str]:
    """Output files and zarr stores under ``results``, relative; logs and benchmarks (which
    differ by nature) left out."""
    found = set()
    for path in results.rglob("*"):
        relative = path.relative_to(results)
        if relative.parts[0] in ("logs", "benchmarks") or any(
            part.endswith(".zarr") for part in relative.parts[:-1]
        ):
            continue
        if path.suffix == ".zarr" or path.is_file():
            found.add(str(relative))
    return found
