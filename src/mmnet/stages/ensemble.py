"""Stage ensemble: the trained streams' test scores -> ``ensemble.json``, ``per_class.csv``,
``confusion.png`` (the fusion itself is :func:`mmnet.ensemble.run_ensemble`)."""

from __future__ import annotations

from pathlib import Path

from mmnet.config import Config
from mmnet.ensemble import run_ensemble

#: What the ensemble writes into ``results/<dataset>_<protocol>/``.
ENSEMBLE_OUTPUTS = ("ensemble.json", "per_class.csv", "confusion.png")


def ensemble(
    config: Config,
    dataset: str,
    protocol: str,
    samples: str | Path,
    run_dir: str | Path,
    out_json: str | Path,
    out_per_class: str | Path,
    out_confusion: str | Path,
) -> dict:
    """Rule ensemble (``mmnet ensemble -d -p``): fuse the streams the config fuses for
    ``dataset``, reading ``<run_dir>/<stream>/scores.parquet`` (``run_dir`` is
    ``results/<dataset>_<protocol>``; the outputs may be written elsewhere)."""
    scores = {
        stream: Path(run_dir) / stream / "scores.parquet"
        for stream in config.fused_streams(dataset)
    }
    return run_ensemble(
        scores,
        out_json,
        out_per_class,
        out_confusion,
        labels=samples,
        dataset=dataset,
        protocol=protocol,
        kind=config.dataset(dataset).kind.kind,
        weights=config.fused_weights(dataset),
        use_softmax=config.ensemble.softmax,
    )
