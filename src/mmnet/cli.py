"""The ``mmnet`` command: every pipeline stage, runnable without Snakemake.

Each subcommand calls the same package function as the corresponding Snakemake rule and, by
default, reads and writes the same ``results/<dataset>/...`` paths, relative to the current
folder (run it where you would run ``snakemake``).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import yaml

from mmnet import __version__
from mmnet.config import ConfigError, dataset_of, load_config, raw_paths, raw_root
from mmnet.logs import setup_logging

log = logging.getLogger("mmnet")

DEFAULT_CONFIG = ["config/config.yaml"]


def _results(args: argparse.Namespace, name: str) -> Path:
    """The path the workflow uses for a dataset's output ``name``."""
    return Path("results") / args.dataset / name


def cmd_validate_config(args: argparse.Namespace) -> None:
    config = load_config(args.config)
    sys.stdout.write(yaml.safe_dump(config, sort_keys=False))


def cmd_demo(args: argparse.Namespace) -> None:
    from mmnet.datasets.demo import generate_demo

    config = load_config(args.config)
    demo = config["demo"]
    out = Path(args.out) if args.out else raw_root(args.dataset)
    generate_demo(
        out,
        seed=demo["seed"],
        subjects=demo["subjects"],
        replications=demo["replications"],
        frames=tuple(demo["frames"]),
    )


def cmd_index(args: argparse.Namespace) -> None:
    from mmnet.index import index_samples

    config = load_config(args.config)
    entry = config["datasets"][args.dataset]
    index_samples(
        dataset_of(config, args.dataset),
        raw_paths(config, args.dataset),
        entry["protocols"],
        args.out or _results(args, "index.parquet"),
    )


def cmd_parse_skeletons(args: argparse.Namespace) -> None:
    from mmnet.skeleton.stage import parse_scatteritem, parse_shard

    config = load_config(args.config)
    shard, n_shards = parse_scatteritem(args.shard)
    parse_shard(
        args.index or _results(args, "index.parquet"),
        dataset_of(config, args.dataset),
        shard,
        n_shards,
        args.out_store,
        args.out_table,
        on_error=config["skeleton"]["on_error"],
        compression_level=config["skeleton"]["compression_level"],
    )


def cmd_gather_skeletons(args: argparse.Namespace) -> None:
    from mmnet.skeleton.stage import gather_skeletons

    gather_skeletons(args.index, args.stores, args.tables, args.out_store, args.out_samples)


def cmd_skeletons(args: argparse.Namespace) -> None:
    """Whole skeleton stage for one dataset (demo raw files generated when absent)."""
    from mmnet.index import index_samples
    from mmnet.skeleton.stage import build_skeletons

    config = load_config(args.config)
    entry = config["datasets"][args.dataset]
    dataset = dataset_of(config, args.dataset)
    if entry["kind"] == "demo" and not raw_root(args.dataset).is_dir():
        args.out = None
        cmd_demo(args)
    index = _results(args, "index.parquet")
    index_samples(dataset, raw_paths(config, args.dataset), entry["protocols"], index)
    build_skeletons(
        dataset,
        index,
        _results(args, "skeleton.zarr"),
        _results(args, "samples.parquet"),
        workers=args.workers,
        on_error=config["skeleton"]["on_error"],
        compression_level=config["skeleton"]["compression_level"],
    )


def cmd_train_options(args: argparse.Namespace) -> None:
    from mmnet.config import train_options

    config = load_config(args.config)
    options = train_options(config, args.dataset, args.protocol, args.stream)
    sys.stdout.write(yaml.safe_dump(options, sort_keys=False))


def _train_job(args: argparse.Namespace):
    """The TrainJob the flags describe; paths default to the workflow's results/ paths."""
    from mmnet.config import train_options
    from mmnet.train import TrainJob

    config = load_config(args.config)
    options = train_options(config, args.dataset, args.protocol, args.stream)
    for key in ("attention", "temporal_positions", "legacy_invert"):  # evaluate's switches
        if getattr(args, key, None) is not None:
            options[key] = getattr(args, key)
    run = Path("results") / f"{args.dataset}_{args.protocol}"
    return TrainJob(
        dataset=args.dataset,
        kind=config["datasets"][args.dataset]["kind"],
        protocol=args.protocol,
        stream=args.stream,
        options=options,
        samples=str(args.samples or _results(args, "samples.parquet")),
        skeleton=str(args.skeleton or _results(args, "skeleton.zarr")),
        out_dir=str(args.out_dir or run / args.stream),
        roi=str(args.roi or _results(args, "roi.zarr")) if args.stream == "rgb" else None,
        joint_model=str(args.joint_model or run / "joint" / "model.pt")
        if args.stream == "rgb"
        else None,
    )


