"""The training loop: SGD with step decay, checkpoint selection, resume, preemption.

One loop for every stream: a batch is ``(inputs, labels)`` where ``inputs`` are the model's
keyword arguments (:mod:`mmnet.train.data`). State is saved to the resume file after every
epoch and whenever a stop is requested (SIGTERM from SLURM, Ctrl-C); a new run with the same
job picks it up and continues at the same batch with the same random state, so the final
weights equal those of an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import csv
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset

from mmnet.logs import progress
from mmnet.store import atomic_path
from mmnet.train.checkpoint import save_atomic
from mmnet.train.data import EvalBatches, TrainBatches, to_model_inputs
from mmnet.train.distributed import (
    Env,
    Preempted,
    StopRequest,
    any_flag,
    gather_objects,
    ignore_stop_signals,
    sum_across,
)
from mmnet.train.options import TrainOptions

log = logging.getLogger(__name__)

MOMENTUM = 0.9  # SGD momentum and Nesterov, fixed in the original (spec §6.2)
#: ``epoch`` counts from 1, as metrics.json's ``selected_epoch`` and the plot do. ``val_*``:
#: the selection pass (the validation split; the test split under ``selection: paper``);
#: ``fused_top1``: rgb under ``paper``, top-1 of the rgb scores fused with the skeleton ones.
HISTORY_COLUMNS = (
    "epoch", "lr", "train_loss", "train_top1", "val_loss", "val_top1", "val_top5",
    "fused_top1", "seconds",
)  # fmt: skip


@dataclass
class Progress:
    """Where a training is; saved in the resume file."""

    epoch: int = 0  # epoch being run
    batch: int = 0  # next batch of that epoch
    sums: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # loss, correct, seen
    # (sums over all processes of the epoch's batches so far)
    best_top1: float = -1.0  # of the selection criterion
    best_epoch: int = -1  # 0-based index into history
    history: list[dict] = field(default_factory=list)


def lr_at(epoch: int, base_lr: float, steps: list[int]) -> float:
    """``base_lr * 0.1^(number of steps <= epoch)``, the original's schedule."""
    return base_lr * 0.1 ** sum(epoch >= s for s in steps)


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of samples whose label is among their ``k`` highest scores."""
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def _autocast(env: Env, enabled: bool):
    if env.device.type != "cuda" or not enabled:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast("cuda", dtype=dtype)


@torch.no_grad()
def predict(
    model: nn.Module,
    dataset: Dataset,
    env: Env,
    *,
    batch_size: int,
    workers: int = 0,
    amp: bool = True,
    channels_last: bool = False,
    desc: str = "evaluate",
    call: Callable[[nn.Module, dict], torch.Tensor] | None = None,
) -> np.ndarray:
    """Outputs of ``model`` (eval mode) for every item of ``dataset``, in order.

    Each process runs every W-th item; the results are gathered on every process.
    ``call(model, inputs)`` defaults to ``model(**inputs)``.
    """
    model.eval()
    batches = EvalBatches(len(dataset), batch_size, rank=env.rank, world=env.world)
    loader = DataLoader(
        dataset, batch_sampler=batches, num_workers=workers, worker_init_fn=ignore_stop_signals
    )
    outputs = []
    for inputs, _ in progress(loader, desc=desc, unit="batch", disable=not env.main):
        inputs = to_model_inputs(inputs, env.device, channels_last)
        with _autocast(env, amp):
            out = call(model, inputs) if call else model(**inputs)
        outputs.append(out.float().cpu().numpy())
    local = np.concatenate(outputs) if outputs else None
    parts = gather_objects(env, (batches.positions, local))
    result = None
    for positions, values in parts:
        if values is None:
            continue
        if result is None:
            result = np.zeros((len(dataset), *values.shape[1:]), dtype=values.dtype)
        result[positions] = values
    return result if result is not None else np.zeros((0,), dtype=np.float32)


@dataclass
class Trainer:
    """Everything :meth:`fit` needs; ``model`` may be DDP-wrapped, ``module`` is not.

    ``val_data`` is what the selection pass scores (the validation split, or the test split
    under ``selection: paper``); ``fused_with``, when given, is the ``(len(val_data), C)`` sum
    of the other streams' scores for those rows, and the criterion becomes the top-1 of
    that sum plus this model's scores.
    """

    model: nn.Module
    module: nn.Module
    optimizer: torch.optim.Optimizer
    train_data: Dataset
    val_data: Dataset
    val_labels: np.ndarray
    env: Env
    options: TrainOptions
    resume_path: Path
    fingerprint: str
    workers: int = 0
    channels_last: bool = False
    fused_with: np.ndarray | None = None
    state: Progress = field(default_factory=Progress)
    best_state: dict | None = None

    def __post_init__(self) -> None:
        fp16 = self.env.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16 and self.options.amp)
        self.sampler = TrainBatches(
            len(self.train_data),
            self.options.batch_size,
            seed=self.options.seed,
            rank=self.env.rank,
            world=self.env.world,
        )

    # -- resume -------------------------------------------------------------------------

    def resume_from(self, saved: dict) -> None:
        self.module.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.scaler.load_state_dict(saved["scaler"])
        self.state = Progress(**saved["progress"])
        self.best_state = saved["best_state"]
        rng = saved["rng"]
        if len(rng) == self.env.world:
            torch.set_rng_state(rng[self.env.rank]["cpu"])
            if self.env.device.type == "cuda" and rng[self.env.rank]["cuda"] is not None:
                torch.cuda.set_rng_state(rng[self.env.rank]["cuda"], self.env.device)
        else:
            log.warning(
                "resuming with %d processes instead of %d: dropout draws differ",
                self.env.world,
                len(rng),
            )
        log.info("resuming at epoch %d, batch %d", self.state.epoch, self.state.batch)

    def save_resume(self) -> None:
        cuda = self.env.device.type == "cuda"
        rng = gather_objects(
            self.env,
            {
                "cpu": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state(self.env.device) if cuda else None,
            },
        )
        if not self.env.main:
            return
        save_atomic(
            {
                "fingerprint": self.fingerprint,
                "model": self.module.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "progress": asdict(self.state),
                "best_state": self.best_state,
                "rng": rng,
            },
            self.resume_path,
        )

    # -- training -----------------------------------------------------------------------

    def fit(self, stop: StopRequest) -> None:
        """Run the remaining epochs; raises :class:`Preempted` after a stop request."""
        options = self.options
        while self.state.epoch < options.epochs:
            epoch = self.state.epoch
            started = time.perf_counter()
            lr = lr_at(epoch, options.base_lr, options.lr_steps)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self._train_epoch(epoch, stop)
            loss, correct, seen = self.state.sums
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": loss / seen,
                "train_top1": correct / seen,
            }
            last = epoch == options.epochs - 1
            if (epoch + 1) % options.evaluation_interval == 0 or last:
                row.update(self._validate(epoch))
            row["seconds"] = time.perf_counter() - started
            self.state.history.append({c: row.get(c, float("nan")) for c in HISTORY_COLUMNS})
            log.info(
                "epoch %d/%d lr %.4g loss %.4f train top-1 %.3f val top-1 %s (%.1f s)",
                epoch + 1, options.epochs, lr, row["train_loss"], row["train_top1"],
                f"{row['val_top1']:.3f}" if "val_top1" in row else "-", row["seconds"],
            )  # fmt: skip
            self.state.epoch, self.state.batch, self.state.sums = epoch + 1, 0, [0.0, 0.0, 0.0]
            self.save_resume()

    def _train_epoch(self, epoch: int, stop: StopRequest) -> None:
        self.model.train()
        self.sampler.set_epoch(epoch, self.state.batch)
        loader = DataLoader(
            self.train_data,
            batch_sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=self.env.device.type == "cuda",
            generator=torch.Generator(),  # keep the global RNG (dropout) untouched
            worker_init_fn=ignore_stop_signals,
        )
        sums = torch.zeros(3, dtype=torch.float64)
        for inputs, labels in self._batches(loader, epoch):
            inputs = to_model_inputs(inputs, self.env.device, self.channels_last)
            labels = labels.to(self.env.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            sums += self._step(inputs, labels)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.state.batch += 1
            if any_flag(self.env, stop.requested):
                self._add_sums(sums)
                self.save_resume()
                raise Preempted(
                    f"stopped at epoch {epoch + 1}, batch {self.state.batch}; "
                    f"state saved to {self.resume_path}"
                )
        self._add_sums(sums)

    def _step(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        """Forward and backward one batch, in passes of ``forward_batch_size`` samples whose
        gradients add up to the batch's (MS-G3D's accumulation; DDP synchronises once, on
        the last pass). Returns the batch's (loss sum, correct, samples)."""
        size = len(labels)
        per_pass = min(self.options.forward_batch_size or size, size)
        starts = range(0, size, per_pass)
        sums = torch.zeros(3, dtype=torch.float64)
        for start in starts:
            part = slice(start, start + per_pass)
            accumulate = self.env.distributed and start != starts[-1]
            with self.model.no_sync() if accumulate else contextlib.nullcontext():
                with _autocast(self.env, self.options.amp):
                    logits = self.model(**{key: value[part] for key, value in inputs.items()})
                    loss = F.cross_entropy(logits.float(), labels[part])
                self.scaler.scale(loss * (len(labels[part]) / size)).backward()
            with torch.no_grad():
                correct = (logits.argmax(1) == labels[part]).sum().item()
                sums += torch.tensor(
                    [loss.item() * len(labels[part]), correct, len(labels[part])],
                    dtype=torch.float64,
                )
        return sums

    def _add_sums(self, local: torch.Tensor) -> None:
        """Fold this process's loss/correct/seen sums into the (global) epoch sums."""
        total = sum_across(self.env, local.numpy())
        self.state.sums = (np.array(self.state.sums) + total).tolist()

    def _batches(self, loader: DataLoader, epoch: int) -> Iterator:
        return iter(
            progress(
                loader,
                desc=f"epoch {epoch + 1}/{self.options.epochs}",
                unit="batch",
                disable=not self.env.main,
            )
        )

    def _validate(self, epoch: int) -> dict:
        if len(self.val_data) == 0:
            return {}
        scores = self.evaluate(self.val_data, desc="validate")
        labels = torch.from_numpy(self.val_labels).long()
        metrics = {
            "val_loss": float(F.cross_entropy(torch.from_numpy(scores), labels)),
            "val_top1": topk_accuracy(scores, self.val_labels, 1),
            "val_top5": topk_accuracy(scores, self.val_labels, 5),
        }
        criterion = metrics["val_top1"]
        if self.fused_with is not None:
            criterion = metrics["fused_top1"] = topk_accuracy(
                scores + self.fused_with, self.val_labels, 1
            )
        if criterion > self.state.best_top1:  # the earliest best epoch wins ties
            self.state.best_top1, self.state.best_epoch = criterion, epoch
            self.best_state = {
                k: v.detach().cpu().clone() for k, v in self.module.state_dict().items()
            }
        return metrics

    def evaluate(self, dataset: Dataset, desc: str = "evaluate") -> np.ndarray:
        return predict(
            self.module,
            dataset,
            self.env,
            batch_size=self.options.test_batch_size,
            workers=self.workers,
            amp=self.options.amp,
            channels_last=self.channels_last,
            desc=desc,
        )


def write_history(path: str | Path, history: list[dict]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


def plot_history(
    path: str | Path, history: list[dict], title: str, selection_split: str = "validation"
) -> None:
    """Loss (log scale, so one spike does not flatten the rest) and top-1 per epoch,
    training and the selection pass (``selection_split``), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label in (("train_loss", "train"), ("val_loss", selection_split)):
        ax_loss.plot(epochs, [h[key] for h in history], marker=".", label=label)
    for key, label in (("train_top1", "train"), ("val_top1", selection_split)):
        ax_acc.plot(epochs, [h[key] for h in history], marker=".", label=label)
    if any(np.isfinite(h["fused_top1"]) for h in history):
        fused = [h["fused_top1"] for h in history]
        ax_acc.plot(epochs, fused, marker=".", label=f"fused ({selection_split})")
    ax_loss.set_yscale("log")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (log scale)", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="top-1", title="accuracy", ylim=(0, 1))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
