"""Training and evaluation of the three streams: ``train_stream`` and ``evaluate_stream``.

A stream is ``joint`` or ``bone`` (an ST-GCN on joints or on bone vectors) or ``rgb`` (the
MMNet fusion model: a frozen joint ST-GCN weights the five-frame ROI fed to a ResNet-18).
``train_stream`` writes into ``out_dir`` the files named in :data:`OUTPUTS` (the
contract of ``docs/training.md``) and keeps ``resume.pt`` there while it runs.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import mmnet
from mmnet.datasets import Dataset, get_dataset
from mmnet.models import STGCN, MMNet
from mmnet.models.pretrained import resolve_pretrained_resnet
from mmnet.models.stgcn import init_like_original
from mmnet.scores import write_scores
from mmnet.store import atomic_path
from mmnet.train.checkpoint import (
    job_fingerprint,
    load_joint_into,
    load_model,
    load_resume,
    read_checkpoint,
    save_model,
)
from mmnet.train.data import (
    FusedData,
    SkeletonData,
    Splits,
    open_roi_store,
    read_samples,
    split_rows,
)
from mmnet.train.distributed import (
    Env,
    Preempted,
    StopRequest,
    launch_torchrun,
    processes_for,
    setup,
    synchronise_batchnorm,
    teardown,
)
from mmnet.train.loop import MOMENTUM, Trainer, plot_history, predict, topk_accuracy, write_history

log = logging.getLogger(__name__)

STREAMS = ("joint", "bone", "rgb")
OUTPUTS = {
    "model": "model.pt",
    "scores": "scores.parquet",
    "metrics": "metrics.json",
    "history": "history.csv",
    "curve": "curve.png",
}
RESUME_FILE = "resume.pt"


@dataclass
class TrainJob:
    """One training: which data, which stream, which hyper-parameters, where to write.

    ``options`` are the resolved ``train`` keys of the config
    (:func:`mmnet.config.train_options`). ``roi`` and ``joint_model`` are needed by the rgb
    stream only.
    """

    dataset: str
    kind: str
    protocol: str
    stream: str
    options: dict
    samples: str
    skeleton: str
    out_dir: str
    roi: str | None = None
    joint_model: str | None = None

    def __post_init__(self) -> None:
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, not {self.stream!r}")
        if self.stream == "rgb" and not self.joint_model:
            raise ValueError("the rgb stream needs the joint stream's model (joint_model)")

    def output(self, name: str) -> Path:
        return Path(self.out_dir) / OUTPUTS[name]

    @property
    def resume_path(self) -> Path:
        return Path(self.out_dir) / RESUME_FILE

    @property
    def inputs(self) -> list[str]:
        return [p for p in (self.samples, self.skeleton, self.roi, self.joint_model) if p]


def train_stream(job: TrainJob, *, gpus: int = 1, threads: int = 1, roi_store=None) -> dict | None:
    """Train ``job``'s stream and write its outputs; returns the metrics (on rank 0).

    With ``gpus`` > 1 and that many GPUs visible, re-runs itself as ``torchrun`` with one
    process per GPU. A stop request (SIGTERM) saves the resume file and raises
    :class:`Preempted`; running the same job again resumes. ``roi_store`` replaces the ROI
    store at ``job.roi`` by any object with its interface (tests, benchmarks).
    """
    processes = processes_for(gpus)
    if processes > 1:
        if roi_store is not None:
            raise ValueError("an in-memory roi_store cannot be passed to torchrun workers")
        launch_torchrun(asdict(job), processes, threads, Path(job.out_dir) / "job.json")
        return json.loads(job.output("metrics").read_text())
    env = setup(threads)
    try:
        with StopRequest() as stop:
            return _train(job, env, threads, roi_store, stop)
    finally:
        teardown(env)


def _workers(env: Env, threads: int) -> int:
    """DataLoader workers: none on CPU (the threads compute), ``threads - 1`` beside a GPU."""
    return max(0, threads - 1) if env.device.type == "cuda" else 0


def _graph_args(kind: Dataset) -> dict:
    return {"layout": kind.layout_name, "strategy": "spatial"}


def _build_model(
    job: TrainJob, kind: Dataset, roi, resnet_weights: Path | None
) -> tuple[nn.Module, str, dict]:
    """A fresh model for ``job``: ``(model, registry name, constructor args)``."""
    options = job.options
    if job.stream != "rgb":
        args = {
            "in_channels": 3,
            "num_class": kind.num_class,
            "graph_args": _graph_args(kind),
            "edge_importance_weighting": True,
            "dropout": options["dropout"],
            "base_channels": options["base_channels"],
        }
        model = STGCN(**args)
        model.apply(init_like_original)
        return model, "stgcn", args
    joint = read_checkpoint(job.joint_model)
    joint_args = joint.get("model_args", {})  # a released state dict: the original's widths
    args = {
        "num_class": kind.num_class,
        "graph_args": _graph_args(kind),
        "temporal_positions": options["temporal_positions"],
        "temporal_rgb_frames": int(roi.temporal_rgb_frames),
        "attention": options["attention"],
        "dropout": joint_args.get("dropout", 0.5),
        "base_channels": joint_args.get("base_channels", 64),
    }
    model = MMNet(**args)
    load_joint_into(model, job.joint_model)
    if resnet_weights is not None:
        model.resnet.load_pretrained(resnet_weights)
    return model, "mmnet", args


def _datasets(job: TrainJob, kind: Dataset, splits: Splits, labels: np.ndarray, roi):
    """(train, validation, test) datasets of ``job``'s stream."""
    options = job.options

    def skeletons(rows: np.ndarray, stream: str, train: bool) -> SkeletonData:
        return SkeletonData(
            job.skeleton,
            rows,
            labels[rows],
            stream=stream,
            layout=kind.layout,
            random_move=train and options["random_move"],
            frame_stride=options["frame_stride"],
            seed=options["seed"],
        )

    if job.stream != "rgb":
        return tuple(
            skeletons(rows, job.stream, name == "train")
            for name, rows in (("train", splits.train), ("val", splits.val), ("test", splits.test))
        )
    available = np.asarray(roi.available, dtype=bool)

    def fused(rows: np.ndarray, train: bool) -> FusedData:
        return FusedData(
            skeletons(rows, "joint", train),
            roi,
            random_interval=train and options["random_interval"],
            random_flip=train and options["random_flip"],
            legacy_invert=options["legacy_invert"],
            seed=options["seed"],
        )

    usable = {
        name: rows[available[rows]] for name, rows in (("train", splits.train), ("val", splits.val))
    }
    dropped = {name: len(getattr(splits, name)) - len(rows) for name, rows in usable.items()}
    if any(dropped.values()):
        log.warning("rows without a ROI left out of training: %s", dropped)
    return fused(usable["train"], True), fused(usable["val"], False), fused(splits.test, False)


