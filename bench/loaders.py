"""Training loaders at full size: samples per second per stream, per worker, against a GPU.

Stores:
  * ``skeleton.zarr`` + ``samples.parquet`` of a full-size NTU60-shaped raw folder
    (``bench/scale.py``'s: 56,880 ids, content of the real files, the real missing list),
    built here with ``mmnet skeletons -w 2`` unless ``--store DIR`` holds them already;
  * ``roi.zarr`` of realistic tiles: the real NTU videos through the real stages
    (MediaPipe poses, ``build_roi``, as ``bench/roi.py``), its rows repeated to ``--roi-rows``
    rows (real columns, written as ``build_roi`` writes them).

Loaders: ``mmnet.train``'s own (``SkeletonData`` / ``FusedData``, ``TrainBatches`` at the
original's batch of 64, a torch ``DataLoader`` as ``mmnet.train`` builds it) over the xsub
training rows, with 0 workers (the main process: one core), 1 and 2 workers. Streams: joint
and bone, each with and without ``random_move`` (``-move``); rgb: a training tile (random
interval and flip) with the cached attention statistics (the default training), ``rgb-joint``
with the joint sequence instead (no augmentation), ``rgb-move`` with the joint sequence under
``random_move`` (the statistics cannot be cached then). The ImageNet normalisation runs on the
device in training; its CPU cost per batch is printed apart. Rates: samples per second of
wall clock, per CPU second of the main process (0 workers) and per CPU second of the worker
processes (1 and 2 workers; read from ``/proc``), since the machine may be shared.

GPU side (no GPU here): FLOPs per training sample of each stream's model (ST-GCN at
T = 300, 2 persons; MMNet's ResNet-18 on a 225 x 225 tile, plus the frozen ST-GCN's forward
pass when the skeleton is augmented), counted with ``torch.utils.flop_counter`` on the meta
device; then (a) the ceiling: no GPU consumes more than its peak rate over that
(``--gpu-tflops``, default 989: dense BF16 of an H100/H200, NVIDIA's datasheet), and (b) an
A100 estimate: the FLOP rate NVIDIA's published ResNet-50 training reaches on one A100
(2,470 images/s, AMP; ResNet-50's FLOPs counted here the same way) over each model's FLOPs.
Printed beside the loader rates, with the workers one GPU needs for 3x the estimate.

Usage: python bench/loaders.py [--store DIR] [--limit N] [--batches 20] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale

from mmnet.datasets.ntu import NTU60
from mmnet.models.resnet import normalize_rgb
from mmnet.roi import RoiStore
from mmnet.roi.store import create_column_array, write_columns
from mmnet.store import SAMPLES_PER_FILE, create_sample_array
from mmnet.train.data import FusedData, SkeletonData, TrainBatches

BATCH = 64  # the original's training batch, every stream
#: NVIDIA DeepLearningExamples, PyTorch ResNet-50 v1.5 README, "Training performance: NVIDIA
#: DGX A100 (8x A100 80GB)", 1 GPU, mixed precision (pytorch-21.03 container): 2470 img/s.
A100_RESNET50_IMAGES_PER_S = 2470
ROI_ARRAYS = ("columns", "column_frame", "column_layout", "evaluation", "training", "available")


def build_skeleton_store(work: Path, limit: int | None) -> Path:
    """``work/results/bench/{skeleton.zarr,samples.parquet}`` of the NTU60-shaped folder
    (the raw folder and the copies are removed afterwards)."""
    ids, _ = scale.ntu60_ids()
    ids = ids[:: max(1, len(ids) // limit)][:limit] if limit else ids  # spread: both splits
    sources = sorted((scale.NTU60 / "skeletons").glob("*.skeleton"))
    local = work / "sources"
    local.mkdir(parents=True, exist_ok=True)
    sources = [Path(shutil.copyfile(s, local / s.name)) for s in sources]
    raw = work / "raw"
    scale.make_raw(raw, ids, sources, copy=False)
    missing = scale.NTU60 / "NTU_RGBD_samples_with_missing_skeletons.txt"
    config = work / "bench.yaml"
    entry = f"kind: ntu60, skeletons: '{raw}', missing_skeletons: '{missing}'"
    config.write_text(f"datasets: {{bench: {{{entry}}}}}\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(scale.REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "mmnet", "skeletons", "-c", str(config), "-d", "bench", "-w", "2"],
        cwd=work, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    print(f"skeleton store of {len(ids)} samples built in {time.perf_counter() - start:.0f} s")
    shutil.rmtree(raw)
    shutil.rmtree(local)
    return work / "results" / "bench"


def build_roi_store(work: Path, rows: int) -> Path:
    """A ``roi.zarr`` of ``rows`` rows: the real videos' samples, repeated."""
    import roi as roi_bench  # bench/roi.py: the real stages on the real videos

    from mmnet.frames import FrameConfig

    real = work / "roi_real"
    real.mkdir()
    roi_bench.build_store(roi_bench.real_videos(), real, FrameConfig())
    source = zarr.open_group(real / "roi.zarr", mode="r")
    available = np.flatnonzero(source["available"][:])
    order = available[np.arange(rows) % len(available)]
    out = work / "roi.zarr"
    columns = source["columns"][:]
    array = create_column_array(out, rows, columns.shape[1])
    for start in range(0, rows, SAMPLES_PER_FILE):  # whole shard files, as build_roi
        write_columns(array, start, columns[order[start : start + SAMPLES_PER_FILE]])
    for name in ROI_ARRAYS[1:]:
        if name not in source:
            continue
        data = source[name][:][order]
        array = create_sample_array(out, name, data.shape, data.dtype).open()
        array[:] = data
    zarr.open_group(out, mode="a").attrs.update(dict(source.attrs))
    shutil.rmtree(real)
    return out


