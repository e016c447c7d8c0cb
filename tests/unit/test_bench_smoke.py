"""Smoke tests of the benchmark scripts at tiny sizes: they run end to end, print their
tables and leave nothing behind. The figures themselves belong in docs/performance.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REALDATA, REPO, realdata

pytestmark = pytest.mark.realdata


def run_bench(script: str, *args: str, cwd: Path) -> str:
    path = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "MMNET_REALDATA": str(REALDATA)}
    result = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    return result.stdout


def test_scale_bench_runs_the_stages_and_cleans_up(tmp_path):
    realdata("ntu60", "statistics", "skes_available_name.txt")
    work = tmp_path / "work"
    work.mkdir()
    out = run_bench(
        "scale.py", "--parts", "2844", "--workers", "1", "--work", str(work),
        "--json", str(tmp_path / "scale.json"), "--png", str(tmp_path / "scale.png"), cwd=tmp_path,
    )  # fmt: skip
    report = json.loads((tmp_path / "scale.json").read_text())
    (row,) = report["rows"]
    assert row["files"] == 20 and sum(row["figures"]["status"].values()) == 20
    assert all(row["figures"][s]["peak_rss_mib"] for s in ("index", "shards", "gather"))
    assert "seconds per sample" in out and (tmp_path / "scale.png").stat().st_size > 0
    assert list(work.iterdir()) == []  # raw folder, stores and copies removed


def test_parse_skeletons_bench_prints_the_split_and_the_ratio(tmp_path):
    realdata("ntu60", "skeletons")
    out = run_bench(
        "parse_skeletons.py", "--files", "10", "--repeat", "1", "--step-blocks", "1",
        "--compression-level", "1", "--json", str(tmp_path / "parse.json"), cwd=tmp_path,
    )  # fmt: skip
    figures = json.loads((tmp_path / "parse.json").read_text())
    assert set(figures["steps_cpu_ms"]) == {
        "read", "tokenise", "select", "normalise", "compress", "write"
    }  # fmt: skip
    assert figures["whole_process_ratio"] > 0 and "ratio to the original" in out


def test_loader_bench_measures_a_skeleton_stream(tmp_path):
    realdata("ntu60", "statistics", "skes_available_name.txt")
    out = run_bench(
        "loaders.py", "--limit", "240", "--streams", "joint", "--workers", "0", "--batches", "1",
        "--json", str(tmp_path / "loaders.json"), cwd=tmp_path,
    )  # fmt: skip
    report = json.loads((tmp_path / "loaders.json").read_text())
    assert report["streams"]["joint"]["0"]["samples_per_s"] > 0
    assert report["train_gflops_per_sample"]["stgcn"] > 10 and "workers for 3x" in out


def test_train_step_bench_times_every_model_on_the_cpu(tmp_path):
    """T = 72: the original's attention needs more than k = 15 frames after ST-GCN's stride 4."""
    out = run_bench(
        "train_step.py", "--device", "cpu", "--batch", "2", "--msg3d-batch", "1",
        "--frames", "72", "--steps", "1", "--no-memory", "--json", str(tmp_path / "step.json"),
        cwd=tmp_path,
    )  # fmt: skip
    (figures,) = json.loads((tmp_path / "step.json").read_text())["devices"].values()
    assert set(figures) == {
        "stgcn_reference", "stgcn_ours", "mmnet_reference", "mmnet_ours_per_batch",
        "mmnet_ours_cached", "msg3d_reference", "msg3d_ours",
    }  # fmt: skip
    assert all(value > 0 for value in figures.values())
    assert "no GPU here" in out


def test_projection_bench_fits_and_reports_held_out_errors(tmp_path):
    realdata("ntu60", "skeletons")
    run_bench("projection.py", "--json", str(tmp_path / "projection.json"), cwd=tmp_path)
    report = json.loads((tmp_path / "projection.json").read_text())
    assert report["files"] == 7
    assert report["refit_all"] == pytest.approx(report["shipped_model"], abs=1e-3)
    assert report["shipped_all"]["median_px"] < 5  # the files it was fitted on
    assert report["camera_held_out:C003"]["median_px"] > 20  # a device the fit never saw


def test_roi_datasets_bench_measures_both_routes(tmp_path):
    run_bench("roi_datasets.py", "--reads", "5", "--json", str(tmp_path / "r.json"), cwd=tmp_path)
    report = json.loads((tmp_path / "r.json").read_text())
    assert set(report) == {"demo_pku", "demo_nucla"}
    assert report["demo_pku"]["original_dump_bytes_per_sample"] > 0
    assert report["demo_nucla"]["original_dump_bytes_per_sample"] == 0  # N-UCLA ships JPEG
    for result in report.values():
        assert result["samples"] > 20 and result["original_tiles_per_s"] > 0
        assert result["ours_build_columns_per_s"] > 0 and result["ours_loader_tiles_per_s"] > 0
