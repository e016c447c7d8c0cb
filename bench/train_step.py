"""Training samples/s of ST-GCN, the fused MMNet model and MS-G3D: ours vs the original's way.

The reference side of ST-GCN and MMNet is ``support/reference_mmnet.py``: the original's
ST-GCN (einsum graph convolution) and its fused forward pass (ST-GCN in training mode with
autograd on, the intensities moved to NumPy, the weight map built with per-sample Python
loops and copied back to the device). Ours is ``mmnet.models``, stepped the way
``mmnet.train`` steps it:

* ST-GCN: the same network and operations (the graph convolution stays the original's
  einsum: a permuted matrix product and per-partition batched products were no faster
  once the edge importance needs its gradient), so this checks that ours is no slower.
* MMNet, ``cached``: the attention statistics of the frozen ST-GCN are computed once per
  sample before training (what ``mmnet.train`` does when the skeleton is not augmented),
  so a step is the ResNet-18 only.
* MMNet, ``per batch``: the frozen ST-GCN runs in every step (eval mode, no autograd),
  what ``mmnet.train`` does with ``random_move``.
* MS-G3D: ``mmnet.models.MSG3D`` against ``support/reference_msg3d.py``, the original's
  forward (windows cut by ``nn.Unfold``, aggregations followed by permute copies, one module
  call per temporal branch), in the NTU60 configuration (13 and 6 scales, 3,194,595
  parameters), at batch ``--msg3d-batch`` (the original trains batches of 32 as two forward
  batches of 16).

On a GPU every model of ours also runs in float32 and with each of the settings training
could use: AMP (bf16 autocast), ``channels_last`` 2-D convolutions, and AMP with
``torch.compile``; the summary names the fastest setting per model. A variant that fails is
reported as failed, not fatal. ``bench/gpu.sh`` is the one script to run on a lent GPU.

Each variant runs one warm-up step (for ``torch.compile``, the compilation), then
``--steps`` timed SGD steps on the same random batch, at the original's batch size (64) and
input sizes (T = 300 frames, 25 joints, 2 persons; ROI 225 x 225).
Memory: at T = 300 and batch 64 one run reached 23.6 GB resident and was killed on a 24 GB
machine; with ``--frames 100`` the process peaked at about 7.8 GB (sampled every 10 s).

MS-G3D memory per sample: the peak memory of one training step at T = 300 (whatever
``--frames`` is) with batch 1 and with batch 3; half the difference is what one more sample
(2 persons, 300 frames) costs. On the CPU the peak is the peak resident set size (``VmHWM``,
Linux) of a fresh process per measurement; on a GPU, ``max_memory_allocated``.

Usage: python bench/train_step.py [--models stgcn,mmnet,msg3d] [--device all|cpu|cuda]
[--batch 64] [--frames 300] [--msg3d-batch 16] [--steps 2] [--no-memory] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import re
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "support"))

import reference_mmnet as ref  # noqa: E402
import reference_msg3d  # noqa: E402

from mmnet.models import MSG3D, STGCN, MMNet  # noqa: E402
from mmnet.models.resnet import normalize_rgb  # noqa: E402

NUM_CLASS = 60
GRAPH = {"layout": "ntu-rgb+d", "strategy": "spatial"}
MODEL_NAMES = ("stgcn", "mmnet", "msg3d")
#: the original's NTU60 configuration (config/nturgbd-cross-subject/train_joint.yaml)
MSG3D_ARGS = {"num_class": NUM_CLASS, "num_point": 25, "num_person": 2,
              "num_gcn_scales": 13, "num_g3d_scales": 6}  # fmt: skip
MEMORY_FRAMES = 300


def sgd_step(model, step_inputs, labels, amp: bool):
    """A function running one training step (SGD with the originals' settings)."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True, weight_decay=1e-4)
    model.train()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if amp else contextlib.nullcontext()

    def step():
        with autocast:
            loss = F.cross_entropy(model(**step_inputs()).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def throughput(model, step_inputs, labels, steps: int, device, amp: bool) -> float:
    """Samples per second of ``steps`` SGD steps after one warm-up step."""
    step = sgd_step(model, step_inputs, labels, amp)
    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * len(labels) / (time.perf_counter() - start)


def bench_device(
    device: torch.device, models: list[str], batch: int, frames: int, steps: int
) -> dict[str, float]:
    """ST-GCN and MMNet figures: the original's way, ours as trained (AMP and channels_last
    on a GPU) and, on a GPU, ours in each setting."""
    gpu = device.type == "cuda"
    torch.manual_seed(0)
    skeleton = torch.randn(batch, 3, frames, 25, 2, device=device)
    tiles = torch.randint(0, 256, (batch, 3, 225, 225), dtype=torch.uint8, device=device)
    labels = torch.randint(0, NUM_CLASS, (batch,), device=device)
    figures = {}

    ours = STGCN(3, NUM_CLASS, GRAPH).to(device)
    original = ref.Model(3, NUM_CLASS, GRAPH, True, dropout=0.5).to(device)
    original.load_state_dict(ours.state_dict())

    def skeleton_inputs():
        return {"x": skeleton}

    if "stgcn" in models:
        figures["stgcn_reference"] = throughput(
            original, skeleton_inputs, labels, steps, device, False
        )
        figures["stgcn_ours"] = throughput(ours, skeleton_inputs, labels, steps, device, gpu)
        if gpu:
            figures.update(
                gpu_variants("stgcn", lambda: STGCN(3, NUM_CLASS, GRAPH), skeleton_inputs,
                             labels, steps, device)
            )  # fmt: skip
    if "mmnet" not in models:
        return figures

    fused = MMNet(NUM_CLASS, GRAPH, temporal_positions=15, attention="original").to(device)
    fused.stgcn.load_state_dict(ours.state_dict())
    reference = ref.OriginalFused(original, fused.resnet, k=15).to(device)
    rgb = normalize_rgb(tiles)  # the original's feeder normalised on the CPU, per sample
    figures["mmnet_reference"] = throughput(
        reference,
        lambda: {"x_skeleton": skeleton, "x_rgb": rgb},
        labels, steps, device, False,
    )  # fmt: skip
    if gpu:
        fused.resnet.to(memory_format=torch.channels_last)

    def our_rgb():
        out = normalize_rgb(tiles)
        return out.contiguous(memory_format=torch.channels_last) if gpu else out

    figures["mmnet_ours_per_batch"] = throughput(
        fused, lambda: {"x_skeleton": skeleton, "x_rgb": our_rgb()}, labels, steps, device, gpu
    )
    stats = fused.attention_stats(skeleton)
    figures["mmnet_ours_cached"] = throughput(
        fused, lambda: {"stats": stats, "x_rgb": our_rgb()}, labels, steps, device, gpu
    )
    if gpu:

        def cached_inputs():
            return {"stats": stats, "x_rgb": normalize_rgb(tiles)}

        figures.update(
            gpu_variants("mmnet_cached", lambda: MMNet(NUM_CLASS, GRAPH, temporal_positions=15),
                         cached_inputs, labels, steps, device)
        )  # fmt: skip
    return figures


def gpu_variants(
    prefix: str,
    build: Callable[[], torch.nn.Module],
    step_inputs: Callable[[], dict],
    labels: torch.Tensor,
    steps: int,
    device: torch.device,
) -> dict[str, float]:
    """Ours in each setting a GPU training could use: float32, AMP (bf16), channels_last
    (the 2-D convolutions and their input), AMP + channels_last, AMP + ``torch.compile``.
    A fresh model each, so one setting does not leak into the next."""

    def channels_last_inputs():
        return {
            k: v.contiguous(memory_format=torch.channels_last) if v.dim() == 4 else v
            for k, v in step_inputs().items()
        }

    settings = {
        "fp32": (lambda m: m, step_inputs, False),
        "amp": (lambda m: m, step_inputs, True),
        "channels_last": (conv2d_channels_last, channels_last_inputs, False),
        "amp_channels_last": (conv2d_channels_last, channels_last_inputs, True),
        "amp_compiled": (torch.compile, step_inputs, True),
    }
    figures = {}
    for name, (transform, inputs, amp) in settings.items():
        try:
            model = transform(build().to(device))
            figures[f"{prefix}_ours_{name}"] = throughput(model, inputs, labels, steps, device, amp)
        except Exception as err:  # a setting that does not run is a finding, not a crash
            print(f"  {prefix} {name} failed: {type(err).__name__}: {err}")
        torch.cuda.empty_cache()
    return figures


def build_msg3d(side: str) -> torch.nn.Module:
    """``"reference"`` (the original's forward) or ``"ours"``, the NTU60 configuration."""
    if side == "reference":
        return reference_msg3d.Model(**MSG3D_ARGS, graph="ntu-rgb+d")
    return MSG3D(**MSG3D_ARGS)


def bench_msg3d(
    device: torch.device, batch: int, frames: int, steps: int, memory: bool = True
) -> dict[str, float]:
    """MS-G3D samples/s (``msg3d_*``) and memory per sample at T = 300 (``*_mb_per_sample``)."""
    gpu = device.type == "cuda"
    torch.manual_seed(0)
    skeleton = torch.randn(batch, 3, frames, 25, 2, device=device)
    labels = torch.randint(0, NUM_CLASS, (batch,), device=device)
    reference = build_msg3d("reference").to(device)
    ours = build_msg3d("ours").to(device)
    ours.load_state_dict(reference.state_dict())

    def inputs():
        return {"x": skeleton}

    figures = {
        "msg3d_reference": throughput(reference, inputs, labels, steps, device, False),
        "msg3d_ours": throughput(ours, inputs, labels, steps, device, False),
    }
    if gpu:
        figures.update(
            gpu_variants("msg3d", lambda: build_msg3d("ours"), inputs, labels, steps, device)
        )
    if not memory:
        return figures
    sides = [("reference", False), ("ours", False)] + ([("ours", True)] if gpu else [])
    for side, amp in sides:
        one, three = (peak_memory(side, b, device, amp) for b in (1, 3))
        name = f"msg3d_{side}{'_amp' if amp else ''}"
        figures[f"{name}_mb_per_sample"] = (three - one) / 2 / 2**20
        figures[f"{name}_mb_at_batch_1"] = one / 2**20
    return figures


def conv2d_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with its 2-D convolution weights channels_last (``model.to`` would also try
    the 5-D ``out_conv`` weights and fail)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            module.to(memory_format=torch.channels_last)
    return model


def peak_memory(side: str, batch: int, device: torch.device, amp: bool = False) -> float:
    """Peak bytes of one MS-G3D training step at T = 300: the resident set size of a fresh
    process on the CPU, the allocated memory on a GPU."""
    if device.type == "cpu":
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(1, mp_context=context, max_tasks_per_child=1) as pool:
            return pool.submit(_peak_rss, side, batch, torch.get_num_threads()).result()
    model = build_msg3d(side).to(device)
    x = torch.randn(batch, 3, MEMORY_FRAMES, 25, 2, device=device)
    labels = torch.zeros(batch, dtype=torch.long, device=device)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    sgd_step(model, lambda: {"x": x}, labels, amp)()
    return float(torch.cuda.max_memory_allocated(device))


def _peak_rss(side: str, batch: int, threads: int) -> float:
    torch.set_num_threads(threads)
    x = torch.randn(batch, 3, MEMORY_FRAMES, 25, 2)
    sgd_step(build_msg3d(side), lambda: {"x": x}, torch.zeros(batch, dtype=torch.long), False)()
    # VmHWM is this process's own peak (Linux); getrusage's ru_maxrss would carry the
    # parent's resident size over from the fork
    peak_kib = re.search(r"VmHWM:\s*(\d+) kB", Path("/proc/self/status").read_text())
    return float(peak_kib.group(1)) * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", default=",".join(MODEL_NAMES), help="comma-separated: stgcn, mmnet, msg3d"
    )
    parser.add_argument("--batch", type=int, default=64, help="the original's batch: 64")
    parser.add_argument(
        "--msg3d-batch", type=int, default=16, help="MS-G3D's batch (the original's forward: 16)"
    )
    parser.add_argument("--frames", type=int, default=300, help="T: 300 for NTU")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant")
    parser.add_argument(
        "--device", choices=("all", "cpu", "cuda"), default="all",
        help="all: the CPU, then the GPU if there is one",
    )  # fmt: skip
    parser.add_argument(
        "--memory", action=argparse.BooleanOptionalAction, default=True,
        help="MS-G3D's memory per sample at T = 300 (a fresh process per figure on the CPU)",
    )  # fmt: skip
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    models = args.models.split(",")
    if unknown := set(models) - set(MODEL_NAMES):
        parser.error(f"unknown models {sorted(unknown)}; choose from {MODEL_NAMES}")
    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        parser.error("--device cuda: no GPU visible to torch")
    devices = [torch.device(d) for d in ("cpu", "cuda") if args.device in (d, "all")]
    devices = [d for d in devices if d.type == "cpu" or cuda]
    report = {
        "models": models,
        "batch": args.batch,
        "msg3d_batch": args.msg3d_batch,
        "frames": args.frames,
        "steps": args.steps,
        "torch": torch.__version__,
        "devices": {},
    }
    for device in devices:
        name = (
            torch.cuda.get_device_name()
            if device.type == "cuda"
            else f"cpu ({torch.get_num_threads()} threads)"
        )
        figures = {}
        if {"stgcn", "mmnet"} & set(models):
            figures.update(bench_device(device, models, args.batch, args.frames, args.steps))
        if "msg3d" in models:
            figures.update(
                bench_msg3d(device, args.msg3d_batch, args.frames, args.steps, args.memory)
            )
        report["devices"][name] = figures
        print(f"{name}, T = {args.frames}: training samples/s")
        for model in models:
            batch = args.msg3d_batch if model == "msg3d" else args.batch
            print(f"  {model}, batch {batch}")
            base = figures[f"{model}_reference"]
            for key, value in figures.items():
                if key.startswith(model) and "_mb_" not in key:
                    print(f"    {key:<34} {value:8.3f}   x{value / base:.2f}")
            settings = {k: v for k, v in figures.items() if "_ours_" in k and k.startswith(model)}
            if device.type == "cuda" and settings:
                best = max(settings, key=settings.get)
                print(f"    fastest setting: {best} ({settings[best]:.1f} samples/s)")
        if "msg3d" in models:
            print(f"  MS-G3D memory of one training step at T = {MEMORY_FRAMES}, MB:")
            for key, per_sample in figures.items():
                if key.endswith("_mb_per_sample"):
                    at_one = figures[key.replace("per_sample", "at_batch_1")]
                    print(f"    {key:<30} {per_sample:8.0f} ({at_one:.0f} at batch 1)")
    if not cuda:
        print("no GPU here: GPU figures not measured")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
