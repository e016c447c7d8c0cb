"""The ``mmnet`` command: every pipeline stage, runnable without Snakemake.

Each subcommand is one call of the stage function the matching Snakemake rule calls
(:mod:`mmnet.stages`) and, by default, reads and writes the same ``results/<dataset>/...``
paths, relative to the current folder (run it where you would run ``snakemake``).
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from pathlib import Path

# Set before NumPy loads: the data stages' matrices are 3x3, so BLAS worker threads only spin
# (0.1-0.2 s of CPU per process; docs/performance.md). Training uses torch's own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Arrow's default allocator (mimalloc) keeps freed memory: the gather's peak at full NTU60 size
# was 50 MiB higher with it and grew x1.24 from 1/10 of the dataset, x1.14 with the system's
# (bench/scale.py; docs/performance.md). The stages use Arrow for their parquet tables.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
# The imports below create a few hundred thousand objects that live as long as the process;
# the cyclic collector's passes over them while they load are wasted (about 10 % of the
# start-up). It runs again from the end of this module on, and skips them (freeze).
gc.disable()

import yaml  # noqa: E402

from mmnet import __version__  # noqa: E402
from mmnet.config import Config, ConfigError, load_config, raw_root  # noqa: E402
from mmnet.errors import explain  # noqa: E402
from mmnet.logs import setup_logging  # noqa: E402
from mmnet.stages.floors import FloorError  # noqa: E402

gc.freeze()
gc.enable()

log = logging.getLogger("mmnet")

DEFAULT_CONFIG = ["config/config.yaml"]


def _results(args: argparse.Namespace, name: str = "") -> Path:
    """The path the workflow uses for a dataset's output ``name``."""
    return Path("results") / args.dataset / name


def _run_dir(args: argparse.Namespace) -> Path:
    """``results/<dataset>_<protocol>``, a protocol's training and ensemble folder."""
    return Path("results") / f"{args.dataset}_{args.protocol}"


