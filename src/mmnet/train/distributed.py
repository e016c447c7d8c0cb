"""Processes and devices: torchrun detection, DDP set-up, synchronised batch norm, torchrun launch.

Training runs one process per GPU under ``torchrun`` (which sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK``), or one plain process on one GPU or the CPU. The same code runs on CPUs
with the gloo backend, which is how the tests check that W processes train exactly like
one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

log = logging.getLogger(__name__)


#: Exit status of a training stopped by SIGTERM after saving its resume file (EX_TEMPFAIL):
#: non-zero, so that Snakemake / SLURM retry the job, which then resumes.
PREEMPTED_EXIT = 75


class Preempted(RuntimeError):
    """Training stopped on request after saving its resume file; rerun to continue."""


class StopRequest(contextlib.AbstractContextManager):
    """While active, SIGTERM and SIGINT set :attr:`requested` instead of killing the process
    (SLURM sends SIGTERM before a preemption or at the time limit)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, forward_to: subprocess.Popen | None = None) -> None:
        self.requested = False
        self.forward_to = forward_to
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        log.warning("received %s: stopping after this batch", signal.Signals(signum).name)
        self.requested = True
        if self.forward_to is not None:
            self.forward_to.send_signal(signum)

    def __enter__(self) -> StopRequest:
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader worker start-up: leave SIGTERM/SIGINT to the training process. SLURM
    signals every process of the job; a worker dying of it would abort the batch in
    flight before the trainer could save its resume file."""
    for stop_signal in StopRequest.SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)


@dataclass(frozen=True)
class Env:
    """Where this process trains: its rank among ``world`` processes and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Rank 0 logs, writes outputs and saves the resume file."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def under_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup(threads: int) -> Env:
    """Join the process group when started by torchrun; pick the device; set CPU threads."""
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    torch.set_num_threads(max(1, threads))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Env(rank, world, local_rank, device)


#: cuBLAS's fixed workspace setting that makes its GEMMs deterministic (CUDA >= 10.2).
CUBLAS_WORKSPACE = ":4096:8"


@contextlib.contextmanager
def deterministic_algorithms(enabled: bool) -> Iterator[None]:
    """While active and ``enabled``: PyTorch's deterministic algorithms, cuDNN without
    autotuning and with deterministic convolutions, and cuBLAS's fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG``, unless already set; it must precede the first cuBLAS
    call, so enter this before the model runs). An operation without a deterministic
    implementation warns (``warn_only``) instead of stopping the training. The previous
    settings are restored on exit; not ``enabled``: nothing changes."""
    if not enabled:
        yield
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    cudnn = torch.backends.cudnn
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        cudnn.deterministic,
        cudnn.benchmark,
    )
    torch.use_deterministic_algorithms(True, warn_only=True)
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0], warn_only=previous[1])
        cudnn.deterministic, cudnn.benchmark = previous[2], previous[3]


def teardown(env: Env) -> None:
    if env.distributed and dist.is_initialized():
        dist.destroy_process_group()


def any_flag(env: Env, flag: bool) -> bool:
    """True on every process when ``flag`` is True on any (so all stop at the same step)."""
    if not env.distributed:
        return flag
    value = torch.tensor([float(flag)], device=env.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def gather_objects(env: Env, obj):
    """``[obj of rank 0, obj of rank 1, ...]`` on every process."""
    if not env.distributed:
        return [obj]
    out = [None] * env.world
    dist.all_gather_object(out, obj)
    return out


def sum_across(env: Env, values: np.ndarray) -> np.ndarray:
    """Element-wise sum of ``values`` over all processes."""
    if not env.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=env.device)
    dist.all_reduce(tensor)
    return tensor.cpu().numpy()


class _SumOverProcesses(torch.autograd.Function):
    """All-reduce (sum) whose gradient is the all-reduced gradient: each process's input
    receives the gradient of every process's loss (torch's differentiable all-reduce is
    deprecated)."""

    @staticmethod
    def forward(ctx, tensor: Tensor) -> Tensor:
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SyncedBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics cover the global batch of all DDP processes.

    torch's ``SyncBatchNorm`` runs on GPUs only; this one works with any backend (gloo on
    CPU included) through differentiable all-reduces, so W processes with B/W samples each
    compute what one process with B samples computes. Same parameters and buffers (and
    state-dict keys) as the batch norm it replaces.
    """

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        local = x.float()
        count = torch.tensor([local.numel() / local.shape[1]], device=x.device)
        total = _SumOverProcesses.apply(torch.cat([local.sum(dims), count]))
        n = total[-1]
        mean = total[:-1] / n
        centred = local - mean.view(shape)
        var = _SumOverProcesses.apply(centred.square().sum(dims)) / n  # biased, to normalise
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 0.1
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1), momentum)
        y = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


def synchronise_batchnorm(module: nn.Module) -> nn.Module:
    """Replace every trainable batch-norm layer of ``module`` by :class:`SyncedBatchNorm`
    (frozen sub-modules, e.g. MMNet's ST-GCN, are left alone)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.weight.requires_grad:
        synced = SyncedBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine,
            module.track_running_stats,
        )  # fmt: skip
        synced.load_state_dict(module.state_dict())
        synced.to(module.weight.device)
        synced.train(module.training)
        return synced
    for name, child in module.named_children():
        setattr(module, name, synchronise_batchnorm(child))
    return module


def processes_for(gpus: int) -> int:
    """How many training processes a job with ``gpus`` GPUs runs: one per visible GPU."""
    if under_torchrun() or not torch.cuda.is_available():
        return 1
    return max(1, min(gpus, torch.cuda.device_count()))


def launch_torchrun(job, processes: int, threads: int, job_file: Path) -> None:
    """Run ``job`` (a :class:`~mmnet.train.job.TrainJob`) under ``torchrun --standalone``
    with ``processes`` workers (:mod:`mmnet.train.worker`), relaying their output into this
    process's log.

    SIGTERM/SIGINT are forwarded to torchrun, which forwards them to the workers; they save
    their resume file and exit non-zero, and this raises :class:`Preempted`. Any other
    failure raises :class:`subprocess.CalledProcessError`.
    """
    job.to_json(job_file)
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone",
        "--nproc-per-node", str(processes), "-m", "mmnet.train.worker",
        str(job_file), str(max(1, threads // processes)),
    ]  # fmt: skip
    log.info("launching %d DDP processes: %s", processes, " ".join(command))
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    with StopRequest(forward_to=child) as stop:
        try:
            for line in child.stdout:
                log.info("%s", line.rstrip())
            code = child.wait()
        finally:
            job_file.unlink(missing_ok=True)
    if code and stop.requested:
        raise Preempted(f"DDP training stopped on request (torchrun exit status {code})")
    if code:
        raise subprocess.CalledProcessError(code, command)
