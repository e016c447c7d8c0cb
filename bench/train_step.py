"""Training samples/s of ST-GCN and of the fused MMNet model: ours vs the original's way.

The reference side is ``tests/reference_mmnet.py``: the original's ST-GCN (einsum graph
convolution) and its fused forward pass (ST-GCN in training mode with autograd on, the
intensities moved to NumPy, the weight map built with per-sample Python loops and copied
back to the device). Ours is ``mmnet.models``, stepped the way ``mmnet.train`` steps it:

* ST-GCN: the same network and operations (the graph convolution stays the original's
  einsum: a permuted matrix product and per-partition batched products were no faster
  once the edge importance needs its gradient), so this checks that ours is no slower.
* MMNet, ``cached``: the attention statistics of the frozen ST-GCN are computed once per
  sample before training (what ``mmnet.train`` does when the skeleton is not augmented),
  so a step is the ResNet-18 only.
* MMNet, ``per batch``: the frozen ST-GCN runs in every step (eval mode, no autograd),
  what ``mmnet.train`` does with ``random_move``.

Each variant runs one warm-up step, then ``--steps`` timed SGD steps on the same random
batch, at the original's batch size (64) and input sizes (T = 300 frames, 25 joints,
2 persons; ROI 225 x 225). On a GPU, ours uses AMP and channels_last as training does.
Memory: at T = 300 and batch 64 one run reached 23.6 GB resident and was killed on a 24 GB
machine; with ``--frames 100`` the process peaked at about 7.8 GB (sampled every 10 s).

Usage: python bench/train_step.py [--batch 64] [--frames 300] [--steps 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "support"))

import reference_mmnet as ref  # noqa: E402

from mmnet.models import STGCN, MMNet  # noqa: E402
from mmnet.train.data import normalize_rgb  # noqa: E402

NUM_CLASS = 60
GRAPH = {"layout": "ntu-rgb+d", "strategy": "spatial"}


def throughput(model, step_inputs, labels, steps: int, device, amp: bool) -> float:
    """Samples per second of ``steps`` SGD steps after one warm-up step."""
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

    step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * len(labels) / (time.perf_counter() - start)


def bench_device(device: torch.device, batch: int, frames: int, steps: int) -> dict[str, float]:
    gpu = device.type == "cuda"
    torch.manual_seed(0)
    skeleton = torch.randn(batch, 3, frames, 25, 2, device=device)
    tiles = torch.randint(0, 256, (batch, 3, 225, 225), dtype=torch.uint8, device=device)
    labels = torch.randint(0, NUM_CLASS, (batch,), device=device)
    figures = {}

    ours = STGCN(3, NUM_CLASS, GRAPH).to(device)
    original = ref.Model(3, NUM_CLASS, GRAPH, True, dropout=0.5).to(device)
    original.load_state_dict(ours.state_dict())
    figures["stgcn_reference"] = throughput(
        original, lambda: {"x": skeleton}, labels, steps, device, False
    )
    figures["stgcn_ours"] = throughput(ours, lambda: {"x": skeleton}, labels, steps, device, gpu)

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
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="the original's batch: 64")
    parser.add_argument("--frames", type=int, default=300, help="T: 300 for NTU")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    report = {
        "batch": args.batch,
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
        figures = bench_device(device, args.batch, args.frames, args.steps)
        report["devices"][name] = figures
        print(f"{name}, batch {args.batch}, T = {args.frames}: training samples/s")
        for model in ("stgcn", "mmnet"):
            base = figures[f"{model}_reference"]
            for key, value in figures.items():
                if key.startswith(model):
                    print(f"  {key:<22} {value:8.2f}   x{value / base:.2f}")
    if not torch.cuda.is_available():
        print("no GPU here: GPU figures not measured")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
