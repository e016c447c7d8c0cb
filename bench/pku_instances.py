"""Benchmark: reading PKU-MMD action instances out of their long sequence files.

Many instances (up to 28) share one sequence file, and a shard reads rows sorted by id, i.e.
the instances of one file one after another. Measures, on the real files (default
../shared/realdata/pku_mmd), the mean time per instance of:
  * ``cached``: ``PKU.read_skeleton`` as the stage calls it (small LRU of parsed files);
  * ``uncached``: the same with the cache emptied before every instance (re-read per instance);
  * ``original``: the original's route, the converter's NTU-like text for the instance and
    its reader (tests/reference_original.py), excluding writing the converted file.

Usage: python bench/pku_instances.py [--root DIR] [--repeat 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "support"))

import reference_original as ref  # noqa: E402

from mmnet.datasets.base import RawPaths  # noqa: E402
from mmnet.datasets.pku import PKU, read_sequence  # noqa: E402
from mmnet.stages.index import write_index  # noqa: E402


def per_instance_ms(func, rows: list[dict], repeat: int) -> float:
    """Median over ``repeat`` rounds of the mean time per instance, in ms."""
    rounds = []
    for _ in range(repeat):
        read_sequence.cache_clear()
        start = time.perf_counter()
        for row in rows:
            func(row)
        rounds.append((time.perf_counter() - start) / len(rows) * 1e3)
    return statistics.median(rounds)


def uncached(row: dict) -> None:
    read_sequence.cache_clear()
    PKU.read_skeleton(row)


def original(row: dict) -> None:
    lines = Path(row["skeleton_path"]).read_text().splitlines()
    ref.read_pku_xyz(ref.pku_instance_to_ntu(lines, int(row["start"]), int(row["end"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_root = REPO.parent / "shared" / "realdata" / "pku_mmd"
    parser.add_argument("--root", type=Path, default=default_root)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    raw = RawPaths(
        skeletons=(args.root / "PKU_Skeleton_Renew",),
        extra={"labels": args.root / "Train_Label_PKU_final", "splits": args.root / "Split"},
    )
    with tempfile.TemporaryDirectory() as tmp:
        table = write_index(PKU, raw, ["xsub"], Path(tmp) / "index.parquet")
    rows = table[table["status"] == "ok"].to_dict("records")
    result = {
        "instances": len(rows),
        "sequence_files": len({row["skeleton_path"] for row in rows}),
        "cached_ms": per_instance_ms(PKU.read_skeleton, rows, args.repeat),
        "uncached_ms": per_instance_ms(uncached, rows, args.repeat),
        "original_ms": per_instance_ms(original, rows, args.repeat),
    }
    print(
        f"{result['instances']} instances from {result['sequence_files']} sequence files, "
        f"mean per instance: cached {result['cached_ms']:.2f} ms, "
        f"uncached {result['uncached_ms']:.2f} ms, original route {result['original_ms']:.2f} ms"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
