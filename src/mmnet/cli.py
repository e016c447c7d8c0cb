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
from mmnet.config import (
    ConfigError,
    dataset_of,
    fused_streams,
    fused_weights,
    load_config,
    raw_paths,
    raw_root,
)
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
    config = load_config(args.config)
    _generate_demo(config, Path(args.out) if args.out else raw_root(args.dataset))


def _generate_demo(config: dict, out: Path) -> None:
    from mmnet.demo import generate_demo

    demo = config["demo"]
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
        _generate_demo(config, raw_root(args.dataset))
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


def _pairs(items: list[str] | None, flag: str) -> dict[str, str]:
    """``["joint=a.pkl", ...]`` -> ``{"joint": "a.pkl", ...}`` (order kept)."""
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not (sep and key and value):
            raise ValueError(f"{flag}: expected STREAM=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def cmd_ensemble(args: argparse.Namespace) -> None:
    """Fuse score files: from a config's results folder (-d/-p) or from files given."""
    from mmnet.ensemble import run_ensemble

    scores: dict[str, str | Path] = dict(_pairs(args.scores, "--scores"))
    try:
        weights = {name: float(w) for name, w in _pairs(args.weights, "--weights").items()}
    except ValueError as error:
        raise ValueError(f"--weights: {error}") from None
    labels, kind, use_softmax, out = args.labels, args.kind, args.softmax, args.out
    if args.dataset:
        if not args.protocol:
            raise ValueError("-d/--dataset needs -p/--protocol")
        config = load_config(args.config)
        settings = config["ensemble"]
        folder = Path("results") / f"{args.dataset}_{args.protocol}"
        streams = fused_streams(config, args.dataset)
        scores = scores or {s: folder / s / "scores.parquet" for s in streams}
        weights = weights or fused_weights(config, args.dataset)
        labels = labels or _results(args, "samples.parquet")
        kind = kind or dataset_of(config, args.dataset).kind
        use_softmax = settings["softmax"] if use_softmax is None else use_softmax
        out = out or folder / "ensemble.json"
    elif not scores:
        raise ValueError("give --scores STREAM=PATH ... (or -d DATASET -p PROTOCOL)")
    out = Path(out or "ensemble.json")
    run_ensemble(
        scores,
        out,
        args.per_class or out.with_name("per_class.csv"),
        args.confusion or out.with_name("confusion.png"),
        labels=labels,
        dataset=args.dataset,
        protocol=args.protocol,
        kind=kind,
        weights=weights,
        use_softmax=bool(use_softmax),
    )


def cmd_export_scores(args: argparse.Namespace) -> None:
    from mmnet.scores import export_score_pickles

    export_score_pickles(args.scores, args.out, args.labels_out)


def cmd_extract_frames(args: argparse.Namespace) -> None:
    from mmnet.frames import FrameConfig, extract_frames
    from mmnet.skeleton.stage import parse_scatteritem

    config = load_config(args.config)
    shard, n_shards = parse_scatteritem(args.shard)
    extract_frames(
        args.samples or _results(args, "samples.parquet"),
        dataset_of(config, args.dataset),
        shard,
        n_shards,
        args.out or _results(args, f"frames/{args.shard}"),
        FrameConfig(**config["frames"]),
    )


def cmd_extract_pose2d(args: argparse.Namespace) -> None:
    from mmnet.frames import FrameConfig
    from mmnet.pose2d.stage import run_pose2d_shard

    config = load_config(args.config)
    run_pose2d_shard(
        args.samples or _results(args, "samples.parquet"),
        dataset_of(config, args.dataset),
        config["datasets"][args.dataset],
        config["pose2d"],
        FrameConfig(**config["frames"]),
        args.shard,
        args.out_store,
        args.out_table,
        frames_dir=args.frames,
    )


def cmd_gather_pose2d(args: argparse.Namespace) -> None:
    from mmnet.pose2d.stage import gather_pose2d

    gather_pose2d(args.samples, args.stores, args.tables, args.out_store, args.out_table)


def cmd_build_roi(args: argparse.Namespace) -> None:
    from mmnet.frames import FrameConfig
    from mmnet.roi.stage import build_roi
    from mmnet.skeleton.stage import parse_scatteritem

    config = load_config(args.config)
    shard, n_shards = parse_scatteritem(args.shard)
    build_roi(
        args.samples or _results(args, "samples.parquet"),
        args.pose_store or _results(args, "pose2d.zarr"),
        args.pose_table or _results(args, "pose2d.parquet"),
        dataset_of(config, args.dataset),
        shard,
        n_shards,
        args.out_store,
        args.out_table,
        FrameConfig(**config["frames"]),
        effort=config["roi"]["webp_effort"],
    )


def cmd_gather_roi(args: argparse.Namespace) -> None:
    from mmnet.roi.stage import gather_roi

    gather_roi(args.samples, args.stores, args.tables, args.out_store, args.out_table)


def cmd_rgb(args: argparse.Namespace) -> None:
    """Whole RGB front end of a dataset (frames, 2D pose, ROI) in-process."""
    from mmnet.roi.stage import build_rgb

    config = load_config(args.config)
    build_rgb(
        dataset_of(config, args.dataset),
        config["datasets"][args.dataset],
        config,
        _results(args, "samples.parquet"),
        _results(args, ""),
        workers=args.workers,
    )


def cmd_roi_preview(args: argparse.Namespace) -> None:
    from mmnet.roi.preview import write_preview

    config = load_config(args.config)
    write_preview(
        args.store or _results(args, "roi.zarr"),
        args.samples or _results(args, "samples.parquet"),
        args.out or _results(args, "roi_preview.png"),
        n_tiles=args.tiles or config["roi"]["preview_tiles"],
        class_names=dataset_of(config, args.dataset).class_names,
        seed=args.seed,
        training=args.training,
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

    p = command(
        "ensemble",
        cmd_ensemble,
        "fuse the streams' scores -> ensemble.json, per_class.csv, confusion.png",
    )
    with_config(p, dataset=False)
    p.add_argument(
        "-d",
        "--dataset",
        help="dataset name in the config: read results/<dataset>_<protocol>/<stream>/"
        "scores.parquet of the configured streams and results/<dataset>/samples.parquet",
    )
    p.add_argument("-p", "--protocol", help="protocol whose test split is fused (with -d)")
    p.add_argument(
        "--scores",
        nargs="+",
        metavar="STREAM=PATH",
        help="score files in report order: scores.parquet or the original's pickles",
    )
    p.add_argument(
        "--labels",
        help="reference labels: the original's (names, labels) pickle or samples.parquet "
        "(with -p); default with -d: results/<dataset>/samples.parquet",
    )
    p.add_argument("--kind", help="dataset kind for class names (default with -d: the config's)")
    p.add_argument("--weights", nargs="+", metavar="STREAM=W", help="stream weights (default 1)")
    p.add_argument(
        "--softmax",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="softmax each stream before the weighted sum (default: the config's, else off)",
    )
    p.add_argument("--out", help="ensemble.json (default: results/<dataset>_<protocol>/ or .)")
    p.add_argument("--per-class", help="per-class table (default: per_class.csv beside --out)")
    p.add_argument("--confusion", help="confusion matrix PNG (default: beside --out)")

    p = command(
        "export-scores",
        cmd_export_scores,
        "scores.parquet -> the original's score pickle (and label pickle)",
    )
    p.add_argument("scores", help="scores.parquet")
    p.add_argument(
        "--out", required=True, help="score pickle to write (dict id.skeleton -> vector)"
    )
    p.add_argument("--labels-out", help="also write the (names, labels) pickle")

    samples_help = "samples.parquet (default: results/<dataset>/samples.parquet)"
    p = command("extract-frames", cmd_extract_frames, "decode one shard's selected frames")
    with_config(p)
    p.add_argument("--samples", help=samples_help)
    p.add_argument("--shard", default="1-of-1", help="which shard, as I-of-N (default: 1-of-1)")
    p.add_argument("--out", help="output folder (default: results/<dataset>/frames/<shard>)")

    p = command("extract-pose2d", cmd_extract_pose2d, "2D poses of one shard's selected frames")
    with_config(p)
    p.add_argument("--samples", help=samples_help)
    p.add_argument("--shard", default="1-of-1", help="which shard, as I-of-N (default: 1-of-1)")
    p.add_argument("--frames", help="kept extract-frames output of the shard (openpose binary)")
    p.add_argument("--out-store", required=True, help="shard zarr store to write")
    p.add_argument("--out-table", required=True, help="shard parquet table to write")

    for name, func, what in (
        ("gather-pose2d", cmd_gather_pose2d, "pose2d"),
        ("gather-roi", cmd_gather_roi, "roi"),
    ):
        p = command(name, func, f"merge shard stores -> {what}.zarr + {what}.parquet")
        p.add_argument("--samples", required=True, help="samples.parquet")
        p.add_argument("--stores", nargs="+", required=True, help="shard stores")
        p.add_argument("--tables", nargs="+", required=True, help="shard tables")
        p.add_argument("--out-store", required=True, help=f"{what}.zarr to write")
        p.add_argument("--out-table", required=True, help=f"{what}.parquet to write")

    p = command("build-roi", cmd_build_roi, "five-frame ROI columns of one shard")
    with_config(p)
    p.add_argument("--samples", help=samples_help)
    p.add_argument("--pose-store", help="pose2d.zarr (default: results/<dataset>/pose2d.zarr)")
    p.add_argument("--pose-table", help="pose2d.parquet (default: results/<dataset>/...)")
    p.add_argument("--shard", default="1-of-1", help="which shard, as I-of-N (default: 1-of-1)")
    p.add_argument("--out-store", required=True, help="shard zarr store to write")
    p.add_argument("--out-table", required=True, help="shard parquet table to write")

    p = command("rgb", cmd_rgb, "whole RGB front end (frames, 2D pose, ROI), in-process")
    with_config(p)
    p.add_argument("-w", "--workers", type=int, default=1, help="parallel processes")

    p = command("roi", None, "ROI store tools")
    roi = p.add_subparsers(dest="roi_command", required=True, metavar="ROI_COMMAND")
    help_ = "PNG contact sheet of ROI tiles with sample names and labels"
    p = roi.add_parser("preview", help=help_, description=help_)
    p.set_defaults(func=cmd_roi_preview)
    with_config(p)
    p.add_argument("--store", help="roi.zarr (default: results/<dataset>/roi.zarr)")
    p.add_argument("--samples", help=samples_help)
    p.add_argument("--out", help="PNG to write (default: results/<dataset>/roi_preview.png)")
    p.add_argument("-n", "--tiles", type=int, help="number of tiles (default: roi.preview_tiles)")
    p.add_argument("--seed", type=int, default=0, help="which samples (and draws)")
    p.add_argument("--training", action="store_true", help="random training draws, not eval")

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
