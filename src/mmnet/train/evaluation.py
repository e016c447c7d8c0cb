"""Scoring a test split with existing weights: ``model.pt`` or the authors' released ones."""

from __future__ import annotations

import logging
from pathlib import Path

from mmnet.datasets import get_dataset
from mmnet.models import MMNet, RGBOnly
from mmnet.scores import write_scores
from mmnet.train.checkpoint import load_model
from mmnet.train.distributed import deterministic_algorithms, setup, teardown
from mmnet.train.factories import (
    build_datasets,
    cache_attention,
    frame_stride_of,
    graph_args,
    msg3d_args,
    prepare,
)
from mmnet.train.job import TrainJob
from mmnet.train.loop import predict, topk_accuracy
from mmnet.train.run import write_json

log = logging.getLogger(__name__)


def evaluate_stream(
    job: TrainJob, weights: str | Path, *, threads: int = 1, roi_store=None
) -> dict:
    """Score the test split of ``job`` with ``weights`` and write ``scores.parquet`` and
    ``metrics.json`` into ``job.out_dir``.

    For released weights, ``job.options`` supplies what the file lacks: ``attention``,
    ``temporal_positions`` and ``legacy_invert`` (the original's quirks; spec §4.4, §5.3).
    """
    options, kind = job.options, get_dataset(job.kind)
    released = {
        **msg3d_args(kind, options),
        "graph_args": graph_args(kind),
        "temporal_positions": options.temporal_positions,
        "attention": options.attention,
    }
    model, checkpoint = load_model(weights, released)
    expected = {"rgb": MMNet, "rgb_plain": RGBOnly}.get(job.stream)
    wrong = not isinstance(model, expected) if expected else isinstance(model, (MMNet, RGBOnly))
    if wrong:
        raise ValueError(f"{weights}: a {type(model).__name__}, not a {job.stream}-stream model")
    job = job.with_options(frame_stride=frame_stride_of(checkpoint))
    prepared = prepare(job, roi_store)
    env = setup(threads)
    try:
        model.to(env.device)
        test = build_datasets(prepared)[2]
        with deterministic_algorithms(options.deterministic):
            if isinstance(model, MMNet):
                cache_attention(model, [test], env, job)
            scores = predict(
                model, test, env, batch_size=options.test_batch_size, amp=options.amp,
                desc="test",
            )  # fmt: skip
    finally:
        teardown(env)
    rows, labels = prepared.splits.test, prepared.labels[prepared.splits.test]
    metrics = {
        "dataset": job.dataset,
        "protocol": job.protocol,
        "stream": job.stream,
        "weights": str(weights),
        "model": type(model).__name__,
        "test": {
            "top1": topk_accuracy(scores, labels, 1),
            "top5": topk_accuracy(scores, labels, 5),
            "samples": len(rows),
        },
        "switches": {
            "attention": options.attention,
            "temporal_positions": options.temporal_positions,
            "legacy_invert": options.legacy_invert,
        },
    }
    write_scores(job.output("scores"), prepared.names[rows], labels, scores)
    write_json(job.output("metrics"), metrics)
    log.info(
        "%s: test top-1 %.4f top-5 %.4f", weights, metrics["test"]["top1"], metrics["test"]["top5"]
    )
    return metrics
