"""Benchmark of the skeleton stage against the original's way of doing it.

Measures, on the same real NTU files (default ../shared/realdata/ntu60/skeletons):
  * per core: the parser alone, and the whole per-sample work (parse, body selection,
    pre-normalisation), ours vs a plain line-by-line reader and per-sample loops written the
    original's way (tests/reference_original.py);
  * the per-step split of one core's work per file (CPU time): read, tokenise (the parser),
    select (dense slots, body selection, fit to T), normalise (pre-normalisation, per block
    of 64), compress (Blosc, as the store's codec), write (the shard file);
  * the start-up of a stage process (interpreter + imports) and the imports that dominate it;
  * the whole ``mmnet skeletons -w 1`` process (start-up, index, parse, normalise, zarr and
    parquet writes) over --files copies of those files, as a fresh process: wall and CPU
    time per file, where its CPU time goes (imports, index, the shard, gather), and its
    ratio to the original's per-file CPU time; then the same stage with 1
    and 2 workers: samples/s, scaling, peak memory per process.

Timings on a shared machine are noisy: every figure is the median of --repeat rounds, and
the whole-process lines print the spread.

Usage: python bench/parse_skeletons.py [--files 1000] [--repeat 5] [--skeletons DIR]
                                       [--compression-level 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numcodecs
import numpy as np
import zarr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "support"))

import reference_original as ref  # noqa: E402

from mmnet.datasets.ntu_format import (  # noqa: E402
    parse_skeleton,
    read_bytes_reusing,
    read_skeleton_file,
)
from mmnet.skeleton.layouts import NTU_RGBD, joint_to_bone  # noqa: E402
from mmnet.skeleton.transforms import fit_frames, pre_normalize, select_bodies  # noqa: E402
from mmnet.store import SampleReader  # noqa: E402


def per_file_ms(func, files: list[Path], repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean CPU time per file, in ms (CPU time: on a
    shared machine other processes stretch the wall clock, much less the CPU time)."""
    rounds = []
    for _ in range(repeat):
        start = time.process_time()
        for path in files:
            func(path)
        rounds.append((time.process_time() - start) / len(files) * 1e3)
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
    """``n`` copies of the real files under distinct NTU ids: cameras 1-3 and subjects 1 and
    3 in turn, so that both protocols have training and test samples (the gather step
    refuses an empty split)."""
    folder.mkdir(parents=True)
    for i in range(n):
        source = files[i % len(files)]
        camera, subject = 1 + i % 3, (1, 3)[i // 3 % 2]
        action, replication, setup = 1 + i // 6 % 60, 1 + i // 360 % 2, 1 + i // 720
        name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{action:03d}"
        shutil.copy(source, folder / f"{name}.skeleton")


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


STEPS = ("read", "tokenise", "select", "normalise", "compress", "write")
#: Start-up imports worth naming (the largest cumulative import times of a stage process).
IMPORTS = ("numpy", "pandas", "pyarrow", "zarr", "numcodecs", "jsonschema", "yaml", "av",
           "mmnet.datasets.demo", "tqdm")  # fmt: skip


def _cpu(func, items: list, per: int) -> tuple[float, list]:
    """CPU ms of ``func`` over ``items``, divided by ``per`` files; the outputs."""
    start = time.process_time()
    out = [func(item) for item in items]
    return (time.process_time() - start) / per * 1e3, out


def step_split(
    files: list[Path],
    repeat: int,
    level: int,
    blocks: int = 7,
    block_bytes: int = 3 * 300 * 25 * 2 * 4,
) -> dict[str, float]:
    """Median CPU ms per file of each step of a shard's work, over ``blocks`` blocks of 64
    samples (the real files in turn), as ``parse_shard`` does it: parse, select and fit each
    sample, pre-normalise each block, compress each sample with the store's codec, write each
    block as one file. ``block_bytes``: Blosc's block (one sample, as the store; 0: Blosc's
    default, as before issue 17)."""
    paths = [files[i % len(files)] for i in range(blocks * 64)]
    n = len(paths)
    codec = numcodecs.Blosc("zstd", level, numcodecs.Blosc.SHUFFLE, blocksize=block_bytes)
    rounds: dict[str, list[float]] = {step: [] for step in STEPS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeat):
            t, _ = _cpu(lambda p: read_bytes_reusing(p).nbytes, paths, n)  # as the stage reads
            rounds["read"].append(t)
            data = [p.read_bytes() for p in paths]  # kept for the next step, untimed
            t, parsed = _cpu(lambda d: parse_skeleton(d).dense(4), data, n)
            rounds["tokenise"].append(t)
            t, selected = _cpu(lambda x: fit_frames(select_bodies(x, 2), 300), parsed, n)
            rounds["select"].append(t)
            blocks = [np.stack(selected[i : i + 64]) for i in range(0, n, 64)]
            t, blocks = _cpu(pre_normalize, blocks, n)
            rounds["normalise"].append(t)
            samples = [np.ascontiguousarray(x) for b in blocks for x in b.transpose(0, 4, 2, 3, 1)]
            t, frames = _cpu(codec.encode, samples, n)
            rounds["compress"].append(t)
            files_out = [b"".join(frames[i : i + 64]) for i in range(0, n, 64)]
            t, _ = _cpu(lambda b: Path(tmp, "shard").write_bytes(b), files_out, n)
            rounds["write"].append(t)
    return {step: statistics.median(values) for step, values in rounds.items()}


def startup(repeat: int) -> dict:
    """Wall seconds of a bare interpreter and of one that imports the stage's modules; the
    imports that cost most (cumulative ms, from ``-X importtime``)."""
    code = "import mmnet.cli, mmnet.stages.local"  # what `mmnet skeletons` imports
    env = _child_env()

    def wall(args: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, *args], env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    bare = statistics.median(wall(["-c", "pass"]) for _ in range(repeat))
    stage = statistics.median(wall(["-c", code]) for _ in range(repeat))
    trace = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, check=True,
                           capture_output=True, text=True).stderr  # fmt: skip
    imports: dict[str, float] = {}
    for line in trace.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if match and match.group(3) in IMPORTS:
            imports[match.group(3)] = max(imports.get(match.group(3), 0), int(match.group(1)) / 1e3)
    return {"bare_s": bare, "stage_imports_s": stage, "imports_ms": imports}


