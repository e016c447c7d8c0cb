"""Whole trainings in-process on a tiny real store: outputs, resume after SIGTERM, evaluation."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import REPO
from training_data import TINY_OPTIONS, FakeRoiStore

from mmnet.config import ConfigError, load_config
from mmnet.ensemble import run_ensemble
from mmnet.scores import read_scores
from mmnet.skeleton.layouts import NTU_RGBD
from mmnet.train.checkpoint import load_model
from mmnet.train.data import SkeletonData
from mmnet.train.distributed import Preempted
from mmnet.train.evaluation import evaluate_stream
from mmnet.train.job import OUTPUTS, TrainJob
from mmnet.train.loop import lr_at, topk_accuracy
from mmnet.train.options import TrainOptions
from mmnet.train.run import train_stream


def job(tiny, out, stream="joint", joint_model=None, **options) -> TrainJob:
    return TrainJob(
        dataset="tiny", kind="demo", protocol="xsub", stream=stream,
        options=TrainOptions.from_dict({**TINY_OPTIONS, **options}), samples=str(tiny[0]),
        skeleton=str(tiny[1]),
        out_dir=str(out), roi="roi.zarr (in memory)" if joint_model else None,
        joint_model=joint_model,
    )  # fmt: skip


def state(path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_schedule_and_topk():
    assert [lr_at(e, 0.1, [10, 50]) for e in (0, 9, 10, 49, 50)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001]
    )
    scores = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05]])
    assert topk_accuracy(scores, np.array([2, 0]), 1) == 0.5
    assert topk_accuracy(scores, np.array([2, 0]), 2) == 1.0


def test_training_writes_every_output(tiny, tmp_path):
    metrics = train_stream(job(tiny, tmp_path / "joint"), threads=2)
    files = {name: tmp_path / "joint" / file for name, file in OUTPUTS.items()}
    assert all(path.exists() for path in files.values())
    assert not (tmp_path / "joint" / "resume.pt").exists()
    samples = pd.read_parquet(tiny[0])
    test = samples[(samples["status"] == "ok") & ~samples["xsub"]]
    scores = read_scores(files["scores"])
    assert sorted(scores.index) == sorted(test["sample"]) and scores.attrs["scores"].shape == (
        14,
        7,
    )
    assert dict(zip(scores.index, scores["label"], strict=True)) == dict(
        zip(test["sample"], test["label"], strict=True)
    )
    written = json.loads(files["metrics"].read_text())
    assert (
        written == metrics
        and metrics["test"]["samples"] == 14
        and metrics["validation"]["samples"] == 7
    )
    assert 1 <= metrics["selected_epoch"] <= 3 and metrics["processes"] == 1
    history = pd.read_csv(files["history"])
    assert list(history["epoch"]) == [1, 2, 3] and history["lr"].tolist() == pytest.approx(
        [0.05, 0.05, 0.005]
    )
    assert metrics["validation"]["top1"] == history["val_top1"].max()
    assert history.loc[metrics["selected_epoch"] - 1, "val_top1"] == history["val_top1"].max()
    assert metrics["selected_on"] == "validation" and "note" not in metrics
    assert files["curve"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, checkpoint = load_model(files["model"])
    assert (
        checkpoint["classes"][0] == "drink water"
        and checkpoint["epoch"] == metrics["selected_epoch"]
    )
    data = SkeletonData(
        tiny[1], test.index.to_numpy(), test["label"].to_numpy(), stream="joint", layout=NTU_RGBD
    )
    with torch.no_grad():
        again = model.eval()(torch.stack([data[(i, None)][0]["x"] for i in range(len(data))]))
    order = [list(scores.index).index(s) for s in test["sample"]]
    np.testing.assert_allclose(again.numpy(), scores.attrs["scores"][order], rtol=1e-4, atol=1e-5)


def test_sigterm_saves_and_the_rerun_ends_with_the_same_weights(tiny, tmp_path, monkeypatch):
    train_stream(job(tiny, tmp_path / "straight", "bone"), threads=2)
    calls = {"n": 0}
    original = SkeletonData.__getitem__

    def getitem(self, item):
        calls["n"] += 1
        if calls["n"] == 45:  # in the second epoch: SLURM's SIGTERM arrives mid-batch
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, item)

    monkeypatch.setattr(SkeletonData, "__getitem__", getitem)
    with pytest.raises(Preempted, match="state saved"):
        train_stream(job(tiny, tmp_path / "stopped", "bone"), threads=2)
    assert (tmp_path / "stopped" / "resume.pt").exists()
    assert not (tmp_path / "stopped" / "model.pt").exists()
    saved = torch.load(tmp_path / "stopped" / "resume.pt", weights_only=True)
    assert saved["progress"]["epoch"] == 1 and saved["progress"]["batch"] > 0  # mid-epoch
    monkeypatch.setattr(SkeletonData, "__getitem__", original)
    train_stream(job(tiny, tmp_path / "stopped", "bone"), threads=2)
    assert not (tmp_path / "stopped" / "resume.pt").exists()
    straight, resumed = (
        state(tmp_path / "straight" / "model.pt"),
        state(tmp_path / "stopped" / "model.pt"),
    )
    for key in straight:
        torch.testing.assert_close(resumed[key], straight[key], rtol=0, atol=0)
    a = pd.read_csv(tmp_path / "straight" / "history.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "stopped" / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


def test_a_resume_file_of_another_configuration_is_ignored(tiny, tmp_path):
    out = tmp_path / "joint"
    out.mkdir()
    torch.save({"fingerprint": "another job"}, out / "resume.pt")
    train_stream(job(tiny, out, epochs=1), threads=2)
    assert (out / "model.pt").exists() and not (out / "resume.pt").exists()


def test_released_state_dicts_evaluate_like_the_trained_model(tiny, tmp_path):
    train_stream(job(tiny, tmp_path / "joint", epochs=1), threads=2)
    weights = state(tmp_path / "joint" / "model.pt")
    torch.save({f"module.{k}": v for k, v in weights.items()}, tmp_path / "joint_model_stgcn.pt")
    metrics = evaluate_stream(job(tiny, tmp_path / "released"), tmp_path / "joint_model_stgcn.pt")
    trained = read_scores(tmp_path / "joint" / "scores.parquet")
    evaluated = read_scores(tmp_path / "released" / "scores.parquet")
    assert list(evaluated.index) == list(trained.index)
    np.testing.assert_allclose(
        evaluated.attrs["scores"], trained.attrs["scores"], rtol=1e-4, atol=1e-5
    )
    assert metrics["test"] == json.loads((tmp_path / "joint" / "metrics.json").read_text())["test"]
    torch.save({"fcn.weight": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="weights do not fit STGCN"):
        evaluate_stream(job(tiny, tmp_path / "wrong"), tmp_path / "wrong.pt")


def test_rgb_stream_trains_on_a_roi_store_with_the_frozen_joint_model(tiny, tmp_path):
    train_stream(job(tiny, tmp_path / "joint", epochs=1, frame_stride=2), threads=2)
    joint = state(tmp_path / "joint" / "model.pt")
    samples = pd.read_parquet(tiny[0])
    missing = int(np.flatnonzero((samples["status"] == "ok") & ~samples["xsub"])[0])
    roi = FakeRoiStore(tiny[0], missing=(missing,))
    rgb = job(tiny, tmp_path / "rgb", "rgb", str(tmp_path / "joint" / "model.pt"), epochs=1)
    metrics = train_stream(rgb, threads=2, roi_store=roi)
    assert metrics["test_rows_without_roi"] == 1 and metrics["test"]["samples"] == 14
    fused = state(tmp_path / "rgb" / "model.pt")
    for key, value in joint.items():  # the ST-GCN inside is the joint model, untouched
        torch.testing.assert_close(fused[f"stgcn.{key}"], value, rtol=0, atol=0)
    checkpoint = torch.load(tmp_path / "rgb" / "model.pt", weights_only=True)
    assert checkpoint["config"]["frame_stride"] == 2  # taken from the joint model
    assert any(rng for _, rng, _ in roi.calls) and read_scores(
        tmp_path / "rgb" / "scores.parquet"
    ).attrs["scores"].shape == (14, 7)


def coarse_sqrt(x, *args, **kwargs):
    """torch.sqrt to about 12 bits: what MKL's vectorised square root (behind torch.sqrt on
    CPU) returned for one thread's half of its first call in some launches (issue 18)."""
    out = torch.sqrt(x, *args, **kwargs)
    return (out.view(torch.int32) & ~0xFFF).view(torch.float32)