def _config(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def _shard_output(args: argparse.Namespace):
    from mmnet.stages.shards import ShardOutput

    return ShardOutput(args.out_store, args.out_table)


def _shard(args: argparse.Namespace):
    from mmnet.stages.shards import Shard

    return Shard.parse(args.shard)


# --- commands: one call of a stage function each --------------------------------------------


def cmd_validate_config(args: argparse.Namespace) -> None:
    sys.stdout.write(yaml.safe_dump(dict(_config(args).source), sort_keys=False))


def cmd_demo(args: argparse.Namespace) -> None:
    from mmnet.stages.demo import demo_dataset

    demo_dataset(_config(args), args.dataset, args.out or raw_root(args.dataset))


def cmd_index(args: argparse.Namespace) -> None:
    from mmnet.stages.index import index_samples

    index_samples(_config(args), args.dataset, args.out or _results(args, "index.parquet"))


def cmd_parse_skeletons(args: argparse.Namespace) -> None:
    from mmnet.stages.skeleton import parse_skeletons

    parse_skeletons(
        _config(args), args.dataset, _shard(args),
        args.index or _results(args, "index.parquet"), _shard_output(args),
    )  # fmt: skip


def cmd_gather_skeletons(args: argparse.Namespace) -> None:
    from mmnet.stages.skeleton import gather_skeletons

    gather_skeletons(
        _config(args), args.dataset, args.index, args.stores, args.tables, args.out_store,
        args.out_samples,
    )  # fmt: skip


def cmd_skeletons(args: argparse.Namespace) -> None:
    """Whole skeleton stage for one dataset (demo raw files generated when absent)."""
    from mmnet.stages.local import skeletons

    skeletons(_config(args), args.dataset, _results(args), workers=args.workers)


def cmd_extract_frames(args: argparse.Namespace) -> None:
    from mmnet.stages.frames import extract_frames

    extract_frames(
        _config(args), args.dataset, _shard(args),
        args.samples or _results(args, "samples.parquet"),
        args.out or _results(args, f"frames/{args.shard}"),
    )  # fmt: skip


def cmd_extract_pose2d(args: argparse.Namespace) -> None:
    from mmnet.stages.pose2d import extract_pose2d

    extract_pose2d(
        _config(args), args.dataset, _shard(args),
        args.samples or _results(args, "samples.parquet"), _shard_output(args), args.frames,
    )  # fmt: skip


def cmd_gather_pose2d(args: argparse.Namespace) -> None:
    from mmnet.stages.pose2d import gather_pose2d

    gather_pose2d(
        _config(args), args.dataset, args.samples, args.stores, args.tables, args.out_store,
        args.out_table,
    )  # fmt: skip


def cmd_build_roi(args: argparse.Namespace) -> None:
    from mmnet.stages.roi import build_roi

    build_roi(
        _config(args), args.dataset, _shard(args),
        args.samples or _results(args, "samples.parquet"),
        args.pose_store or _results(args, "pose2d.zarr"),
        args.pose_table or _results(args, "pose2d.parquet"),
        _shard_output(args),
    )  # fmt: skip


def cmd_gather_roi(args: argparse.Namespace) -> None:
    from mmnet.stages.roi import gather_roi

    gather_roi(
        _config(args), args.dataset, args.samples, args.stores, args.tables, args.out_store,
        args.out_table,
    )  # fmt: skip


def cmd_rgb(args: argparse.Namespace) -> None:
    """Whole RGB front end of a dataset (frames, 2D pose, ROI) in-process."""
    from mmnet.stages.local import rgb

    rgb(_config(args), args.dataset, _results(args), workers=args.workers)


def cmd_roi_preview(args: argparse.Namespace) -> None:
    from mmnet.stages.roi import roi_preview

    roi_preview(
        _config(args), args.dataset,
        args.store or _results(args, "roi.zarr"),
        args.samples or _results(args, "samples.parquet"),
        args.out or _results(args, "roi_preview.png"),
        n_tiles=args.tiles, seed=args.seed, training=args.training,
    )  # fmt: skip


def cmd_train_options(args: argparse.Namespace) -> None:
    options = _config(args).train_options(args.dataset, args.protocol, args.stream)
    sys.stdout.write(yaml.safe_dump(options.to_dict(), sort_keys=False))


def _training_paths(args: argparse.Namespace, out_dir: str | Path):
    """A training's inputs (by default the workflow's ``results/`` paths) and ``out_dir``."""
    from mmnet.stages.train import TrainPaths

    rgb = args.stream == "rgb"
    roi = args.stream in ("rgb", "rgb_plain")
    teacher = _config(args).rgb_teacher(args.dataset, args.protocol) if rgb else None
    fusion = [_run_dir(args) / s / "scores.parquet" for s in ("joint", "bone")]  # paper only
    return TrainPaths(
        samples=args.samples or _results(args, "samples.parquet"),
        skeleton=args.skeleton or _results(args, "skeleton.zarr"),
        out_dir=out_dir,
        roi=(args.roi or _results(args, "roi.zarr")) if roi else None,
        joint_model=(args.joint_model or _run_dir(args) / teacher / "model.pt") if rgb else None,
        fusion_scores=tuple(fusion) if rgb else (),
    )


def cmd_train(args: argparse.Namespace) -> None:
    from mmnet.stages.train import train
    from mmnet.train.distributed import PREEMPTED_EXIT, Preempted

    try:
        paths = _training_paths(args, args.out_dir or _run_dir(args) / args.stream)
        train(
            _config(args), args.dataset, args.protocol, args.stream, paths, gpus=args.gpus,
            threads=args.threads,
        )  # fmt: skip
    except Preempted as stop:
        log.warning("%s", stop)
        raise SystemExit(PREEMPTED_EXIT) from None


def cmd_evaluate(args: argparse.Namespace) -> None:
    from mmnet.stages.train import evaluate

    evaluate(
        _config(args), args.dataset, args.protocol, args.stream,
        _training_paths(args, args.out_dir), args.weights, threads=args.threads,
        attention=args.attention, temporal_positions=args.temporal_positions,
        legacy_invert=args.legacy_invert,
    )  # fmt: skip


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
    """Fuse score files: a config's results folder (-d/-p), or files given (--scores)."""
    from mmnet.ensemble import run_ensemble
    from mmnet.stages.ensemble import ensemble

    if args.dataset:
        if not args.protocol:
            raise ValueError("-d/--dataset needs -p/--protocol")
        out = Path(args.out or _run_dir(args) / "ensemble.json")
        ensemble(
            _config(args), args.dataset, args.protocol, _results(args, "samples.parquet"),
            _run_dir(args), out,
            args.per_class or out.with_name("per_class.csv"),
            args.confusion or out.with_name("confusion.png"),
        )  # fmt: skip
        return
    scores = _pairs(args.scores, "--scores")
    if not scores:
        raise ValueError("give --scores STREAM=PATH ... (or -d DATASET -p PROTOCOL)")
    try:
        weights = {name: float(w) for name, w in _pairs(args.weights, "--weights").items()}
    except ValueError as error:
        raise ValueError(f"--weights: {error}") from None
    out = Path(args.out or "ensemble.json")
    run_ensemble(
        scores, out, args.per_class or out.with_name("per_class.csv"),
        args.confusion or out.with_name("confusion.png"), labels=args.labels,
        protocol=args.protocol, kind=args.kind, weights=weights, use_softmax=bool(args.softmax),
    )  # fmt: skip


def cmd_export_scores(args: argparse.Namespace) -> None:
    from mmnet.scores import export_score_pickles

    export_score_pickles(args.scores, args.out, args.labels_out)


# --- the parser -------------------------------------------------------------------------------


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

    def with_shard(p: argparse.ArgumentParser, outputs: bool = True) -> None:
        p.add_argument("--shard", default="1-of-1", help="which shard, as I-of-N (default: 1-of-1)")
        if outputs:
            p.add_argument("--out-store", required=True, help="shard zarr store to write")
            p.add_argument("--out-table", required=True, help="shard parquet table to write")

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
    with_shard(p)

    p = command("gather-skeletons", cmd_gather_skeletons, "merge shard stores -> skeleton.zarr")
    with_config(p)
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
        help="reference labels: the original's (names, labels) pickle or samples.parquet (with -p)",
    )
    p.add_argument("--kind", help="dataset kind for class names (with --scores)")
    p.add_argument("--weights", nargs="+", metavar="STREAM=W", help="stream weights (default 1)")
    p.add_argument(
        "--softmax",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="softmax each stream before the weighted sum (with --scores; -d uses the config's)",
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
    with_shard(p, outputs=False)
    p.add_argument("--out", help="output folder (default: results/<dataset>/frames/<shard>)")

    p = command("extract-pose2d", cmd_extract_pose2d, "2D poses of one shard's selected frames")
    with_config(p)
    p.add_argument("--samples", help=samples_help)
    with_shard(p)
    p.add_argument("--frames", help="kept extract-frames output of the shard (openpose binary)")

    for name, func, what in (
        ("gather-pose2d", cmd_gather_pose2d, "pose2d"),
        ("gather-roi", cmd_gather_roi, "roi"),
    ):
        p = command(name, func, f"merge shard stores -> {what}.zarr + {what}.parquet")
        with_config(p)
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
    with_shard(p)

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

    def with_stream(p: argparse.ArgumentParser) -> None:
        with_config(p, dataset=False)
        p.add_argument("-d", "--dataset", required=True, help="dataset name in the config")
        p.add_argument("-p", "--protocol", required=True, help="protocol (xsub, xview...)")
        p.add_argument(
            "-s",
            "--stream",
            choices=["joint", "bone", "rgb", "rgb_plain", "teacher"],
            required=True,
        )

    def with_paths(p: argparse.ArgumentParser) -> None:
        p.add_argument("--samples", help="default: results/<dataset>/samples.parquet")
        p.add_argument("--skeleton", help="default: results/<dataset>/skeleton.zarr")
        p.add_argument("--roi", help="rgb, rgb_plain: default results/<dataset>/roi.zarr")
        p.add_argument(
            "--joint-model",
            help="rgb: the ST-GCN teacher (default results/<dataset>_<protocol>/joint/ or "
            "teacher/model.pt, by the joint stream's backbone)",
        )
        p.add_argument("--threads", type=int, default=4, help="CPU threads / loader workers")

    p = command("train-options", cmd_train_options, "print a training's resolved options")
    with_stream(p)

    p = command("train", cmd_train, "train one stream of one protocol (model.pt, scores...)")
    with_stream(p)
    with_paths(p)
    p.add_argument("--out-dir", help="default: results/<dataset>_<protocol>/<stream>")
    p.add_argument(
        "--gpus", type=int, default=1, help="GPUs to use; more than 1 runs torchrun (DDP)"
    )

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
    """Run a command; an error a person can act on is one line (``-v``: with traceback)."""
    args = build_parser().parse_args(argv)
    setup_logging(logging.DEBUG if args.verbose else logging.INFO, args.log)
    try:
        args.func(args)
    except (ConfigError, ValueError, OSError, FloorError) as err:
        log.error("%s", explain(err) or err, exc_info=args.verbose)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
