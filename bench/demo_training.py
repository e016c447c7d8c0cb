"""The README's main job, measured: the whole demo DAG from nothing to ``ensemble.json``.

Runs ``snakemake --cores N --configfile config/demo.yaml`` in a fresh work folder (demo
raw files, skeletons, Kinect 2D poses, ROI store, the joint/bone/rgb trainings of every
trained protocol, the ensemble), then prints

* the wall time of the whole run and the seconds of each rule (summed over its jobs, from
  the rules' ``benchmark:`` files),
* test top-1/top-5 of every stream and of every fused combination (``ensemble.json``),
  with the selected epoch of each training. Chance is 1/7 (14.3 %).

``--json`` also writes the figures.

Usage: python bench/demo_training.py [--workdir DIR] [--cores 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "demo.yaml"


def run_workflow(workdir: Path, cores: int) -> float:
    """Seconds of one `snakemake` run of the demo's default target in ``workdir``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
         "--cores", str(cores), "--configfile", str(CONFIG)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def rule_seconds(results: Path) -> dict[str, float]:
    """Rule -> seconds summed over its jobs (the `benchmark:` tables of the run)."""
    seconds: dict[str, float] = defaultdict(float)
    for table in sorted((results / "benchmarks").glob("*/*.tsv")):
        seconds[table.parent.name] += float(pd.read_csv(table, sep="\t")["s"].sum())
    return dict(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", help="work folder (default: a new temporary one)")
    parser.add_argument("--cores", type=int, default=2, help="snakemake --cores (default: 2)")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="mmnet-demo-"))
    figures: dict = {"workflow_seconds": run_workflow(workdir, args.cores), "cores": args.cores}
    results = workdir / "results"
    figures["rule_seconds"] = rule_seconds(results)
    figures["runs"] = {}
    for summary in sorted(results.glob("demo_*/ensemble.json")):
        ensemble = json.loads(summary.read_text())
        run = {"n_samples": ensemble["n_samples"], "streams": {}, "combinations": {}}
        for stream, scores in ensemble["streams"].items():
            metrics = json.loads((summary.parent / stream / "metrics.json").read_text())
            run["streams"][stream] = {
                "top1": scores["top1"],
                "top5": scores["top5"],
                "selected_epoch": metrics["selected_epoch"],
                "epochs": metrics["epochs"],
                "seconds": metrics["seconds"],
            }
        for name, scores in ensemble["combinations"].items():
            run["combinations"][name] = {"top1": scores["top1"], "top5": scores["top5"]}
        figures["runs"][summary.parent.name] = run

    print(f"work folder: {workdir}")
    print(f"whole demo DAG on {args.cores} cores: {figures['workflow_seconds']:.0f} s")
    for rule, seconds in sorted(figures["rule_seconds"].items(), key=lambda item: -item[1]):
        print(f"  {rule:<18} {seconds:>7.1f} s")
    for name, run in figures["runs"].items():
        print(f"{name}: {run['n_samples']} test samples (chance 14.3 %)")
        print(f"  {'stream':<16} {'top-1':>7} {'top-5':>7}  epoch")
        for stream, f in run["streams"].items():
            epoch = f"{f['selected_epoch'] + 1}/{f['epochs']}"
            print(f"  {stream:<16} {f['top1']:>7.1%} {f['top5']:>7.1%}  {epoch}")
        for combination, f in run["combinations"].items():
            print(f"  {combination:<16} {f['top1']:>7.1%} {f['top5']:>7.1%}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
