"""One training from start (or resume) to its outputs: ``train_stream``.

A stream is ``joint`` or ``bone`` (an ST-GCN on joints or on bone vectors) or ``rgb`` (the
MMNet fusion model: a frozen joint ST-GCN weights the five-frame ROI fed to a ResNet-18).
``train_stream`` writes into ``job.out_dir`` the files named in :data:`OUTPUTS` (the
contract of ``docs/training.md``) and keeps ``resume.pt`` there while it runs.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

import mmnet
from mmnet.models.pretrained import resolve_pretrained_resnet
from mmnet.scores import read_scores, write_scores
from mmnet.store import atomic_path, staged_outputs
from mmnet.train.checkpoint import job_fingerprint, load_resume, read_checkpoint, save_model
from mmnet.train.distributed import (
    Env,
    StopRequest,
    deterministic_algorithms,
    launch_torchrun,
    processes_for,
    setup,
    synchronise_batchnorm,
    teardown,
)
from mmnet.train.factories import (
    ROI_STREAMS,
    Prepared,
    build_datasets,
    build_model,
    cache_attention,
    frame_stride_of,
    prepare,
)
from mmnet.train.job import OUTPUTS, TrainJob
from mmnet.train.loop import MOMENTUM, Trainer, plot_history, topk_accuracy, write_history
from mmnet.train.options import PAPER_NOTE

log = logging.getLogger(__name__)

__all__ = ["OUTPUTS", "train_stream"]


def train_stream(job: TrainJob, *, gpus: int = 1, threads: int = 1, roi_store=None) -> dict | None:
    """Train ``job``'s stream and write its outputs; returns the metrics (on rank 0).

    With ``gpus`` > 1 and that many GPUs visible, re-runs itself as ``torchrun`` with one
    process per GPU. A stop request (SIGTERM) saves the resume file and raises
    :class:`~mmnet.train.distributed.Preempted`; running the same job again resumes.
    ``roi_store`` replaces the ROI store at ``job.roi`` by any object with its interface.
    """
    processes = processes_for(gpus)
    if processes > 1:
        if roi_store is not None:
            raise ValueError("an in-memory roi_store cannot be passed to torchrun workers")
        launch_torchrun(job, processes, threads, Path(job.out_dir) / "job.json")
        return json.loads(job.output("metrics").read_text())
    env = setup(threads)
    try:
        with StopRequest() as stop, deterministic_algorithms(job.options.deterministic):
            return _train(job, env, threads, roi_store, stop)
    finally:
        teardown(env)


def _workers(env: Env, threads: int) -> int:
    """DataLoader workers: none on CPU (the threads compute), ``threads - 1`` beside a GPU."""
    return max(0, threads - 1) if env.device.type == "cuda" else 0


def _train(job: TrainJob, env: Env, threads: int, roi_store, stop: StopRequest) -> dict | None:
    resnet_weights = None
    if job.stream in ROI_STREAMS:  # first thing: a missing weight file stops the run here
        resnet_weights = resolve_pretrained_resnet(job.options.pretrained_resnet)
    if job.stream == "rgb":  # the frozen ST-GCN must see frames as it was trained
        job = job.with_options(frame_stride=frame_stride_of(read_checkpoint(job.joint_model)))
    options = job.options
    started = time.perf_counter()
    prepared = prepare(job, roi_store)
    if env.main:
        log.info(
            "%s %s %s: %s samples", job.dataset, job.protocol, job.stream, prepared.splits.sizes()
        )
    torch.manual_seed(options.seed)  # the same initial weights in every process
    module, name, model_args = build_model(prepared, resnet_weights)
    train_data, val_data, test_data = build_datasets(prepared)
    module.to(env.device)
    channels_last = env.device.type == "cuda" and job.stream in ROI_STREAMS
    if channels_last:
        module.resnet.to(memory_format=torch.channels_last)
    if job.stream == "rgb":
        cache_attention(module, [train_data, val_data, test_data], env, job)
    model: nn.Module = module
    if env.distributed:
        module = synchronise_batchnorm(module)
        model = DistributedDataParallel(
            module,
            device_ids=[env.device.index] if env.device.type == "cuda" else None,
            broadcast_buffers=False,  # batch-norm statistics are synchronised instead
        )
    torch.manual_seed(options.seed + env.rank)  # dropout: one stream per process
    optimizer = torch.optim.SGD(
        [p for p in module.parameters() if p.requires_grad],
        lr=options.base_lr,
        momentum=MOMENTUM,
        nesterov=True,
        weight_decay=options.weight_decay,
    )
    description = {k: v for k, v in job.describe().items() if k != "out_dir"}
    fingerprint = job_fingerprint(description, job.inputs)
    paper = options.selection == "paper"  # the original selects on the test split
    selection_data = test_data if paper else val_data
    trainer = Trainer(
        model=model,
        module=module,
        optimizer=optimizer,
        train_data=train_data,
        val_data=selection_data,
        val_labels=selection_data.labels,
        env=env,
        options=options,
        resume_path=job.resume_path,
        fingerprint=fingerprint,
        workers=_workers(env, threads),
        channels_last=channels_last,
        fused_with=_fused_scores(prepared) if paper and job.fusion_scores else None,
    )
    saved = load_resume(job.resume_path, fingerprint)
    if saved is not None:
        trainer.resume_from(saved)
    trainer.fit(stop)

    selected = options.epochs - 1
    if options.selection != "last" and trainer.best_state is not None:
        module.load_state_dict(trainer.best_state)
        selected = trainer.state.best_epoch
    scores = trainer.evaluate(test_data, desc="test")
    if not env.main:
        return None
    metrics = _metrics(prepared, scores, trainer, selected, name, env, started)
    metrics["validation"]["samples"] = len(val_data)
    metrics["train_samples"] = len(train_data)
    if job.stream in ROI_STREAMS:
        metrics["test_rows_without_roi"] = len(test_data.rows_without_roi())
    if job.stream == "rgb":
        metrics["attention"] = options.attention
    _write_outputs(prepared, module, name, model_args, scores, metrics, trainer)
    job.resume_path.unlink(missing_ok=True)
    log.info(
        "%s %s %s: test top-1 %.4f top-5 %.4f (epoch %d, selected on %s)",
        job.dataset, job.protocol, job.stream, metrics["test"]["top1"], metrics["test"]["top5"],
        selected + 1, metrics["selected_on"],
    )  # fmt: skip
    return metrics


def _fused_scores(prepared: Prepared) -> np.ndarray:
    """The sum of the fusion streams' test scores, row for row with the test split (joined
    by sample name; a test sample a file lacks is an error naming it)."""
    names = prepared.names[prepared.splits.test]
    total = None
    for path in prepared.job.fusion_scores:
        table = read_scores(path)
        position = pd.Series(np.arange(len(table)), index=table.index)
        missing = sorted(set(names) - set(table.index))
        if missing:
            raise ValueError(f"{path}: no scores for {len(missing)} test sample(s): {missing[:3]}")
        scores = table.attrs["scores"][position.loc[names].to_numpy()]
        total = scores if total is None else total + scores
    return total


def _metrics(
    prepared: Prepared, scores: np.ndarray, trainer: Trainer, selected: int, name: str,
    env: Env, started: float,
) -> dict:  # fmt: skip
    job, options = prepared.job, prepared.job.options
    labels = prepared.labels[prepared.splits.test]
    chosen = trainer.state.history[selected]
    return {
        "dataset": job.dataset,
        "protocol": job.protocol,
        "stream": job.stream,
        "model": name,
        "test": {
            "top1": topk_accuracy(scores, labels, 1),
            "top5": topk_accuracy(scores, labels, 5),
            "samples": len(labels),
        },
        "validation": {"top1": _number(chosen["val_top1"]), "top5": _number(chosen["val_top5"])},
        "epochs": options.epochs,
        "selected_epoch": selected + 1,
        "selection": options.selection,
        "selected_on": options.selected_on,
        **({"note": PAPER_NOTE} if options.selection == "paper" else {}),
        "seconds": time.perf_counter() - started,
        "train_seconds": float(sum(h["seconds"] for h in trainer.state.history)),
        "processes": env.world,
        "device": str(env.device),
        "batch_size": options.batch_size,
        "batch_per_process": options.batch_size // env.world,
        "mmnet_version": mmnet.__version__,
    }


def _write_outputs(
    prepared: Prepared, module: nn.Module, name: str, model_args: dict, scores: np.ndarray,
    metrics: dict, trainer: Trainer,
) -> None:  # fmt: skip
    """Write the five outputs into a staging folder, then move them into place together."""
    job, rows = prepared.job, prepared.splits.test
    with staged_outputs(job.out_dir) as staging:
        write_scores(
            staging / OUTPUTS["scores"], prepared.names[rows], prepared.labels[rows], scores
        )
        save_model(
            staging / OUTPUTS["model"],
            module,
            name,
            model_args,
            config=job.options.to_dict(),
            classes=list(prepared.kind.class_names),
            epoch=metrics["selected_epoch"],
            metrics=metrics,
            stream=job.stream,
            dataset=job.dataset,
            protocol=job.protocol,
        )
        write_json(staging / OUTPUTS["metrics"], metrics)
        write_history(staging / OUTPUTS["history"], trainer.state.history)
        paper = job.options.selection == "paper"
        plot_history(
            staging / OUTPUTS["curve"],
            trainer.state.history,
            f"{job.dataset} {job.protocol} {job.stream}: epoch {metrics['selected_epoch']}, "
            + (PAPER_NOTE if paper else f"selected on {metrics['selected_on']}"),
            selection_split="test" if paper else "validation",
        )


def _number(value: float) -> float | None:
    """JSON has no NaN: a metric that was not measured is null."""
    return None if np.isnan(value) else float(value)


def write_json(path: str | Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
