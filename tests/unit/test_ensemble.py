"""Score fusion: joined by sample name, metrics by hand, reports, and the CLI."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mmnet.datasets.demo import DEMO_CLASSES
from mmnet.ensemble import combinations_of, label_ranks, metrics, run_ensemble
from mmnet.scores import write_label_pickle, write_score_pickle, write_scores

STREAMS = ("joint", "bone", "rgb")


def fake_streams(n: int = 70, num_class: int = 7, seed: int = 0):
    """Sample ids, labels and three streams of logits that are right more often than not,
    each with its own mistakes (so fusing them helps)."""
    rng = np.random.default_rng(seed)
    samples = np.array([f"S001C00{1 + i % 3}P{i:03d}R001A00{1 + i % num_class}" for i in range(n)])
    labels = np.arange(n) % num_class
    streams = {}
    for strength, name in zip((1.6, 1.2, 0.9), STREAMS, strict=True):
        logits = rng.normal(size=(n, num_class)).astype(np.float32)
        logits[np.arange(n), labels] += strength
        streams[name] = logits
    return samples, labels, streams


def run(tmp_path, scores, **kwargs) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return run_ensemble(
        scores,
        tmp_path / "ensemble.json",
        tmp_path / "per_class.csv",
        tmp_path / "confusion.png",
        **kwargs,
    )


def numbers(report: dict) -> dict:
    return {"streams": report["streams"], "combinations": report["combinations"]}


def test_shuffled_score_files_give_the_same_numbers(tmp_path):
    """Acceptance (issue 7): the same scores given in a different row order per file."""
    samples, labels, streams = fake_streams()
    ordered, shuffled = {}, {}
    for i, name in enumerate(STREAMS):
        ordered[name] = tmp_path / f"{name}.parquet"
        write_scores(ordered[name], samples, labels, streams[name])
        order = np.random.default_rng(100 + i).permutation(len(samples))
        shuffled[name] = tmp_path / f"{name}_shuffled.parquet"
        write_scores(shuffled[name], samples[order], labels[order], streams[name][order])
    a = run(tmp_path / "a", ordered, kind="demo")
    b = run(tmp_path / "b", shuffled, kind="demo")
    assert numbers(a) == numbers(b)
    assert (tmp_path / "a" / "per_class.csv").read_text() == (
        tmp_path / "b" / "per_class.csv"
    ).read_text()
    # the numbers are those of a positional sum over correctly ordered arrays
    total = sum(streams.values())
    assert a["combinations"]["joint+bone+rgb"]["top1"] == pytest.approx(
        np.mean(total.argmax(axis=1) == labels)
    )
    assert a["streams"]["rgb"]["top1"] == pytest.approx(
        np.mean(streams["rgb"].argmax(axis=1) == labels)
    )
    # ... and differ from what the original's positional pairing makes of shuffled files
    order = np.random.default_rng(101).permutation(len(samples))
    positional = streams["joint"] + streams["bone"][order] + streams["rgb"]
    assert (
        np.mean(positional.argmax(axis=1) == labels)
        < a["combinations"]["joint+bone+rgb"]["top1"] - 0.1
    )


def test_metrics_by_hand():
    scores = np.array(
        [
            [0.9, 0.1, 0.0],  # label 0: rank 0
            [0.5, 0.5, 0.0],  # label 1, tied with class 0: argmax says 0, so rank 1
            [0.2, 0.3, 0.1],  # label 2: rank 2
            [0.0, 1.0, 0.0],  # label 1: rank 0
        ]
    )
    labels = np.array([0, 1, 2, 1])
    np.testing.assert_array_equal(label_ranks(scores, labels), [0, 1, 2, 0])
    result = metrics(scores, labels)
    assert result["top1"] == 0.5
    assert result["top5"] == 1.0  # k = min(5, 3 classes)
    assert result["mean_class_accuracy"] == pytest.approx((1 + 0.5 + 0) / 3)


def test_combinations_follow_the_given_order():
    assert ["+".join(c) for c in combinations_of(["joint", "bone", "rgb"])] == [
        "joint+bone",
        "joint+rgb",
        "bone+rgb",
        "joint+bone+rgb",
    ]
    assert combinations_of(["rgb"]) == []


def test_weights_and_softmax(tmp_path):
    samples = np.array(["a", "b"])
    labels = np.array([0, 1])
    # on b, joint leans wrongly to class 0 in raw logits but splits its probability between
    # classes 0 and 2, while bone is sure of the right class 1
    joint = np.array([[2.0, 0.0, 0.0], [5.0, 0.0, 4.9]], dtype=np.float32)
    bone = np.array([[1.0, 0.0, 0.0], [0.0, 4.0, 0.0]], dtype=np.float32)
    paths = {"joint": tmp_path / "j.parquet", "bone": tmp_path / "b.parquet"}
    write_scores(paths["joint"], samples, labels, joint)
    write_scores(paths["bone"], samples, labels, bone)
    raw = run(tmp_path / "raw", paths)
    assert raw["combinations"]["joint+bone"]["top1"] == 0.5  # b: 5 > 4 (the original's sum)
    assert raw["weights"] == {"joint": 1.0, "bone": 1.0}
    soft = run(tmp_path / "soft", paths, use_softmax=True)
    assert soft["combinations"]["joint+bone"]["top1"] == 1.0  # b: 0.52 + 0.02 < 0.00 + 0.97
    assert soft["config"]["softmax"] is True
    heavy = run(tmp_path / "heavy", paths, weights={"bone": 2})
    assert heavy["combinations"]["joint+bone"]["top1"] == 1.0  # b: 5 < 8
    assert heavy["weights"] == {"joint": 1.0, "bone": 2.0}
    assert heavy["config"]["weights"] == {"bone": 2}
    assert heavy["streams"] == raw["streams"]  # weights act on fusion only
    with pytest.raises(ValueError, match=r"weights given for stream\(s\) \['rgb'\]"):
        run(tmp_path / "bad", paths, weights={"rgb": 1})


def test_missing_and_extra_samples_are_listed_per_side(tmp_path):
    samples, labels, streams = fake_streams(n=30)
    joint, bone = tmp_path / "joint.parquet", tmp_path / "bone.parquet"
    write_scores(joint, samples, labels, streams["joint"])
    keep = np.ones(len(samples), bool)
    keep[[3, 7]] = False
    extra = np.append(samples[keep], "S009C001P001R001A001")
    write_scores(
        bone, extra, np.append(labels[keep], 0), np.vstack([streams["bone"][keep], np.zeros(7)])
    )
    with pytest.raises(ValueError) as info:
        run(tmp_path / "out", {"joint": joint, "bone": bone})
    message = str(info.value)
    assert f"stream 'bone' ({bone}): 2 missing" in message
    assert f"{samples[3]}, {samples[7]}" in message
    assert "1 extra (in this file, not in the reference): S009C001P001R001A001" in message
    assert f"reference, stream 'joint' ({joint})" in message
    assert f"stream 'joint' ({joint}):" not in message  # the reference side is complete
    assert not (tmp_path / "out" / "ensemble.json").exists()


def test_disagreeing_labels_are_an_error(tmp_path):
    samples, labels, streams = fake_streams(n=20)
    joint, bone = tmp_path / "joint.parquet", tmp_path / "bone.parquet"
    write_scores(joint, samples, labels, streams["joint"])
    wrong = labels.copy()
    wrong[5] = (wrong[5] + 1) % 7
    write_scores(bone, samples, wrong, streams["bone"])
    with pytest.raises(ValueError, match=rf"stream 'bone'.*1 label\(s\) differ.*{samples[5]}"):
        run(tmp_path / "out", {"joint": joint, "bone": bone})


def test_reports(tmp_path):
    samples, labels, streams = fake_streams()
    paths = {}
    for name in STREAMS:
        paths[name] = tmp_path / f"{name}.parquet"
        write_scores(paths[name], samples, labels, streams[name])
    report = run(tmp_path / "out", paths, kind="demo", dataset="demo", protocol="xsub")
    assert set(report) == {
        "dataset", "protocol", "n_samples", "streams", "combinations", "weights", "trainings",
        "method", "inputs", "config",
    }  # fmt: skip
    # bare score files: no metrics.json beside them says what made them
    assert report["trainings"] == dict.fromkeys(STREAMS)
    assert report["method"] == "unknown joint + unknown bone + unknown rgb"
    assert report["n_samples"] == len(samples)
    assert list(report["combinations"]) == ["joint+bone", "joint+rgb", "bone+rgb", "joint+bone+rgb"]
    for entry in [*report["streams"].values(), *report["combinations"].values()]:
        assert set(entry) == {"top1", "top5", "mean_class_accuracy"}
        assert 0 <= entry["top1"] <= entry["top5"] <= 1
    assert report["combinations"]["joint+bone+rgb"]["top1"] > max(
        s["top1"] for s in report["streams"].values()
    )
    assert json.loads((tmp_path / "out" / "ensemble.json").read_text()) == report
    table = pd.read_csv(tmp_path / "out" / "per_class.csv")
    assert list(table.columns) == [
        "label", "class", "n_samples", "joint", "bone", "rgb",
        "joint+bone", "joint+rgb", "bone+rgb", "joint+bone+rgb",
    ]  # fmt: skip
    assert table["class"].tolist() == list(DEMO_CLASSES)
    assert table["n_samples"].sum() == len(samples)
    predicted = sum(streams.values()).argmax(axis=1)
    for c in range(7):
        expected = np.mean(predicted[labels == c] == c)
        assert table.loc[c, "joint+bone+rgb"] == pytest.approx(expected, abs=1e-6)
    assert report["combinations"]["joint+bone+rgb"]["mean_class_accuracy"] == pytest.approx(
        table["joint+bone+rgb"].mean(), abs=1e-5
    )
    image = Image.open(tmp_path / "out" / "confusion.png")
    assert image.format == "PNG" and min(image.size) >= 500


def test_wrong_class_count_for_the_kind(tmp_path):
    samples, labels, streams = fake_streams()
    write_scores(tmp_path / "j.parquet", samples, labels, streams["joint"])
    with pytest.raises(ValueError, match="7 classes but dataset kind 'ntu60' has 60"):
        run(tmp_path / "out", {"joint": tmp_path / "j.parquet"}, kind="ntu60")


def test_original_pickles_give_the_parquet_numbers(tmp_path):
    """Pickles as the original writes them (names with '.skeleton', NTU120-style full paths
    in one of them, every file in its own order) fuse to the same numbers as parquet."""
    samples, labels, streams = fake_streams()
    parquet, pickles = {}, {}
    for i, name in enumerate(STREAMS):
        parquet[name] = tmp_path / f"{name}.parquet"
        write_scores(parquet[name], samples, labels, streams[name])
        order = np.random.default_rng(i).permutation(len(samples))
        pickles[name] = tmp_path / f"{name}_result.pkl"
        write_score_pickle(pickles[name], samples[order], streams[name][order])
    with open(pickles["rgb"], "wb") as file:  # full paths, protocol 2, as very old files are
        pickle.dump(
            {
                f"/data/ntu/nturgb+d_skeletons/{s}.skeleton": v
                for s, v in zip(samples, streams["rgb"], strict=True)
            },
            file,
            protocol=2,
        )
    write_label_pickle(tmp_path / "val_label.pkl", samples[::-1], labels[::-1])
    a = run(tmp_path / "a", parquet)
    b = run(tmp_path / "b", pickles, labels=tmp_path / "val_label.pkl")
    assert numbers(a) == numbers(b)
    assert b["inputs"]["labels"]["path"] == str(tmp_path / "val_label.pkl")
    with pytest.raises(ValueError, match="no labels: the score files are pickles"):
        run(tmp_path / "c", pickles)


def test_cli_fuses_the_original_pickles(tmp_path):
    """The command line of issue 7, verbatim, in a folder without any config."""
    samples, labels, streams = fake_streams()
    for name, file in zip(STREAMS, ("a", "b", "c"), strict=True):
        write_score_pickle(tmp_path / f"{file}.pkl", samples, streams[name])
    write_label_pickle(tmp_path / "val_label.pkl", samples, labels)
    command = "--scores joint=a.pkl bone=b.pkl rgb=c.pkl --labels val_label.pkl --out e.json"
    result = subprocess.run(
        [sys.executable, "-m", "mmnet", "ensemble", *command.split()],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "e.json").read_text())
    assert list(report["streams"]) == list(STREAMS)
    assert report["inputs"]["scores"]["joint"]["path"] == "a.pkl"
    assert (tmp_path / "per_class.csv").exists() and (tmp_path / "confusion.png").exists()
    assert "joint+bone+rgb" in result.stderr  # the summary is logged


def test_cli_reports_a_bad_pair_clearly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mmnet", "ensemble", "--scores", "joint:a.pkl"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "--scores: expected STREAM=VALUE, got 'joint:a.pkl'" in result.stderr


def test_non_finite_scores_and_class_counts_are_errors(tmp_path):
    samples, labels = np.array(["a", "b"]), np.array([0, 1])
    write_scores(tmp_path / "j.parquet", samples, labels, [[1.0, 0.0], [np.nan, 1.0]])
    write_scores(tmp_path / "b.parquet", samples, labels, np.zeros((2, 3)))
    with pytest.raises(
        ValueError, match=r"stream 'joint' .*non-finite scores for 1 sample\(s\): b"
    ):
        run(tmp_path / "nan", {"joint": tmp_path / "j.parquet"})
    write_scores(tmp_path / "r.parquet", samples, labels, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=re.escape("classes: {'bone': 3, 'rgb': 2}")):
        run(tmp_path / "width", {"bone": tmp_path / "b.parquet", "rgb": tmp_path / "r.parquet"})