def test_rgb_training_repeats_bit_for_bit(tiny, tmp_path, monkeypatch):
    """Same options on the same machine: the same rgb weights and scores, however the CPU's
    square root rounds in this process (the second run gets a coarse one), and with
    ``deterministic: true`` (PyTorch's deterministic algorithms; on the CPU, no change)."""
    train_stream(job(tiny, tmp_path / "joint", epochs=1, frame_stride=2), threads=2)
    joint = str(tmp_path / "joint" / "model.pt")
    train_stream(job(tiny, tmp_path / "first", "rgb", joint, epochs=1), threads=2,
                 roi_store=FakeRoiStore(tiny[0]))  # fmt: skip
    monkeypatch.setattr(torch.Tensor, "sqrt", coarse_sqrt)
    second = job(tiny, tmp_path / "second", "rgb", joint, epochs=1, deterministic=True)
    train_stream(second, threads=2, roi_store=FakeRoiStore(tiny[0]))
    assert not torch.are_deterministic_algorithms_enabled()  # restored after the training
    first, again = state(tmp_path / "first" / "model.pt"), state(tmp_path / "second" / "model.pt")
    assert first.keys() == again.keys()
    for key in first:
        torch.testing.assert_close(again[key], first[key], rtol=0, atol=0, msg=key)
    scores = [read_scores(tmp_path / name / "scores.parquet") for name in ("first", "second")]
    np.testing.assert_array_equal(scores[0].attrs["scores"], scores[1].attrs["scores"])