def _child_env() -> dict:
    path = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path}


def whole_process(skeletons: Path, workers: int, workdir: Path, level: int, repeat: int) -> dict:
    """``mmnet skeletons -w workers`` as a fresh process, ``repeat`` times: wall and CPU
    seconds (the process and its workers), peak RSS of the largest process."""
    config = workdir / f"bench{workers}_{level}.yaml"
    config.write_text(
        f"datasets: {{bench: {{kind: ntu60, skeletons: '{skeletons}'}}}}\n"
        f"skeleton: {{compression_level: {level}}}\n"
    )
    command = [sys.executable, "-m", "mmnet", "skeletons", "-c", str(config), "-d", "bench"]
    walls, cpus, rss = [], [], []
    for _ in range(repeat):
        shutil.rmtree(workdir / "results", ignore_errors=True)
        start = time.perf_counter()
        proc = subprocess.Popen([*command, "-w", str(workers)], cwd=workdir, env=_child_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        walls.append(time.perf_counter() - start)
        error = proc.stderr.read().decode()
        proc.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError(f"{command} failed:\n{error[-3000:]}")
        cpus.append(usage.ru_utime + usage.ru_stime)
        rss.append(usage.ru_maxrss / 1024)
    return {"wall_s": walls, "cpu_s": cpus, "peak_rss_mb": max(rss)}


#: One ``mmnet skeletons -w 1`` done step by step in a fresh process, CPU seconds per step.
PROCESS_SPLIT = """
import json, sys, time
from pathlib import Path
clock = time.process_time
marks = [clock()]
import mmnet.cli, mmnet.stages.local
from mmnet.config import load_config
from mmnet.stages.index import index_samples
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import gather_skeletons, parse_shard
marks.append(clock())
config = load_config([sys.argv[1]])
index_samples(config, "bench", "index.parquet")
marks.append(clock())
shard = Shard(0, 1)
out = ShardOutput.in_folder(Path("parts"), "skeleton", shard)
Path("parts").mkdir()
parse_shard(config.dataset("bench").kind, config.skeleton, shard, "index.parquet", out)
marks.append(clock())
gather_skeletons(config, "bench", "index.parquet", [out.store], [out.table], "skeleton.zarr",
                 "samples.parquet")
marks.append(clock())
steps = ("imports", "index", "parse_shard", "gather")
print(json.dumps({k: b - a for k, a, b in zip(steps, marks, marks[1:])}))
"""


def process_split(skeletons: Path, workdir: Path, level: int, repeat: int) -> dict[str, float]:
    """Median CPU seconds of each part of the whole process (imports, index, the shard's
    parse + normalise + writes, gather), as one fresh process runs them."""
    folder = workdir / "split"
    config = workdir / "split.yaml"
    config.write_text(
        f"datasets: {{bench: {{kind: ntu60, skeletons: '{skeletons}'}}}}\n"
        f"skeleton: {{compression_level: {level}}}\n"
    )
    rounds = []
    for _ in range(repeat):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        command = [sys.executable, "-c", PROCESS_SPLIT, str(config)]
        out = subprocess.run(
            command, cwd=folder, env=_child_env(), check=True, capture_output=True, text=True
        )
        rounds.append(json.loads(out.stdout.strip().splitlines()[-1]))
    shutil.rmtree(folder, ignore_errors=True)
    return {step: statistics.median(r[step] for r in rounds) for step in rounds[0]}


def _spread(values: list[float], scale: float = 1.0) -> str:
    values = [v * scale for v in values]
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    realdata = Path(os.environ.get("MMNET_REALDATA", REPO.parent / "shared" / "realdata"))
    parser.add_argument("--skeletons", type=Path, default=realdata / "ntu60" / "skeletons")
    parser.add_argument("--files", type=int, default=1000, help="files for the whole-stage run")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--compression-level", type=int, default=1, help="the config's default")
    parser.add_argument("--step-blocks", type=int, default=7, help="blocks of 64 for the split")
    parser.add_argument(
        "--default-blocks", action="store_true", help="split: Blosc's default blocks (pre-17)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    level = args.compression_level

    files = sorted(args.skeletons.glob("*.skeleton"))
    if not files:
        raise SystemExit(f"no .skeleton files in {args.skeletons}")
    results: dict = {
        "files": len(files),
        "mean_kb": np.mean([f.stat().st_size for f in files]) / 1024,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cores": os.cpu_count(),
    }

    # Fresh processes first, while this one is small: on Linux a child's peak RSS counts the
    # parent's resident pages at the time it was spawned.
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_copies(files, args.files, work / "skeletons")
        for workers in (1, 2):
            run = whole_process(work / "skeletons", workers, work, level, args.repeat)
            run["samples_per_s"] = args.files / statistics.median(run["wall_s"])
            results[f"stage_{workers}_workers"] = run
            if workers == 1:
                results["store"] = store_figures(work / "results" / "bench" / "skeleton.zarr")
        results["process_split_cpu_s"] = process_split(work / "skeletons", work, level, args.repeat)
        if level != 1:  # what the lower level would give (docs/performance.md)
            results["stage_1_worker_level_1"] = whole_process(
                work / "skeletons", 1, work, 1, args.repeat
            )
    # the two pipelines agree
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
    results["steps_cpu_ms"] = step_split(
        files,
        args.repeat,
        level,
        args.step_blocks,
        0 if args.default_blocks else 3 * 300 * 25 * 2 * 4,
    )
    results["startup"] = startup(args.repeat)

    one = results["stage_1_workers"]
    cpu_ms = statistics.median(one["cpu_s"]) / args.files * 1e3
    results["whole_process_cpu_ms_per_file"] = cpu_ms
    results["whole_process_ratio"] = results["original_whole_ms"] / cpu_ms
    results["whole_process_wall_ms_per_file"] = statistics.median(one["wall_s"]) / args.files * 1e3
    results["scaling_2_vs_1"] = (
        results["stage_2_workers"]["samples_per_s"] / results["stage_1_workers"]["samples_per_s"]
    )

    print(
        f"files: {len(files)} real NTU60 .skeleton files, mean {results['mean_kb']:.0f} KiB; "
        f"{results['cores']} cores; {results['date']}"
    )
    print("per core (CPU ms per sample, median of rounds)  original     ours   speed-up")
    print(
        f"  parser alone                               {results['original_parse_ms']:8.2f} "
        f"{results['ours_parse_ms']:8.2f} {results['parse_speedup']:8.1f}x"
    )
    print(
        f"  parse + select + pre-normalise             {results['original_whole_ms']:8.2f} "
        f"{results['ours_whole_ms']:8.2f} {results['whole_speedup']:8.1f}x"
    )
    steps = results["steps_cpu_ms"]
    print("per-step split of a shard's work, CPU ms per file: " + ", ".join(
        f"{step} {steps[step]:.3f}" for step in STEPS
    ) + f"; sum {sum(steps.values()):.2f}")  # fmt: skip
    up = results["startup"]
    print(
        f"start-up: bare interpreter {up['bare_s']:.2f} s, with the stage's imports "
        f"{up['stage_imports_s']:.2f} s; imports (cumulative ms): "
        + ", ".join(
            f"{k} {v:.0f}" for k, v in sorted(up["imports_ms"].items(), key=lambda x: -x[1])
        )
    )
    print(
        f"whole `mmnet skeletons` process over {args.files} files, fresh process, median (range):"
    )
    for key, label in (("stage_1_workers", f"1 worker, level {level}"),
                       ("stage_1_worker_level_1", "1 worker, level 1"),
                       ("stage_2_workers", f"2 workers, level {level}")):  # fmt: skip
        if key not in results:
            continue
        run = results[key]
        print(
            f"  {label:18s} wall ms/file {_spread(run['wall_s'], 1e3 / args.files)}, "
            f"CPU ms/file {_spread(run['cpu_s'], 1e3 / args.files)}, "
            f"peak RSS {run['peak_rss_mb']:.0f} MiB"
        )
    split = results["process_split_cpu_s"]
    print("  where one process's CPU time goes, ms per file: " + ", ".join(
        f"{step} {seconds / args.files * 1e3:.2f}" for step, seconds in split.items()
    ))  # fmt: skip
    print(
        f"  ratio to the original's {results['original_whole_ms']:.1f} ms per file (CPU time, "
        f"one core), whole process, 1 worker: {results['whole_process_ratio']:.1f}x "
        f"(wall: {results['original_whole_ms'] / results['whole_process_wall_ms_per_file']:.1f}x"
        f" against the original's CPU time); 2 vs 1 worker: {results['scaling_2_vs_1']:.2f}x"
    )
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
    start = time.process_time()
    ours_whole(paths)
    return (time.process_time() - start) / len(paths) * 1e3


if __name__ == "__main__":
    main()
