"""Errors a person can act on: a full disk or a read-only folder during a training gives one
line naming the path and what to do (``mmnet``), the traceback only with ``-v``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from mmnet.errors import as_os_error, explain

TRAIN = """datasets:
  demo: {kind: demo, protocols: [xsub]}
train:
  epochs: 2
  lr_steps: [1]
  batch_size: 8
  test_batch_size: 16
  base_channels: 4
  val_fraction: 0.15
"""


@contextlib.contextmanager
def small_filesystem(folder: Path, size: str, *options: str):
    """A tmpfs of ``size`` at ``folder`` (skips where this machine cannot mount one)."""
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs", str(folder)],
        capture_output=True, text=True,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small file system here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def train(tiny, tmp_path: Path, out: Path, *flags: str) -> subprocess.CompletedProcess:
    config = tmp_path / "config.yaml"
    config.write_text(TRAIN)
    return subprocess.run(
        [sys.executable, "-m", "mmnet", *flags, "train", "-c", str(config), "-d", "demo", "-p",
         "xsub", "-s", "joint", "--samples", str(tiny[0]), "--skeleton", str(tiny[1]),
         "--out-dir", str(out), "--threads", "1"],
        capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip


def test_a_full_disk_during_training_names_the_path_and_what_to_do(tiny, tmp_path):
    with small_filesystem(tmp_path / "small", "64k") as small:
        result = train(tiny, tmp_path, small / "joint")
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert f"{small}/joint/" in last and "No space left on device" in last, result.stderr
        assert "free space on that file system" in last and "Traceback" not in result.stderr
        verbose = train(tiny, tmp_path, small / "joint", "-v")
        assert "Traceback" in verbose.stderr and verbose.returncode == 1


def test_a_read_only_folder_names_the_path(tiny, tmp_path):
    with small_filesystem(tmp_path / "ro", "1m", "ro") as read_only:
        result = train(tiny, tmp_path, read_only / "joint")
        assert result.returncode == 1
        last = result.stderr.strip().splitlines()[-1]
        assert f"{read_only}/joint" in last and "Read-only file system" in last, result.stderr


def test_os_errors_without_a_path_get_one(tmp_path):
    error = as_os_error(OSError(28, "No space left on device"), tmp_path / "x.pt")
    assert explain(error).startswith(f"{tmp_path / 'x.pt'}: No space left on device: free")
    assert as_os_error(RuntimeError("unrelated"), tmp_path / "x").args == ("unrelated",)
    assert explain(ValueError("not an OS error")) is None