def cmd_train(args: argparse.Namespace) -> None:
    import json
    import os

    from mmnet.train import Preempted, TrainJob, train_stream

    if os.environ.get("RANK", "0") != "0":  # a torchrun worker other than rank 0
        logging.getLogger().setLevel(logging.WARNING)
    if args.job:
        job = TrainJob(**json.loads(Path(args.job).read_text()))
    else:
        if not (args.dataset and args.protocol and args.stream):
            raise ValueError("mmnet train needs --dataset, --protocol and --stream (or --job)")
        job = _train_job(args)
    try:
        train_stream(job, gpus=args.gpus, threads=args.threads)
    except Preempted as stop:
        log.warning("%s", stop)
        raise SystemExit(PREEMPTED_EXIT) from None


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mmnet.train import evaluate_stream

    evaluate_stream(_train_job(args), args.weights, threads=args.threads)


#: Exit status of a training stopped by SIGTERM after saving its resume file (EX_TEMPFAIL):
#: non-zero, so that Snakemake / SLURM retry the job, which then resumes.
PREEMPTED_EXIT = 75


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mmnet", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mmnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--log", help="also write the log to this file")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    def with_config(p: argparse.ArgumentParser, dataset: bool = True) -> None:
        p.add_argument(
            "-c",
            "--config",
            nargs="+",
            default=DEFAULT_CONFIG,
            help="config file(s), later ones update earlier ones (default: config/config.yaml)",
        )
        if dataset:
            p.add_argument("-d", "--dataset", required=True, help="dataset name in the config")

    p = command("validate-config", cmd_validate_config, "validate config(s), print the result")
    p.add_argument("config", nargs="+", help="config file(s)")

    p = command("demo", cmd_demo, "write the demo dataset's raw files (NTU formats)")
    with_config(p)
    p.add_argument("--out", help="output folder (default: results/<dataset>/raw)")

    p = command("index", cmd_index, "list raw samples -> index.parquet")
    with_config(p)
    p.add_argument("--out", help="output (default: results/<dataset>/index.parquet)")

    p = command("parse-skeletons", cmd_parse_skeletons, "parse one shard of skeleton files")
    with_config(p)
    p.add_argument("--index", help="index.parquet (default: results/<dataset>/index.parquet)")
    p.add_argument("--shard", default="1-of-1", help="which shard, as I-of-N (default: 1-of-1)")
    p.add_argument("--out-store", required=True, help="shard zarr store to write")
    p.add_argument("--out-table", required=True, help="shard parquet table to write")

    p = command("gather-skeletons", cmd_gather_skeletons, "merge shard stores -> skeleton.zarr")
    p.add_argument("--index", required=True, help="index.parquet")
    p.add_argument("--stores", nargs="+", required=True, help="shard stores")
    p.add_argument("--tables", nargs="+", required=True, help="shard tables")
    p.add_argument("--out-store", required=True, help="skeleton.zarr to write")
    p.add_argument("--out-samples", required=True, help="samples.parquet to write")

    p = command("skeletons", cmd_skeletons, "whole skeleton stage of a dataset, in-process")
    with_config(p)
    p.add_argument("-w", "--workers", type=int, default=1, help="parallel processes")

    def with_stream(p: argparse.ArgumentParser, required: bool = True) -> None:
        with_config(p, dataset=False)
        p.add_argument("-d", "--dataset", required=required, help="dataset name in the config")
        p.add_argument("-p", "--protocol", required=required, help="protocol (xsub, xview...)")
        p.add_argument("-s", "--stream", choices=["joint", "bone", "rgb"], required=required)

    def with_paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--samples", help="default: results/<dataset>/samples.parquet")
        p.add_argument("--skeleton", help="default: results/<dataset>/skeleton.zarr")
        p.add_argument("--roi", help="rgb: default results/<dataset>/roi.zarr")
        p.add_argument(
            "--joint-model", help="rgb: default results/<dataset>_<protocol>/joint/model.pt"
        )
        p.add_argument("--threads", type=int, default=4, help="CPU threads / loader workers")

    p = command("train-options", cmd_train_options, "print a training's resolved options")
    with_stream(p)

    p = command("train", cmd_train, "train one stream of one protocol (model.pt, scores...)")
    with_stream(p, required=False)
    with_paths(p)
    p.add_argument("--out-dir", help="default: results/<dataset>_<protocol>/<stream>")
    p.add_argument(
        "--gpus", type=int, default=1, help="GPUs to use; more than 1 runs torchrun (DDP)"
    )
    p.add_argument("--job", help="a TrainJob as JSON (how torchrun workers are started)")

    p = command(
        "evaluate", cmd_evaluate, "score a protocol's test split with model.pt or released weights"
    )
    with_stream(p)
    with_paths(p)
    p.add_argument("--weights", required=True, help="model.pt, or an original state dict")
    p.add_argument(
        "--out-dir",
        required=True,
        help="where scores.parquet and metrics.json go (not a workflow output folder)",
    )
    p.add_argument("--attention", choices=["per_sample", "original"], help="rgb: attention scaling")
    p.add_argument("--temporal-positions", type=int, help="rgb: k of the top-k temporal mean")
    p.add_argument(
        "--legacy-invert",
        action="store_true",
        default=None,
        help="rgb: colour-inverted tiles, as the original's released weights expect",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO, args.log)
    try:
        args.func(args)
    except (ConfigError, ValueError, FileNotFoundError) as err:
        log.error("%s", err)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