def write_config(tmp_path, train: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(
        "datasets:\n  demo:\n    kind: demo\n  big:\n    kind: ntu120\n    skeletons: /x\n" + train
    )
    return str(path)


def test_options_resolve_presets_then_overrides(tmp_path):
    config = load_config([write_config(tmp_path, (
        "train:\n  epochs: 5\n  overrides:\n"
        "    - {match: {stream: rgb}, set: {base_lr: 0.02}}\n"
        "    - {match: {dataset: big, stream: [joint]}, set: {epochs: 7}}\n"
    ))])  # fmt: skip
    assert config.train_options("demo", "xsub", "joint").epochs == 5
    big_bone = config.train_options("big", "xsub", "bone")  # MS-G3D's NTU120 recipe
    assert (big_bone.backbone, big_bone.epochs, big_bone.lr_steps) == ("msg3d", 60, (30, 50))
    assert not big_bone.random_move
    assert config.train_options("big", "xset", "joint").epochs == 7  # override after preset
    big_rgb = config.train_options("big", "xsub", "rgb")
    assert (big_rgb.epochs, big_rgb.base_lr, big_rgb.random_interval) == (5, 0.02, False)
    assert big_rgb.pretrained_resnet == "imagenet"  # the real datasets' preset
    assert config.train_options("demo", "xsub", "rgb").pretrained_resnet is None


@pytest.mark.parametrize(
    ("train", "message"),
    [
        (
            "train:\n  overrides:\n    - {match: {stream: rgb}, set: {epoch: 3}}\n",
            r"train.overrides\[0\].set: unknown key\(s\) \['epoch'\]",
        ),
        (
            "train:\n  overrides:\n    - {match: {stream: rgb}, set: {epochs: 0}}\n",
            r"train.overrides\[0\].set.epochs: 0 is less than the minimum of 1",
        ),
        (
            "train:\n  overrides:\n    - {match: {dataset: nope}, set: {epochs: 3}}\n",
            r"train.overrides\[0\].match.dataset: \['nope'\]",
        ),
        (
            "train:\n  overrides:\n    - {match: {stream: depth}, set: {epochs: 3}}\n",
            r"train.overrides.0.match.stream",
        ),
        ("train:\n  val_fraction: 0\n", "selection 'best_val' needs val_fraction > 0"),
        (
            "train:\n  protocols: {demo: [xset]}\n",
            r"train.protocols.demo: \['xset'\] not protocols of demo",
        ),
    ],
)
def test_bad_training_options_name_the_key(tmp_path, train, message):
    with pytest.raises(ConfigError, match=message):
        load_config([write_config(tmp_path, train)])


def test_cli_resolves_options_and_the_workflows_default_paths(tmp_path):
    demo = str(REPO / "config" / "demo.yaml")
    shown = subprocess.run(
        [sys.executable, "-m", "mmnet", "train-options", "-c", demo, "-d", "demo", "-p", "xsub", "-s", "rgb"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert yaml.safe_load(shown.stdout)["base_lr"] == 0.02  # the demo's rgb override
    failed = subprocess.run(
        [sys.executable, "-m", "mmnet", "train", "-c", demo, "-d", "demo", "-p", "xsub", "-s", "joint"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert failed.returncode == 1
    assert "results/demo/samples.parquet: no samples table" in failed.stderr


def test_paper_selection_scores_the_test_split_every_five_epochs(tiny, tmp_path):
    """`selection: paper`: no hold-out, the test split scored at epochs 5, 10... and the
    last, the best of those kept; every output says so."""
    out = tmp_path / "paper"
    metrics = train_stream(job(tiny, out, epochs=6, selection="paper"), threads=2)
    history = pd.read_csv(out / "history.csv")
    assert history["val_top1"].notna().tolist() == [False] * 4 + [True, True]
    assert metrics["validation"]["samples"] == 0 and metrics["train_samples"] == 42
    assert metrics["selected_on"] == "test"
    assert metrics["note"] == "selected on the test split, as the original; optimistic"
    best = history["val_top1"].max()
    assert metrics["selected_epoch"] == int(history.loc[history["val_top1"] == best, "epoch"].min())
    assert metrics["test"]["top1"] == pytest.approx(best)  # it is the selection pass


def test_paper_selection_with_fusion_scores_keeps_the_best_fused_accuracy(tiny, tmp_path):
    """The rgb stream's `paper` selection (the best joint+bone+rgb sum, rules give it the
    skeleton streams' scores as `fusion_scores`), exercised on a cheap joint model."""
    train_stream(job(tiny, tmp_path / "first", epochs=1), threads=2)
    other = tmp_path / "first" / "scores.parquet"
    paper = replace(
        job(tiny, tmp_path / "fused", epochs=6, selection="paper", seed=4),
        fusion_scores=(str(other), str(other)),
    )
    metrics = train_stream(paper, threads=2)
    history = pd.read_csv(tmp_path / "fused" / "history.csv")
    fused = history["fused_top1"]
    assert fused.notna().tolist() == [False] * 4 + [True, True]
    assert metrics["selected_epoch"] == int(history.loc[fused == fused.max(), "epoch"].min())
    assert "optimistic" in metrics["note"]
    report = run_ensemble(
        {"first": other, "fused": tmp_path / "fused" / "scores.parquet"}, tmp_path / "e.json",
        tmp_path / "p.csv", tmp_path / "c.png", labels=tiny[0], protocol="xsub",
    )  # fmt: skip
    assert report["trainings"]["fused"]["selected_on"] == "test" and "optimistic" in report["note"]
    assert report["trainings"]["first"]["selected_on"] == "validation"


class _Linear(torch.nn.Module):
    """A model without batch norm: accumulated gradients must equal the whole batch's."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def test_forward_batch_size_accumulates_the_whole_batchs_gradient(tmp_path):
    from mmnet.train.distributed import setup
    from mmnet.train.loop import Trainer

    torch.manual_seed(0)
    inputs, labels = {"x": torch.randn(8, 6, dtype=torch.float64)}, torch.randint(0, 3, (8,))
    grads = []
    for per_pass in (None, 2):
        torch.manual_seed(1)
        model = _Linear().double()
        trainer = Trainer(
            model=model, module=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            train_data=list(range(8)), val_data=[], val_labels=np.array([]), env=setup(1),
            options=TrainOptions(batch_size=8, forward_batch_size=per_pass),
            resume_path=tmp_path / "resume.pt", fingerprint="",
        )  # fmt: skip
        assert trainer._step(inputs, labels)[2] == 8
        grads.append([p.grad.clone() for p in model.parameters()])
    for whole, accumulated in zip(*grads, strict=True):
        torch.testing.assert_close(accumulated, whole, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="forward_batch_size 3 does not divide batch_size 8"):
        TrainOptions(batch_size=8, forward_batch_size=3)


def test_msg3d_trains_and_its_released_weights_evaluate_alike(tiny, tmp_path):
    small = {"backbone": "msg3d", "base_channels": 6, "num_gcn_scales": 3, "num_g3d_scales": 2,
             "epochs": 1, "forward_batch_size": 4}  # fmt: skip
    metrics = train_stream(job(tiny, tmp_path / "msg3d", **small), threads=2)
    assert metrics["model"] == "msg3d"
    checkpoint = torch.load(tmp_path / "msg3d" / "model.pt", weights_only=True)
    released = tmp_path / "released.pt"  # as the authors publish them: DataParallel's prefix
    torch.save({f"module.{k}": v for k, v in checkpoint["state_dict"].items()}, released)
    evaluated = evaluate_stream(job(tiny, tmp_path / "eval", **small), released)
    assert evaluated["model"] == "MSG3D"
    a = read_scores(tmp_path / "msg3d" / "scores.parquet")
    b = read_scores(tmp_path / "eval" / "scores.parquet")
    assert list(a.index) == list(b.index)
    np.testing.assert_allclose(b.attrs["scores"], a.attrs["scores"], rtol=1e-5, atol=1e-6)
