"""Benchmark of the skeleton stage against the original's way of doing it.

Measures, on the same real NTU files (default ../shared/realdata/ntu60/skeletons):
  * per core: the parser alone, and the whole per-sample work (parse, body selection,
    pre-normalisation), ours vs a plain line-by-line reader and per-sample loops written the
    original's way (tests/reference_original.py);
  * the whole stage (index + shards + gather, zarr written) over --files copies of those files
    with 1 and 2 worker processes: samples/s, scaling, peak memory per process.

Usage: python bench/parse_skeletons.py [--files 2000] [--skeletons DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "support"))

import reference_original as ref  # noqa: E402

from mmnet.datasets.ntu_format import read_skeleton_file  # noqa: E402
from mmnet.skeleton.layouts import NTU_RGBD, joint_to_bone  # noqa: E402
from mmnet.skeleton.transforms import fit_frames, pre_normalize, select_bodies  # noqa: E402
from mmnet.store import SampleReader  # noqa: E402


def per_file_ms(func, files: list[Path], repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean time per file, in ms."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for path in files:
            func(path)
        rounds.append((time.perf_counter() - start) / len(files) * 1e3)
    return statistics.median(rounds)


def ours_parse(path: Path) -> np.ndarray:
    return read_skeleton_file(path).dense(4)


def ours_whole(paths: list[Path]) -> np.ndarray:
    """Per-sample work of a shard: parse, select, fit, then one vectorised normalisation."""
    block = np.stack([fit_frames(select_bodies(ours_parse(p), 2), 300) for p in paths])
    return pre_normalize(block)


def original_whole(path: Path) -> np.ndarray:
    return ref.original_sample(str(path))


def make_copies(files: list[Path], n: int, folder: Path) -> None:
    """``n`` copies of the real files under distinct NTU ids (subject/replication vary)."""
    folder.mkdir(parents=True)
    for i in range(n):
        source = files[i % len(files)]
        name = f"S001C001P{1 + i // 120:03d}R{1 + (i // 60) % 2:03d}A{1 + i % 60:03d}.skeleton"
        shutil.copy(source, folder / name)


def store_figures(store: Path) -> dict:
    """Bytes per sample on disk, time to read one sample (through zarr, and through the
    loaders' ``SampleReader``), time to derive its bones."""
    joint = zarr.open_group(store, mode="r")["joint"]
    n = joint.shape[0]
    size = sum(f.stat().st_size for f in (store / "joint" / "c").rglob("*") if f.is_file())
    rows = range(0, n, max(1, n // 200))
    start = time.perf_counter()
    for i in rows:
        joint[i]
    zarr_read_ms = (time.perf_counter() - start) / len(rows) * 1e3
    reader = SampleReader(joint)
    start = time.perf_counter()
    samples = [reader[i] for i in rows]
    read_ms = (time.perf_counter() - start) / len(rows) * 1e3
    start = time.perf_counter()
    for sample in samples:
        joint_to_bone(sample, NTU_RGBD)
    bone_ms = (time.perf_counter() - start) / len(rows) * 1e3
    return {
        "kib_per_sample": size / n / 1024,
        "read_ms": read_ms,
        "zarr_read_ms": zarr_read_ms,
        "bone_ms": bone_ms,
    }


def run_stage(skeletons: Path, workers: int, workdir: Path) -> dict:
    """Index + parse + gather in a fresh process; wall time and peak RSS (max over processes)."""
    config = workdir / f"bench{workers}.yaml"
    config.write_text(f"datasets: {{bench: {{kind: ntu60, skeletons: {skeletons}}}}}\n")
    code = (
        "import resource, sys, time\n"
        "from mmnet.cli import main\n"
        "t = time.perf_counter()\n"
        f"rc = main(['skeletons', '-c', '{config}', '-d', 'bench', '-w', '{workers}'])\n"
        "t = time.perf_counter() - t\n"
        "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(rc, t, own, kids)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, check=True
    )
    rc, seconds, own_kb, kids_kb = out.stdout.split()
    assert rc == "0", out.stderr
    return {"seconds": float(seconds), "peak_rss_mb": max(int(own_kb), int(kids_kb)) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skeletons", type=Path, default=REPO.parent / "shared/realdata/ntu60/skeletons"
    )
    parser.add_argument("--files", type=int, default=2000, help="files for the whole-stage run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    files = sorted(args.skeletons.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {args.skeletons}")
    results: dict = {
        "files": len(files),
        "mean_kb": np.mean([f.stat().st_size for f in files]) / 1024,
    }

    # correctness first: the two pipelines agree
    mine = ours_whole(files).transpose(0, 4, 2, 3, 1)
    for i, path in enumerate(files):
        np.testing.assert_array_equal(mine[i], original_whole(path))

    results["original_parse_ms"] = per_file_ms(lambda p: ref.read_xyz(str(p)), files, args.repeat)
    results["ours_parse_ms"] = per_file_ms(ours_parse, files, args.repeat)
    results["original_whole_ms"] = per_file_ms(original_whole, files, args.repeat)
    block = files * 10  # a shard block is up to 64 samples: measure at that size
    results["ours_whole_ms"] = statistics.median(_time_block(block) for _ in range(args.repeat))
    results["parse_speedup"] = results["original_parse_ms"] / results["ours_parse_ms"]
    results["whole_speedup"] = results["original_whole_ms"] / results["ours_whole_ms"]

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_copies(files, args.files, work / "skeletons")
        for workers in (1, 2):
            run = run_stage(work / "skeletons", workers, work)
            run["samples_per_s"] = args.files / run["seconds"]
            results[f"stage_{workers}_workers"] = run
            if workers == 1:
                results["store"] = store_figures(work / "results" / "bench" / "skeleton.zarr")
            shutil.rmtree(work / "results")
    results["scaling_2_vs_1"] = (
        results["stage_2_workers"]["samples_per_s"] / results["stage_1_workers"]["samples_per_s"]
    )

    print(f"files: {len(files)} real NTU60 .skeleton files, mean {results['mean_kb']:.0f} KiB")
    print("per core (ms per sample, median of rounds)    original     ours   speed-up")
    print(
        f"  parser alone                               {results['original_parse_ms']:8.2f} "
        f"{results['ours_parse_ms']:8.2f} {results['parse_speedup']:8.1f}x"
    )
    print(
        f"  parse + select + pre-normalise             {results['original_whole_ms']:8.2f} "
        f"{results['ours_whole_ms']:8.2f} {results['whole_speedup']:8.1f}x"
    )
    print(f"whole stage over {args.files} files (index + shards + gather, zarr written):")
    for workers in (1, 2):
        run = results[f"stage_{workers}_workers"]
        print(
            f"  {workers} worker(s): {run['seconds']:6.1f} s, "
            f"{run['samples_per_s']:6.0f} samples/s, "
            f"peak RSS {run['peak_rss_mb']:.0f} MiB per process"
        )
    print(f"  scaling 2 vs 1 worker: {results['scaling_2_vs_1']:.2f}x")
    store = results["store"]
    print(
        f"skeleton.zarr: {store['kib_per_sample']:.1f} KiB per sample on disk "
        f"(raw float32 {3 * 300 * 25 * 2 * 4 / 1024:.0f} KiB); reading one sample "
        f"{store['read_ms']:.2f} ms (through zarr {store['zarr_read_ms']:.2f} ms), "
        f"deriving its bones {store['bone_ms']:.3f} ms "
        "-> bones are derived in the loader, not stored"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


def _time_block(paths: list[Path]) -> float:
    start = time.perf_counter()
    ours_whole(paths)
    return (time.perf_counter() - start) / len(paths) * 1e3


if __name__ == "__main__":
    main()
