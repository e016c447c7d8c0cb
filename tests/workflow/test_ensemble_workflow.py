"""The ``ensemble`` rule on the demo's real trainings, its report, and the CLI twin.

``demo_run`` (conftest) trained the three streams of ``demo_xsub``; only the failure case
writes stand-in score files (for ``demo_xview``, which the demo does not train), with two
samples missing from one stream.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import DEMO_ARGS, job_counts, snakemake
from PIL import Image

from mmnet.datasets.demo import DEMO_CLASSES
from mmnet.ensemble import read_test_labels
from mmnet.scores import read_scores, write_scores

pytestmark = pytest.mark.workflow

STRENGTH = {"joint": 1.4, "bone": 1.2, "rgb": 1.0}


def write_stand_in_scores(workdir: Path, protocol: str, drop: dict[str, int] | None = None):
    """Score files for the demo's test split of ``protocol``; ``drop`` removes that many
    rows from a stream, as a training run on the wrong samples would."""
    labels = read_test_labels(workdir / "results" / "demo" / "samples.parquet", protocol)
    samples, values = labels.index.to_numpy(str), labels.to_numpy()
    for i, (stream, strength) in enumerate(STRENGTH.items()):
        rng = np.random.default_rng(i)
        logits = rng.normal(size=(len(samples), len(DEMO_CLASSES))).astype(np.float32)
        logits[np.arange(len(samples)), values] += strength
        order = rng.permutation(len(samples))[(drop or {}).get(stream, 0) :]
        write_scores(
            workdir / "results" / f"demo_{protocol}" / stream / "scores.parquet",
            samples[order],
            values[order],
            logits[order],
        )
    return labels


def test_rule_writes_json_table_and_figure(demo_run):
    folder = demo_run / "results" / "demo_xsub"
    report = json.loads((folder / "ensemble.json").read_text())
    test = read_test_labels(demo_run / "results" / "demo" / "samples.parquet", "xsub")
    assert report["dataset"] == "demo" and report["protocol"] == "xsub"
    assert report["n_samples"] == len(test) > 50
    assert list(report["streams"]) == ["joint", "bone", "rgb"]
    assert list(report["combinations"]) == ["joint+bone", "joint+rgb", "bone+rgb", "joint+bone+rgb"]
    for entry in [*report["streams"].values(), *report["combinations"].values()]:
        assert 0 <= entry["mean_class_accuracy"] <= 1 and 0 <= entry["top1"] <= entry["top5"] <= 1
    # the fused numbers are those of the summed logits, joined by sample name
    fused = 0
    for stream in report["streams"]:
        frame = read_scores(demo_run / "results" / "demo_xsub" / stream / "scores.parquet")
        fused = fused + frame.attrs["scores"][frame.index.get_indexer(test.index)]
    assert report["combinations"]["joint+bone+rgb"]["top1"] == pytest.approx(
        np.mean(fused.argmax(1) == test.to_numpy())
    )
    assert report["weights"] == {"joint": 1.0, "bone": 1.0, "rgb": 1.0}
    assert report["config"] == {
        "kind": "demo", "streams": ["joint", "bone", "rgb"], "weights": {}, "softmax": False,
    }  # fmt: skip
    for stream, entry in report["inputs"]["scores"].items():
        path = f"results/demo_xsub/{stream}/scores.parquet"
        assert entry == {
            "path": path,
            "sha256": hashlib.sha256((demo_run / path).read_bytes()).hexdigest(),
        }
    assert report["inputs"]["labels"]["path"] == "results/demo/samples.parquet"

    table = pd.read_csv(folder / "per_class.csv")
    assert table["class"].tolist() == list(DEMO_CLASSES)
    assert table["n_samples"].tolist() == np.bincount(test, minlength=7).tolist()
    assert Image.open(folder / "confusion.png").format == "PNG"
    assert "joint+bone+rgb" in (demo_run / "results/logs/ensemble/demo_xsub.log").read_text()
    assert (demo_run / "results/benchmarks/ensemble/demo_xsub.tsv").exists()
    out = snakemake(demo_run, "-n", "results/demo_xsub/ensemble.json", *DEMO_ARGS)
    assert "Nothing to be done" in out.stdout


def test_cli_writes_the_same_json_as_the_rule(demo_run):
    result = subprocess.run(
        [sys.executable, "-m", "mmnet", "ensemble", "-c", *DEMO_ARGS[1:], "-d", "demo", "-p", "xsub",
         "--out", "cli/ensemble.json"],
        cwd=demo_run, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (demo_run / "cli" / "ensemble.json").read_text() == (
        demo_run / "results" / "demo_xsub" / "ensemble.json"
    ).read_text()
    assert (demo_run / "cli" / "per_class.csv").read_text() == (
        demo_run / "results" / "demo_xsub" / "per_class.csv"
    ).read_text()


def test_report_html_holds_the_ensemble_outputs(demo_run):
    snakemake(
        demo_run, "--report", "report.html", "results/demo_xsub/ensemble.json",
        *DEMO_ARGS,
    )  # fmt: skip
    html = (demo_run / "report.html").read_text()
    for name in ("ensemble.json", "per_class.csv", "confusion.png", "Row-normalised confusion",
                 "curve.png", "Training curve of one stream"):  # fmt: skip
        assert name in html


def test_changed_weights_rerun_only_the_ensemble(demo_run, tmp_path):
    weights = tmp_path / "weights.yaml"
    weights.write_text("ensemble:\n  weights: {rgb: 2}\n")
    out = snakemake(
        demo_run, "-n", "results/demo_xsub/ensemble.json", *DEMO_ARGS, str(weights)
    ).stdout
    assert job_counts(out) == {"ensemble": 1, "total": 1}
    assert "params" in out.split("Reasons:")[1].lower()


def test_a_stream_missing_samples_fails_naming_them(demo_run):
    labels = write_stand_in_scores(demo_run, "xview", drop={"bone": 2})
    result = snakemake(demo_run, "results/demo_xview/ensemble.json", *DEMO_ARGS, check=False)
    assert result.returncode != 0
    log = (demo_run / "results/logs/ensemble/demo_xview.log").read_text()
    assert "stream 'bone' (results/demo_xview/bone/scores.parquet): 2 missing" in log
    assert any(sample in log for sample in labels.index)
    assert not (demo_run / "results/demo_xview/ensemble.json").exists()
