"""The skeleton stage at full size: how its cost grows from 1/10 of NTU60 to all of it.

Builds an NTU60-shaped raw folder: the 56,880 ids of NTU RGB+D 60 (the 56,578 usable ones
listed in ../shared/realdata/ntu60/statistics/skes_available_name.txt plus the 302 of the
official missing-skeleton list, which the stage then excludes), each a ``.skeleton`` file
with the content of one of the real files in ../shared/realdata/ntu60/skeletons, in turn.
Files are hard links to 7 copies of the real files by default (no disk, but every read
comes from the page cache), or real copies with ``--copy`` (about 15 GB at full size).
Sizes: every k-th id for each k of ``--parts`` (10, 3, 1: 5,688, 18,960, 56,880 files).

Then runs the real stages as Snakemake runs them, one process each (``mmnet index``,
``mmnet parse-skeletons`` once per worker, all at once, ``mmnet gather-skeletons``), with 1
and 2 workers, and prints per stage: wall time, CPU time, peak RSS of each process (from
``wait4``), samples/s, the store's size; then how seconds per sample and peak RSS change
from the smallest size to the largest. ``--png`` draws both on log-log axes.

Everything is written under ``--work`` (default: a temporary folder) and removed at the end;
the disk needed is printed first, and the run stops if the disk lacks it.

Usage: python bench/scale.py [--parts 10 3 1] [--workers 1 2] [--copy] [--limit N]
                             [--json out.json] [--png docs/images/scale.png]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMNET_REALDATA", REPO.parent / "shared" / "realdata"))
NTU60 = REALDATA / "ntu60"
#: On-disk bytes per sample of skeleton.zarr, rounded up from bench/parse_skeletons.py.
STORE_BYTES_PER_SAMPLE = 40 * 1024


def ntu60_ids(ntu60: Path = NTU60) -> tuple[list[str], list[str]]:
    """All 56,880 NTU60 ids (sorted) and the 302 of the official missing list."""
    available = (ntu60 / "statistics" / "skes_available_name.txt").read_text().split()
    listed = (ntu60 / "NTU_RGBD_samples_with_missing_skeletons.txt").read_text().split()
    missing = [token for token in listed if len(token) == 20 and token.startswith("S")]
    return sorted(set(available) | set(missing)), missing


def disk_need(sources: list[Path], n_files: int, copy: bool) -> int:
    """Bytes the largest size needs: raw files (copies only) and one store at a time."""
    sizes = [p.stat().st_size for p in sources]
    raw = sum(sizes[i % len(sizes)] for i in range(n_files)) if copy else 0
    return raw + n_files * STORE_BYTES_PER_SAMPLE


def make_raw(folder: Path, ids: list[str], sources: list[Path], copy: bool) -> float:
    """Write the raw folder; seconds taken."""
    start = time.perf_counter()
    folder.mkdir(parents=True)
    for i, sample in enumerate(ids):
        source, target = sources[i % len(sources)], folder / f"{sample}.skeleton"
        if copy:
            shutil.copyfile(source, target)
        else:
            os.link(source, target)
    return time.perf_counter() - start


#: Runs ``mmnet ARGS`` and writes its peak RSS (VmHWM, KiB) to a file at exit. The kernel's
#: ru_maxrss would not do: it counts the pages of the parent (this bench, which holds the id
#: list and pyarrow) that a child shares between fork and exec.
PEAK_WRAPPER = """
import atexit, runpy, sys
def peak(path=sys.argv[1]):
    with open("/proc/self/status") as status:
        kib = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(kib)
atexit.register(peak)
sys.argv = ["mmnet", *sys.argv[2:]]
runpy.run_module("mmnet", run_name="__main__", alter_sys=True)
"""


def run_processes(commands: list[list[str]], cwd: Path, log: Path) -> dict:
    """Run ``mmnet`` with each argument list at once; wall time, and per process CPU seconds
    (from ``wait4``) and peak RSS (its own ``VmHWM``)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    peaks = [cwd / f".peak{i}" for i in range(len(commands))]
    start = time.perf_counter()
    with log.open("a") as out:
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", PEAK_WRAPPER, str(peak), *args],
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            for peak, args in zip(peaks, commands, strict=True)
        ]
        usage = {}
        for proc in procs:
            _, status, rusage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            usage[proc.pid] = rusage
    wall = time.perf_counter() - start
    failed = [p for p in procs if p.returncode != 0]
    if failed:
        tail = log.read_text()[-3000:]
        raise RuntimeError(f"{failed[0].args[4:]} failed ({failed[0].returncode}):\n{tail}")
    rss = []
    for peak, rusage in zip(peaks, usage.values(), strict=True):
        rss.append(int(peak.read_text()) / 1024 if peak.is_file() else rusage.ru_maxrss / 1024)
        peak.unlink(missing_ok=True)
    return {
        "wall_s": wall,
        "cpu_s": [u.ru_utime + u.ru_stime for u in usage.values()],
        "peak_rss_mib": rss,
    }