def worker_cpu_s(batch_iter) -> float:
    """CPU seconds (user + system) the DataLoader's worker processes have used so far."""
    ticks = 0
    for worker in getattr(batch_iter, "_workers", []):
        fields = Path(f"/proc/{worker.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15
    return ticks / os.sysconf("SC_CLK_TCK")


def rate(dataset, workers: int, batches: int) -> dict:
    """Samples/s a DataLoader delivers over ``batches`` batches after the first one (wall
    clock); per CPU second of this process with no worker, and of the worker processes with
    workers (what one core gives when the machine is shared: other processes slow the wall
    clock, not the CPU time)."""
    batches = min(batches, len(dataset) // BATCH - 1)
    sampler = TrainBatches(len(dataset), BATCH, seed=0)
    sampler.set_epoch(1)
    loader = DataLoader(
        dataset, batch_sampler=sampler, num_workers=workers, generator=torch.Generator()
    )
    start = time.perf_counter()
    batch_iter = iter(loader)
    next(batch_iter)
    first = time.perf_counter() - start
    start, cpu, in_workers = time.perf_counter(), time.process_time(), worker_cpu_s(batch_iter)
    for _ in range(batches):
        next(batch_iter)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    in_workers = worker_cpu_s(batch_iter) - in_workers
    del batch_iter
    out = {"samples_per_s": batches * BATCH / seconds, "first_batch_s": first}
    out["load"] = os.getloadavg()[0]
    if workers == 0:
        out["samples_per_cpu_s"] = batches * BATCH / cpu
    else:
        out["samples_per_worker_cpu_s"] = batches * BATCH / max(in_workers, 1e-9)
        out["main_cpu_ms_per_batch"] = cpu / batches * 1e3
    return out


def train_flops_per_sample() -> dict[str, float]:
    """Forward + backward FLOPs per training sample of each stream's model (CPU count)."""
    from torch.utils.flop_counter import FlopCounterMode

    from mmnet.models import STGCN, MMNet

    graph = {"layout": "ntu-rgb+d", "strategy": "spatial"}
    n = 2
    out = {}
    meta = torch.device("meta")  # shapes only: counted, not computed
    stgcn = STGCN(3, 60, graph).to(meta)
    x = torch.randn(n, 3, 300, 25, 2, device=meta)
    with FlopCounterMode(display=False) as counter:
        stgcn(x).sum().backward()
    out["stgcn"] = counter.get_total_flops() / n
    fused = MMNet(60, graph, temporal_positions=5).to(meta)
    tiles = torch.randn(n, 3, 225, 225, device=meta)
    with FlopCounterMode(display=False) as counter:
        fused(x_skeleton=x, x_rgb=tiles).sum().backward()
    out["mmnet_per_batch_stgcn"] = counter.get_total_flops() / n
    stats = fused.attention_stats(x)
    with FlopCounterMode(display=False) as counter:
        fused(stats=stats, x_rgb=tiles).sum().backward()
    out["mmnet_cached"] = counter.get_total_flops() / n
    return out


def resnet50_train_flops() -> float:
    """Forward + backward FLOPs per 224 x 224 image of ResNet-50 v1.5 (25.6 M parameters),
    counted the same way as ours: the unit that turns NVIDIA's published images/s into an
    achieved FLOP rate."""
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width),
                nn.ReLU(), nn.Conv2d(width, 4 * width, 1, bias=False), nn.BatchNorm2d(4 * width),
            )  # fmt: skip
            self.down = (
                nn.Sequential(nn.Conv2d(cin, 4 * width, 1, stride, bias=False),
                              nn.BatchNorm2d(4 * width))
                if stride != 1 or cin != 4 * width else nn.Identity()
            )  # fmt: skip

        def forward(self, x):
            return torch.relu(self.body(x) + self.down(x))

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                               nn.ReLU(), nn.MaxPool2d(3, 2, 1)]  # fmt: skip
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(blocks):
            layers.append(Bottleneck(cin, width, stride if i == 0 else 1))
            cin = 4 * width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    model = nn.Sequential(*layers).to("meta")
    with FlopCounterMode(display=False) as counter:
        model(torch.randn(2, 3, 224, 224, device="meta")).sum().backward()
    return counter.get_total_flops() / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", type=Path, help="keep (or reuse) the skeleton store here: results/bench/..."
    )
    parser.add_argument("--limit", type=int, help="build the store from N ids spread over all")
    parser.add_argument("--roi-rows", type=int, default=4096)
    parser.add_argument("--batches", type=int, default=20, help="timed batches per figure")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--streams", nargs="+", help="joint joint-move bone bone-move rgb (all)")
    parser.add_argument("--gpu-tflops", type=float, default=989.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(1)
    work = Path(tempfile.mkdtemp(prefix="mmnet-loaders-"))
    report: dict = {"machine": scale.machine(), "batch": BATCH, "streams": {}}
    try:
        folder = (args.store or work) / "results" / "bench"
        if not (folder / "skeleton.zarr").is_dir():
            build_skeleton_store(args.store or work, args.limit)
        samples = pd.read_parquet(folder / "samples.parquet")
        store = folder / "skeleton.zarr"
        train = np.flatnonzero((samples["status"] == "ok") & samples["xsub"])
        labels = samples["label"].to_numpy()
        roi_rows = min(args.roi_rows, len(samples))
        report.update(samples=len(samples), train_rows=len(train), roi_rows=roi_rows)

        def fused(stats: bool, move: bool = False) -> FusedData:
            roi = RoiStore(
                work / "roi.zarr"
                if (work / "roi.zarr").is_dir()
                else build_roi_store(work, roi_rows)
            )
            rows = train[train < roi_rows]
            data = FusedData(
                skeletons("joint", move, rows), roi, random_interval=True, random_flip=True
            )
            if stats:  # what mmnet.train's cache_attention sets: 7 float32 per sample
                data.stats = np.zeros((len(rows), 7), dtype=np.float32)
            return data

        def skeletons(stream: str, move: bool, rows=train) -> SkeletonData:
            return SkeletonData(store, rows, labels[rows], stream=stream,
                                layout=NTU60.layout, random_move=move)  # fmt: skip

        streams = {
            "joint": lambda: skeletons("joint", False),
            "joint-move": lambda: skeletons("joint", True),
            "bone": lambda: skeletons("bone", False),
            "bone-move": lambda: skeletons("bone", True),
            "rgb": lambda: fused(stats=True),
            "rgb-joint": lambda: fused(stats=False),
            "rgb-move": lambda: fused(stats=False, move=True),
        }
        for name, make in streams.items():
            if args.streams and name not in args.streams:
                continue
            figures = {w: rate(make(), w, args.batches) for w in args.workers}
            report["streams"][name] = figures
            cpu = f" (per CPU s: {figures[0]['samples_per_cpu_s']:.0f})" if 0 in figures else ""
            worker = "".join(
                f" ({w} workers: {f['samples_per_worker_cpu_s']:.0f} per worker CPU s)"
                for w, f in figures.items() if w
            )  # fmt: skip
            print(f"{name:10s} " + "  ".join(
                f"{w} worker(s): {f['samples_per_s']:6.0f}/s" for w, f in figures.items()
            ) + cpu + worker + f"; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        tiles = torch.randint(0, 256, (BATCH, 3, 225, 225), dtype=torch.uint8)
        start = time.perf_counter()
        for _ in range(5):
            normalize_rgb(tiles)
        report["normalise_ms_per_batch_cpu"] = (time.perf_counter() - start) / 5 * 1e3
    finally:
        shutil.rmtree(work, ignore_errors=True)
    flops = train_flops_per_sample()
    report["train_gflops_per_sample"] = {k: v / 1e9 for k, v in flops.items()}
    # rgb-joint: as the former rgb row, against the cached-statistics rate; rgb-move: the
    # frozen ST-GCN runs on every batch
    model_of = {"joint": "stgcn", "joint-move": "stgcn", "bone": "stgcn", "bone-move": "stgcn",
                "rgb": "mmnet_cached", "rgb-joint": "mmnet_cached",
                "rgb-move": "mmnet_per_batch_stgcn"}  # fmt: skip
    normalise = report["normalise_ms_per_batch_cpu"]
    print(f"\nImageNet normalisation of a batch on the CPU: {normalise:.1f} ms (on the device)")
    achieved = A100_RESNET50_IMAGES_PER_S * resnet50_train_flops()  # FLOP/s
    report["a100_achieved_tflops"] = achieved / 1e12
    print(
        f"GPU ceiling: {args.gpu_tflops:.0f} TFLOP/s (dense BF16, H100/H200) / training FLOPs "
        f"per sample; A100 estimate: {achieved / 1e12:.1f} TFLOP/s (NVIDIA's published ResNet-50"
        f" AMP training, {A100_RESNET50_IMAGES_PER_S} img/s on one A100) / the same"
    )
    print("stream     GFLOP/sample  ceiling/s  A100 est./s  per worker/s  workers for 3x A100"
          "  8 workers / A100")  # fmt: skip
    report["gpu"] = {}
    for name, figures in report["streams"].items():
        gflops = flops[model_of[name]] / 1e9
        ceiling = args.gpu_tflops * 1e3 / gflops
        a100 = achieved / 1e9 / gflops
        # one worker on a core of its own: samples per CPU second, the lowest of the main
        # process's (no worker) and the worker processes' (which also collate into shared
        # memory for the main process)
        per_worker = min(
            f["samples_per_cpu_s"] if w == 0 else f["samples_per_worker_cpu_s"]
            for w, f in figures.items()
        )
        need = math.ceil(3 * a100 / per_worker)
        report["gpu"][name] = {"gflops": gflops, "ceiling_per_s": ceiling, "a100_per_s": a100,
                               "per_worker_per_s": per_worker, "workers_for_3x_a100": need,
                               "eight_workers_over_a100": 8 * per_worker / a100}  # fmt: skip
        print(f"{name:10s} {gflops:12.1f} {ceiling:10.0f} {a100:12.0f} {per_worker:13.0f} "
              f"{need:20d} {8 * per_worker / a100:17.1f}x")  # fmt: skip
    per_batch = flops["mmnet_per_batch_stgcn"] / 1e9
    print(f"rgb with random_move (frozen ST-GCN every batch): {per_batch:.1f} GFLOP/sample,"
          f" A100 estimate {achieved / 1e9 / per_batch:.0f}/s")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, default=float))


if __name__ == "__main__":
    main()