def _cache_attention(model: MMNet, datasets: list[FusedData], env: Env, options: dict) -> None:
    """Compute the frozen ST-GCN's attention statistics once per sample (see MMNet)."""
    for data in datasets:
        if data.skeletons.augment:  # random_move: the skeleton changes every epoch
            continue
        data.stats = predict(
            model,
            data.skeletons,
            env,
            batch_size=options["test_batch_size"],
            amp=options["amp"],
            desc="attention",
            call=lambda m, inputs: m.attention_stats(inputs["x"]),
        )


def _frame_stride(checkpoint: dict) -> int:
    """The frame stride a model was trained with (1 for the original's state dicts): its
    inputs must be sampled the same way."""
    return int(checkpoint.get("config", {}).get("frame_stride", 1))


def _train(job: TrainJob, env: Env, threads: int, roi_store, stop: StopRequest) -> dict | None:
    resnet_weights = None
    if job.stream == "rgb":  # before anything else: a missing weight file stops the run here
        resnet_weights = resolve_pretrained_resnet(job.options["pretrained_resnet"])
    if job.stream == "rgb":  # the frozen ST-GCN must see frames as it was trained
        job.options["frame_stride"] = _frame_stride(read_checkpoint(job.joint_model))
    options, kind = job.options, get_dataset(job.kind)
    started = time.perf_counter()
    samples = read_samples(job.samples, job.protocol, kind.num_class)
    splits = split_rows(samples, job.protocol, options["val_fraction"], options["seed"])
    labels = samples["label"].to_numpy()
    if env.main:
        log.info("%s %s %s: %s samples", job.dataset, job.protocol, job.stream, splits.sizes())
    roi = None
    if job.stream == "rgb":
        roi = roi_store if roi_store is not None else open_roi_store(job.roi)
    torch.manual_seed(options["seed"])  # the same initial weights in every process
    module, name, model_args = _build_model(job, kind, roi, resnet_weights)
    train_data, val_data, test_data = _datasets(job, kind, splits, labels, roi)
    module.to(env.device)
    channels_last = env.device.type == "cuda" and job.stream == "rgb"
    if channels_last:
        module.resnet.to(memory_format=torch.channels_last)
    if job.stream == "rgb":
        _cache_attention(module, [train_data, val_data, test_data], env, options)
    model: nn.Module = module
    if env.distributed:
        module = synchronise_batchnorm(module)
        model = DistributedDataParallel(
            module,
            device_ids=[env.device.index] if env.device.type == "cuda" else None,
            broadcast_buffers=False,  # batch-norm statistics are synchronised instead
        )
    torch.manual_seed(options["seed"] + env.rank)  # dropout: one stream per process
    optimizer = torch.optim.SGD(
        [p for p in module.parameters() if p.requires_grad],
        lr=options["base_lr"],
        momentum=MOMENTUM,
        nesterov=True,
        weight_decay=options["weight_decay"],
    )
    fingerprint = job_fingerprint(
        {k: v for k, v in asdict(job).items() if k != "out_dir"}, job.inputs
    )
    trainer = Trainer(
        model=model,
        module=module,
        optimizer=optimizer,
        train_data=train_data,
        val_data=val_data,
        val_labels=val_data.labels,
        env=env,
        options=options,
        resume_path=job.resume_path,
        fingerprint=fingerprint,
        workers=_workers(env, threads),
        channels_last=channels_last,
    )
    saved = load_resume(job.resume_path, fingerprint)
    if saved is not None:
        trainer.resume_from(saved)
    trainer.fit(stop)

    selected = options["epochs"] - 1
    if options["selection"] == "best_val" and trainer.best_state is not None:
        module.load_state_dict(trainer.best_state)
        selected = trainer.state.best_epoch
    scores = trainer.evaluate(test_data, desc="test")
    if not env.main:
        return None
    test_rows = splits.test
    chosen = trainer.state.history[selected]
    metrics = {
        "dataset": job.dataset,
        "protocol": job.protocol,
        "stream": job.stream,
        "model": name,
        "test": {
            "top1": topk_accuracy(scores, labels[test_rows], 1),
            "top5": topk_accuracy(scores, labels[test_rows], 5),
            "samples": len(test_rows),
        },
        "validation": {
            "top1": _number(chosen["val_top1"]),
            "top5": _number(chosen["val_top5"]),
            "samples": len(val_data),
        },
        "train_samples": len(train_data),
        "epochs": options["epochs"],
        "selected_epoch": selected + 1,
        "selection": options["selection"],
        "seconds": time.perf_counter() - started,
        "train_seconds": float(sum(h["seconds"] for h in trainer.state.history)),
        "processes": env.world,
        "device": str(env.device),
        "batch_size": options["batch_size"],
        "batch_per_process": options["batch_size"] // env.world,
        "mmnet_version": mmnet.__version__,
    }
    if job.stream == "rgb":
        metrics["test_rows_without_roi"] = len(test_data.rows_without_roi())
        metrics["attention"] = options["attention"]
    _write_outputs(
        job, module, name, model_args, kind, samples, test_rows, scores, metrics, trainer
    )
    job.resume_path.unlink(missing_ok=True)
    log.info(
        "%s %s %s: test top-1 %.4f top-5 %.4f (epoch %d selected on validation top-1 %.4f)",
        job.dataset, job.protocol, job.stream, metrics["test"]["top1"], metrics["test"]["top5"],
        selected + 1, chosen["val_top1"],
    )  # fmt: skip
    return metrics