def run_stage(raw: Path, workers: int, work: Path, compression_level: int) -> dict:
    """index -> parse-skeletons x workers -> gather-skeletons, as separate processes."""
    out = work / f"run{workers}"
    out.mkdir()
    config = out / "bench.yaml"
    config.write_text(
        f"datasets: {{bench: {{kind: ntu60, skeletons: '{raw}', "
        f"missing_skeletons: '{NTU60 / 'NTU_RGBD_samples_with_missing_skeletons.txt'}'}}}}\n"
        f"skeleton: {{compression_level: {compression_level}}}\n"
    )
    log = out / "stage.log"
    index = out / "index.parquet"
    stores = [out / f"skeleton_{i + 1}-of-{workers}.zarr" for i in range(workers)]
    tables = [s.with_suffix(".parquet") for s in stores]
    store, samples = out / "skeleton.zarr", out / "samples.parquet"
    index_cmd = ["index", "-c", str(config), "-d", "bench", "--out", str(index)]
    shard_cmds = [
        ["parse-skeletons", "-c", str(config), "-d", "bench", "--index", str(index)]
        + ["--shard", f"{i + 1}-of-{workers}", "--out-store", str(stores[i])]
        + ["--out-table", str(tables[i])]
        for i in range(workers)
    ]
    gather_cmd = ["gather-skeletons", "-c", str(config), "-d", "bench", "--index", str(index)]
    gather_cmd += ["--stores", *map(str, stores)]
    gather_cmd += ["--tables", *map(str, tables), "--out-store", str(store)]
    gather_cmd += ["--out-samples", str(samples)]
    figures = {
        "index": run_processes([index_cmd], out, log),
        "shards": run_processes(shard_cmds, out, log),
        "gather": run_processes([gather_cmd], out, log),
    }
    figures["store_bytes"] = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
    figures["samples_bytes"] = samples.stat().st_size
    figures["status"] = _status_counts(samples)
    shutil.rmtree(out)
    return figures


def _status_counts(samples: Path) -> dict:
    import pyarrow.parquet as pq

    column = pq.read_table(samples, columns=["status"])["status"].to_pylist()
    return {status: column.count(status) for status in sorted(set(column))}


def machine() -> dict:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "load_before": os.getloadavg()[0],
    }


def print_table(rows: list[dict]) -> None:
    print(
        "files   workers | index s  shards s  gather s  total s | samples/s | CPU s "
        "| peak RSS MiB index/shard/gather | store MiB  KiB/sample"
    )
    for row in rows:
        f = row["figures"]
        total = sum(f[s]["wall_s"] for s in ("index", "shards", "gather"))
        cpu = sum(sum(f[s]["cpu_s"]) for s in ("index", "shards", "gather"))
        print(
            f"{row['files']:6d}  {row['workers']:7d} | {f['index']['wall_s']:7.1f}  "
            f"{f['shards']['wall_s']:8.1f}  {f['gather']['wall_s']:8.1f}  {total:7.1f} | "
            f"{row['files'] / total:9.0f} | {cpu:5.0f} | "
            f"{max(f['index']['peak_rss_mib']):5.0f} / {max(f['shards']['peak_rss_mib']):5.0f}"
            f" / {max(f['gather']['peak_rss_mib']):5.0f}          | "
            f"{f['store_bytes'] / 2**20:9.0f}  {f['store_bytes'] / row['files'] / 1024:10.1f}"
        )


def growth(rows: list[dict]) -> dict:
    """Per worker count: seconds per sample and peak RSS, largest size over smallest."""
    out = {}
    for workers in sorted({r["workers"] for r in rows}):
        mine = sorted((r for r in rows if r["workers"] == workers), key=lambda r: r["files"])
        small, large = mine[0], mine[-1]

        def per_sample(row):
            return (
                sum(row["figures"][s]["wall_s"] for s in ("index", "shards", "gather"))
                / row["files"]
            )

        def rss(row, stage):
            return max(row["figures"][stage]["peak_rss_mib"])

        out[workers] = {
            "files": [small["files"], large["files"]],
            "seconds_per_sample_ratio": per_sample(large) / per_sample(small),
            "peak_rss_ratio": {
                s: rss(large, s) / rss(small, s) for s in ("index", "shards", "gather")
            },
        }
    return out


