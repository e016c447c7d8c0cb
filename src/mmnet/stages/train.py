"""Stages train_skeleton and train_rgb: one stream of one protocol (``mmnet train``), and
scoring with existing weights (``mmnet evaluate``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mmnet.config import Config
from mmnet.stages.ensemble import ENSEMBLE_OUTPUTS
from mmnet.train.evaluation import evaluate_stream
from mmnet.train.job import OUTPUTS, TrainJob
from mmnet.train.run import train_stream

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainPaths:
    """What a training reads and where its outputs go. The rgb stream's: ``roi``,
    ``joint_model``, and ``fusion_scores``, the skeleton streams' test scores that
    ``selection: paper`` selects the fused accuracy on."""

    samples: str | Path
    skeleton: str | Path
    out_dir: str | Path
    roi: str | Path | None = None
    joint_model: str | Path | None = None
    fusion_scores: tuple[str | Path, ...] = ()


def train_job(
    config: Config, dataset: str, protocol: str, stream: str, paths: TrainPaths
) -> TrainJob:
    """The training of ``(dataset, protocol, stream)`` with the config's options."""
    options = config.train_options(dataset, protocol, stream)
    fusion = paths.fusion_scores if options.selection == "paper" else ()
    return TrainJob(
        dataset=dataset,
        kind=config.dataset(dataset).kind.kind,
        protocol=protocol,
        stream=stream,
        options=options,
        samples=str(paths.samples),
        skeleton=str(paths.skeleton),
        out_dir=str(paths.out_dir),
        roi=str(paths.roi) if paths.roi is not None else None,
        joint_model=str(paths.joint_model) if paths.joint_model is not None else None,
        fusion_scores=tuple(str(p) for p in fusion),
    )


def train(
    config: Config,
    dataset: str,
    protocol: str,
    stream: str,
    paths: TrainPaths,
    *,
    gpus: int = 1,
    threads: int = 1,
) -> dict | None:
    """Rules train_skeleton / train_rgb: train one stream and write its outputs.

    First the results that stand on this training's old outputs are removed (the
    protocol's ensemble; the rgb stream's outputs when this is its teacher), so that a
    rerun that fails leaves nothing downstream that looks up to date: Snakemake does not
    rebuild an existing file whose input went missing.
    """
    job = train_job(config, dataset, protocol, stream, paths)
    teaches_rgb = stream == config.rgb_teacher(dataset, protocol)
    _remove_dependents(Path(paths.out_dir).parent, teaches_rgb)
    return train_stream(job, gpus=gpus, threads=threads)


def _remove_dependents(run_dir: Path, teaches_rgb: bool) -> None:
    stale = [run_dir / name for name in ENSEMBLE_OUTPUTS]
    if teaches_rgb:
        stale += [run_dir / "rgb" / name for name in OUTPUTS.values()]
    for path in stale:
        if path.exists():
            log.info("removing %s: it was made from the outputs this training replaces", path)
            path.unlink()


def evaluate(
    config: Config,
    dataset: str,
    protocol: str,
    stream: str,
    paths: TrainPaths,
    weights: str | Path,
    *,
    threads: int = 1,
    **switches,
) -> dict:
    """``mmnet evaluate``: score the test split with ``weights``; ``switches`` (attention,
    temporal_positions, legacy_invert) override the config's options for released weights."""
    job = train_job(config, dataset, protocol, stream, paths)
    job = job.with_options(**{k: v for k, v in switches.items() if v is not None})
    return evaluate_stream(job, weights, threads=threads)