def _write_outputs(
    job, module, name, model_args, kind, samples, test_rows, scores, metrics, trainer
):
    names = samples["sample"].to_numpy()
    labels = samples["label"].to_numpy()
    write_scores(job.output("scores"), names[test_rows], labels[test_rows], scores)
    save_model(
        job.output("model"),
        module,
        name,
        model_args,
        config=job.options,
        classes=list(kind.class_names),
        epoch=metrics["selected_epoch"],
        metrics=metrics,
        stream=job.stream,
        dataset=job.dataset,
        protocol=job.protocol,
    )
    write_json(job.output("metrics"), metrics)
    write_history(job.output("history"), trainer.state.history)
    plot_history(
        job.output("curve"),
        trainer.state.history,
        f"{job.dataset} {job.protocol} {job.stream} (selected epoch {metrics['selected_epoch']})",
    )


def _number(value: float) -> float | None:
    """JSON has no NaN: a metric that was not measured is null."""
    return None if np.isnan(value) else float(value)


def write_json(path: str | Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")


def evaluate_stream(
    job: TrainJob,
    weights: str | Path,
    *,
    threads: int = 1,
    roi_store=None,
) -> dict:
    """Score the test split of ``job`` with existing weights (``model.pt`` or a released
    state dict) and write ``scores.parquet`` and ``metrics.json`` into ``job.out_dir``.

    For released weights, ``job.options`` supplies what the file lacks: ``attention``,
    ``temporal_positions`` and ``legacy_invert`` (the original's quirks; spec §4.4, §5.3).
    """
    options, kind = job.options, get_dataset(job.kind)
    env = setup(threads)
    samples = read_samples(job.samples, job.protocol, kind.num_class)
    splits = split_rows(samples, job.protocol, options["val_fraction"], options["seed"])
    labels = samples["label"].to_numpy()
    roi = None
    if job.stream == "rgb":
        roi = roi_store if roi_store is not None else open_roi_store(job.roi)
    released = {
        "num_class": kind.num_class,
        "graph_args": _graph_args(kind),
        "temporal_positions": options["temporal_positions"],
        "attention": options["attention"],
    }
    model, checkpoint = load_model(weights, released)
    options = job.options = {**options, "frame_stride": _frame_stride(checkpoint)}
    if (job.stream == "rgb") != isinstance(model, MMNet):
        raise ValueError(f"{weights}: a {type(model).__name__}, not a {job.stream}-stream model")
    model.to(env.device)
    test = _datasets(job, kind, splits, labels, roi)[2]
    if isinstance(model, MMNet):
        _cache_attention(model, [test], env, options)
    scores = predict(
        model, test, env, batch_size=options["test_batch_size"], amp=options["amp"], desc="test"
    )
    rows = splits.test
    metrics = {
        "dataset": job.dataset,
        "protocol": job.protocol,
        "stream": job.stream,
        "weights": str(weights),
        "model": type(model).__name__,
        "test": {
            "top1": topk_accuracy(scores, labels[rows], 1),
            "top5": topk_accuracy(scores, labels[rows], 5),
            "samples": len(rows),
        },
        "switches": {k: options[k] for k in ("attention", "temporal_positions", "legacy_invert")},
    }
    write_scores(job.output("scores"), samples["sample"].to_numpy()[rows], labels[rows], scores)
    write_json(job.output("metrics"), metrics)
    log.info(
        "%s: test top-1 %.4f top-5 %.4f", weights, metrics["test"]["top1"], metrics["test"]["top5"]
    )
    return metrics


__all__ = [
    "OUTPUTS",
    "RESUME_FILE",
    "STREAMS",
    "Preempted",
    "TrainJob",
    "evaluate_stream",
    "train_stream",
]