def plot(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for workers, colour in zip(
        sorted({r["workers"] for r in rows}), ("C0", "C1", "C2"), strict=False
    ):
        mine = sorted((r for r in rows if r["workers"] == workers), key=lambda r: r["files"])
        n = [r["files"] for r in mine]
        for stage, style in (("total", "-"), ("shards", "--"), ("index", ":"), ("gather", "-.")):
            stages = ("index", "shards", "gather") if stage == "total" else (stage,)
            wall = [sum(r["figures"][s]["wall_s"] for s in stages) for r in mine]
            left.plot(
                n, wall, style, marker="o", color=colour, label=f"{stage}, {workers} worker(s)"
            )
        cpu = [
            sum(sum(r["figures"][s]["cpu_s"]) for s in ("index", "shards", "gather")) for r in mine
        ]
        left.plot(n, cpu, "-", marker="x", color=colour, alpha=0.5,
                  label=f"CPU time, all processes, {workers} worker(s)")  # fmt: skip
        for stage, marker in (("shards", "o"), ("index", "s"), ("gather", "^")):
            if not all(r["figures"][stage]["peak_rss_mib"] for r in mine):
                continue  # not measured (a report merged from two runs)
            rss = [max(r["figures"][stage]["peak_rss_mib"]) for r in mine]
            right.plot(n, rss, marker=marker, color=colour, label=f"{stage}, {workers} worker(s)")
    n_all = sorted({r["files"] for r in rows})
    first = min(rows, key=lambda r: (r["files"], r["workers"]))
    base = sum(first["figures"][s]["wall_s"] for s in ("index", "shards", "gather"))
    left.plot(n_all, [base * x / n_all[0] for x in n_all], color="grey", lw=0.8, label="linear")
    left.set_yscale("log")
    right.set_ylim(0, 1.2 * max(max(r["figures"]["shards"]["peak_rss_mib"] or [0]) for r in rows))
    for axis in (left, right):
        axis.set_xscale("log")
        axis.set_xlabel("samples (.skeleton files)")
        axis.grid(True, which="both", alpha=0.3)
    left.set_ylabel("seconds (wall; x: CPU)")
    left.set_title("time")
    right.set_ylabel("peak RSS per process (MiB)")
    right.set_title("memory")
    left.legend(fontsize=6, ncol=2)
    right.legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", type=int, nargs="+", default=[10, 3, 1],
                        help="sizes: every k-th NTU60 id for each k (default: 10 3 1)")  # fmt: skip
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--copy", action="store_true", help="copy the files (default: hard links)")
    parser.add_argument("--limit", type=int, help="use only the first N ids (smoke tests)")
    parser.add_argument(
        "--compression-level", type=int, default=3, help="skeleton.compression_level"
    )
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--png", type=Path, help="draw time and memory against size here")
    parser.add_argument("--replot", type=Path, help="only redraw --png from this --json output")
    args = parser.parse_args()
    if args.replot:
        report = json.loads(args.replot.read_text())
        m = report["machine"]
        title = f"skeleton stage, NTU60-shaped raw folder; {m['cores']} cores ({m['cpu']}), "
        plot(report["rows"], args.png, title + m["date"][:10])
        return

    sources = sorted((NTU60 / "skeletons").glob("*.skeleton"))
    if not sources:
        raise SystemExit(f"no real .skeleton files in {NTU60 / 'skeletons'}")
    ids, missing = ntu60_ids()
    ids = ids[: args.limit] if args.limit else ids
    sizes = sorted({len(ids[::k]) for k in args.parts})
    work = args.work or Path(tempfile.mkdtemp(prefix="mmnet-scale-"))
    need = disk_need(sources, max(sizes), args.copy)
    free = shutil.disk_usage(work).free
    print(
        f"{len(ids)} NTU60 ids ({len(missing)} in the missing list); sizes {sizes}; raw files as "
        f"{'copies' if args.copy else 'hard links'} of {len(sources)} real files; disk needed "
        f"about {need / 2**30:.1f} GiB, free {free / 2**30:.1f} GiB under {work}"
    )
    if need > free:
        raise SystemExit("not enough disk: use hard links (the default) or a smaller --parts")
    report = {"machine": machine(), "copy": args.copy, "sizes": sizes, "rows": []}
    try:
        local = work / "sources"
        local.mkdir(parents=True, exist_ok=True)
        sources = [Path(shutil.copyfile(s, local / s.name)) for s in sources]
        for k in sorted(args.parts, reverse=True):
            subset = ids[::k]
            raw = work / f"raw_{len(subset)}"
            made = make_raw(raw, subset, sources, args.copy)
            print(f"raw folder of {len(subset)} files written in {made:.1f} s")
            for workers in args.workers:
                figures = run_stage(raw, workers, work, args.compression_level)
                row = {"files": len(subset), "workers": workers, "figures": figures}
                report["rows"].append(row)
                print_table([row])
            shutil.rmtree(raw)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
        else:
            for child in (
                "sources",
                *(f"raw_{n}" for n in sizes),
                *(f"run{w}" for w in args.workers),
            ):
                shutil.rmtree(work / child, ignore_errors=True)
    print(f"\n{report['machine']}")
    print_table(report["rows"])
    report["growth"] = growth(report["rows"])
    for workers, g in report["growth"].items():
        rss = ", ".join(f"{s} x{r:.2f}" for s, r in g["peak_rss_ratio"].items())
        print(
            f"{workers} worker(s), {g['files'][0]} -> {g['files'][1]} files: seconds per sample "
            f"x{g['seconds_per_sample_ratio']:.2f}, peak RSS {rss}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    if args.png:
        m = report["machine"]
        title = f"skeleton stage, NTU60-shaped raw folder; {m['cores']} cores ({m['cpu']}), "
        plot(report["rows"], args.png, title + m["date"][:10])


if __name__ == "__main__":
    main()
