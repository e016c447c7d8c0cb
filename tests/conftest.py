"""Shared fixtures: the real sample files (skipped when absent), the repository root, and
running Snakemake on this checkout in a temporary working folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMNET_REALDATA", REPO.parent / "shared" / "realdata"))

sys.path.insert(0, str(Path(__file__).parent))  # training_data, the tiny training fixtures


def realdata(*parts: str) -> Path:
    """Path under ../shared/realdata; skips the test when it is absent."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def ntu60_skeletons() -> list[Path]:
    return sorted(realdata("ntu60", "skeletons").glob("*.skeleton"))


def snakemake_command(workdir: Path) -> list[str]:
    """``snakemake`` on this checkout's Snakefile, working in ``workdir``."""
    return [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir)]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run ``snakemake --cores 2 *args`` in ``workdir``; with ``check``, fail showing its output."""
    result = subprocess.run(
        [*snakemake_command(workdir), "--cores", "2", *args],
        capture_output=True,
        text=True,
        cwd=workdir,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


#: The demo as the workflow tests run it: config/demo.yaml, trainings shortened.
DEMO_CONFIGS = (REPO / "config" / "demo.yaml", REPO / "tests" / "demo_quick.yaml")
DEMO_ARGS = ("--configfile", *(str(path) for path in DEMO_CONFIGS))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo run once from nothing to ``results/demo_xsub/ensemble.json`` (the default
    target; shared by the workflow tests, which add their own targets in the same folder)."""
    workdir = tmp_path_factory.mktemp("demo")
    snakemake(workdir, *DEMO_ARGS)
    return workdir


def job_counts(stdout: str) -> dict[str, int]:
    """The "Job stats" table Snakemake prints: rule -> number of jobs."""
    table = stdout.split("Job stats:")[1].split("\n\n")[0].splitlines()[3:]
    return {rule: int(count) for rule, count in (line.split() for line in table)}


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """``(samples.parquet, skeleton.zarr)`` of the tiny training dataset (training_data.py)."""
    from training_data import write_tiny_dataset

    return write_tiny_dataset(tmp_path_factory.mktemp("tiny"))
