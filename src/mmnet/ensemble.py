"""Score fusion of the trained streams, and its report: ``ensemble.json``, ``per_class.csv``,
``confusion.png``.

What the original does (spec §7) and what we change (spec §9 items 29-30):

- Fusion is a weighted sum of each stream's score vectors, then argmax. The default weights
  are 1 and the default scores raw logits, which is exactly the original's sum; its
  ``--alpha`` was never used, ours are per stream; ``softmax: true`` sums probabilities
  instead, as the paper's figure shows.
- Scores are joined by **sample name**, never by position (the original pairs pickles by
  position, and users got 4.8 % accuracy when the orders differed). A stream that misses a
  sample, or has one too many, is an error that lists the names on each side.
- Reported: top-1, top-5 and mean class accuracy of every single stream and of every
  combination of two or more streams (this includes the original's joint+rgb, joint+bone and
  joint+bone+rgb), a per-class table with class names, and the confusion matrix of the
  fusion of all streams.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mmnet.datasets import get_dataset
from mmnet.scores import PICKLE_SUFFIXES, load_scores, read_label_pickle
from mmnet.status import STATUS_OK
from mmnet.store import atomic_path, sha256_of
from mmnet.train.options import PAPER_NOTE

log = logging.getLogger(__name__)

TOP_K = 5
#: Row count above which the error message stops listing sample names.
MAX_LISTED = 20


@dataclass(frozen=True)
class Aligned:
    """Streams joined on sample name: row i of every score array is ``samples[i]``."""

    samples: list[str]
    labels: np.ndarray  # (N,) int
    scores: dict[str, np.ndarray]  # stream -> (N, C) float32


def read_test_labels(samples_path: str | Path, protocol: str) -> pd.Series:
    """Labels of the test split of ``protocol`` in ``samples.parquet`` (rows that parsed
    fine and are not training rows): the set of samples every stream must have scored."""
    table = pd.read_parquet(samples_path)
    if protocol not in table.columns:
        raise ValueError(
            f"{samples_path}: no column for protocol {protocol!r} "
            "(the protocols of a dataset are boolean columns, True = train)"
        )
    test = table[(table["status"] == STATUS_OK) & ~table[protocol].astype(bool)]
    return pd.Series(
        test["label"].to_numpy(np.int32),
        index=pd.Index(test["sample"].astype(str).tolist(), name="sample"),
        name="label",
    )


def read_labels(path: str | Path, protocol: str | None = None) -> pd.Series:
    """Reference labels: an original ``(names, labels)`` pickle, or ``samples.parquet``
    (whose test split of ``protocol`` is used)."""
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        return read_label_pickle(path)
    if protocol is None:
        raise ValueError(f"{path}: a samples table needs the protocol whose test split to use")
    return read_test_labels(path, protocol)


def align(
    streams: Mapping[str, pd.DataFrame],
    sources: Mapping[str, str | Path],
    labels: pd.Series | None = None,
    labels_source: str | Path | None = None,
) -> Aligned:
    """Join the streams' scores on sample name against the reference labels.

    The reference is ``labels`` when given, else the first stream's own ``label`` column.
    Raises ``ValueError`` listing, per stream, the samples missing from it and the samples
    it has that the reference lacks; and for any label that disagrees with the reference.
    """
    names = list(streams)
    if labels is None:
        with_labels = [name for name in names if "label" in streams[name].columns]
        if not with_labels:
            raise ValueError(
                "no labels: the score files are pickles, give the label pickle "
                "((names, labels), e.g. val_label.pkl) or samples.parquet"
            )
        reference_name = f"stream {with_labels[0]!r} ({sources[with_labels[0]]})"
        labels = streams[with_labels[0]]["label"]
    else:
        reference_name = f"the labels ({labels_source})"
    reference = pd.Index(labels.index)
    problems = []
    for name in names:
        index = streams[name].index
        missing = reference.difference(index)
        extra = index.difference(reference)
        if len(missing) or len(extra):
            problems.append(
                f"  stream {name!r} ({sources[name]}): "
                + "; ".join(
                    part
                    for part in (
                        _listing(missing, "missing (in the reference, not in this file)"),
                        _listing(extra, "extra (in this file, not in the reference)"),
                    )
                    if part
                )
            )
    if problems:
        raise ValueError(
            "the score files do not cover the samples of the reference, "
            f"{reference_name} (fusion is by sample name):\n" + "\n".join(problems)
        )
    samples = sorted(reference)
    label_values = labels.loc[samples].to_numpy(np.int64)
    scores = {}
    widths = {}
    for name in names:
        frame = streams[name]
        order = frame.index.get_indexer(samples)
        scores[name] = frame.attrs["scores"][order]
        widths[name] = scores[name].shape[1]
        if "label" in frame.columns:
            theirs = frame["label"].to_numpy(np.int64)[order]
            wrong = np.flatnonzero(theirs != label_values)
            if len(wrong):
                shown = ", ".join(
                    f"{samples[i]}: {theirs[i]} vs {label_values[i]}" for i in wrong[:MAX_LISTED]
                )
                raise ValueError(
                    f"stream {name!r} ({sources[name]}): {len(wrong)} label(s) differ from "
                    f"{reference_name}: {shown}"
                )
        bad = ~np.isfinite(scores[name]).all(axis=1)
        if bad.any():
            raise ValueError(
                f"stream {name!r} ({sources[name]}): non-finite scores for "
                + _listing(pd.Index(samples)[bad], "sample(s)")
            )
    if len(set(widths.values())) != 1:
        raise ValueError(f"the streams have different numbers of classes: {widths}")
    return Aligned(samples=samples, labels=label_values, scores=scores)


def _listing(names: pd.Index, what: str) -> str:
    if not len(names):
        return ""
    shown = ", ".join(sorted(names)[:MAX_LISTED])
    more = f" and {len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return f"{len(names)} {what}: {shown}{more}"


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fuse(
    scores: Mapping[str, np.ndarray],
    streams: Sequence[str],
    weights: Mapping[str, float],
    use_softmax: bool,
) -> np.ndarray:
    """``sum_s weights[s] * f(scores[s])`` over ``streams``; ``f`` is softmax or identity."""
    total = np.zeros(scores[streams[0]].shape, dtype=np.float64)
    for name in streams:
        values = scores[name].astype(np.float64)
        total += weights[name] * (softmax(values) if use_softmax else values)
    return total


def label_ranks(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """0-based rank of the true class in each row; ties go to the lower class index, as
    ``argmax`` does, so rank 0 <=> argmax is right."""
    true = scores[np.arange(len(labels)), labels][:, None]
    classes = np.arange(scores.shape[1])
    return (scores > true).sum(axis=1) + ((scores == true) & (classes < labels[:, None])).sum(
        axis=1
    )


def class_accuracy(predictions: np.ndarray, labels: np.ndarray, num_class: int) -> np.ndarray:
    """Top-1 accuracy per class (NaN for a class without test samples)."""
    counts = np.bincount(labels, minlength=num_class)
    hits = np.bincount(labels[predictions == labels], minlength=num_class)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def metrics(scores: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """``top1``, ``top5`` (top-k with k = min(5, classes)) and ``mean_class_accuracy``
    (mean over the classes present in the test set), as fractions."""
    ranks = label_ranks(scores, labels)
    per_class = class_accuracy(scores.argmax(axis=1), labels, scores.shape[1])
    return {
        "top1": float(np.mean(ranks < 1)),
        "top5": float(np.mean(ranks < min(TOP_K, scores.shape[1]))),
        "mean_class_accuracy": float(np.nanmean(per_class)),
    }


def combinations_of(streams: Sequence[str]) -> list[tuple[str, ...]]:
    """Every combination of two or more streams, members in the given order, smaller first
    (joint, bone, rgb -> joint+bone, joint+rgb, bone+rgb, joint+bone+rgb)."""
    return [c for r in range(2, len(streams) + 1) for c in itertools.combinations(streams, r)]


def summary(report: dict) -> str:
    """``ensemble.json`` as a small text table: top-1 and top-5 of every stream and fusion."""
    rows = {**report["streams"], **report["combinations"]}
    width = max(len(name) for name in rows)
    lines = [
        f"{report.get('dataset') or ''} {report.get('protocol') or ''}: "
        f"{report['n_samples']} test samples; {report.get('method', '')}".strip(),
        f"  {'streams'.ljust(width)}   top-1   top-5",
        *(f"  {name.ljust(width)}  {m['top1']:6.1%}  {m['top5']:6.1%}" for name, m in rows.items()),
    ]
    if report.get("note"):
        lines.append(f"  ({report['note']})")
    return "\n".join(lines)


#: Display names of the models a stream's ``metrics.json`` names.
MODEL_NAMES = {"msg3d": "MS-G3D", "stgcn": "ST-GCN", "mmnet": "MMNet"}
PAPER_METHOD = "MMNet as reported (MS-G3D J+B + R)"


def method_of(trainings: Mapping[str, dict | None]) -> str:
    """What was fused: the paper's method only when its joint and bone streams are MS-G3D
    and its rgb stream MMNet's, else the backbone of each stream."""
    models = {stream: (found or {}).get("model") for stream, found in trainings.items()}
    if set(models) == {"joint", "bone", "rgb"} and (
        models["joint"],
        models["bone"],
        models["rgb"],
    ) == ("msg3d", "msg3d", "mmnet"):
        return PAPER_METHOD  # fmt: skip
    return " + ".join(
        f"{MODEL_NAMES.get(model, model or 'unknown')} {stream}" for stream, model in models.items()
    )


def training_of(scores: str | Path) -> dict | None:
    """What made a stream's scores, from the ``metrics.json`` beside its ``scores.parquet``
    (model, selection, the split it was selected on); None for other score files."""
    metrics = Path(scores).with_name("metrics.json")
    if Path(scores).suffix != ".parquet" or not metrics.is_file():
        return None
    found = json.loads(metrics.read_text())
    keys = ("model", "selection", "selected_on", "selected_epoch", "note")
    return {key: found[key] for key in keys if key in found}


def file_entry(path: str | Path) -> dict[str, str]:
    return {"path": str(path), "sha256": sha256_of(path)}


def run_ensemble(
    scores: Mapping[str, str | Path],
    out_json: str | Path,
    out_per_class: str | Path,
    out_confusion: str | Path,
    *,
    labels: str | Path | None = None,
    dataset: str | None = None,
    protocol: str | None = None,
    kind: str | None = None,
    weights: Mapping[str, float] | None = None,
    use_softmax: bool = False,
) -> dict:
    """Fuse the score files ``scores`` (stream -> path, in report order) and write the report.

    ``labels``: an original label pickle, or ``samples.parquet`` (then ``protocol`` picks the
    test split); without it the streams' own labels are the reference. ``kind`` gives the
    class names (``class <i>`` without it). ``weights``: per stream, default 1.
    Returns the content of ``ensemble.json``.
    """
    streams = list(scores)
    if not streams:
        raise ValueError("no score files to fuse")
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(streams))
    if unknown:
        raise ValueError(f"weights given for stream(s) {unknown} that are not fused ({streams})")
    resolved = {name: float(weights.get(name, 1.0)) for name in streams}
    frames = {name: load_scores(path) for name, path in scores.items()}
    reference = read_labels(labels, protocol) if labels is not None else None
    aligned = align(frames, scores, reference, labels)
    num_class = aligned.scores[streams[0]].shape[1]
    class_names = _class_names(kind, num_class)
    if aligned.labels.min() < 0 or aligned.labels.max() >= num_class:
        raise ValueError(f"labels outside 0..{num_class - 1} (the scores have {num_class} classes)")

    results: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {}
    per_class = pd.DataFrame(
        {
            "label": np.arange(num_class),
            "class": list(class_names),
            "n_samples": np.bincount(aligned.labels, minlength=num_class),
        }
    )
    for members in [(name,) for name in streams] + combinations_of(streams):
        key = "+".join(members)
        fused = fuse(aligned.scores, members, resolved, use_softmax)
        results[key] = metrics(fused, aligned.labels)
        predictions[key] = fused.argmax(axis=1)
        per_class[key] = class_accuracy(predictions[key], aligned.labels, num_class)
        log.info(
            "%-16s top-1 %.4f  top-5 %.4f  mean class %.4f",
            key,
            results[key]["top1"],
            results[key]["top5"],
            results[key]["mean_class_accuracy"],
        )

    report = {
        "dataset": dataset,
        "protocol": protocol,
        "n_samples": len(aligned.samples),
        "streams": {name: results[name] for name in streams},
        "combinations": {"+".join(c): results["+".join(c)] for c in combinations_of(streams)},
        "weights": resolved,
        "trainings": {name: training_of(path) for name, path in scores.items()},
        "inputs": {
            "scores": {name: file_entry(path) for name, path in scores.items()},
            "labels": file_entry(labels) if labels is not None else None,
        },
        "config": {
            "kind": kind,
            "streams": streams,
            "weights": weights,
            "softmax": use_softmax,
        },
    }
    report["method"] = method_of(report["trainings"])
    if any((t or {}).get("selected_on") == "test" for t in report["trainings"].values()):
        report["note"] = PAPER_NOTE
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    with atomic_path(out_per_class) as tmp:
        per_class.to_csv(tmp, index=False, float_format="%.6f")
    everything = "+".join(streams)
    title = (
        f"{dataset or ''} {protocol or ''} {everything}: top-1 "
        f"{results[everything]['top1']:.2%}, {len(aligned.samples)} test samples"
    ).strip()
    plot_confusion(
        confusion_matrix(predictions[everything], aligned.labels, num_class),
        class_names,
        title,
        out_confusion,
    )
    return report


def _class_names(kind: str | None, num_class: int) -> tuple[str, ...]:
    if kind is None:
        return tuple(f"class {i}" for i in range(num_class))
    try:
        names = get_dataset(kind).class_names
    except KeyError as error:
        raise ValueError(error.args[0]) from None
    if len(names) != num_class:
        raise ValueError(
            f"the scores have {num_class} classes but dataset kind {kind!r} has {len(names)}"
        )
    return names


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, num_class: int) -> np.ndarray:
    """``(C, C)`` counts: row = true class, column = predicted class."""
    return np.bincount(labels * num_class + predictions, minlength=num_class**2).reshape(
        num_class, num_class
    )


def plot_confusion(
    confusion: np.ndarray, class_names: Sequence[str], title: str, out: str | Path
) -> None:
    """Row-normalised confusion matrix as a PNG; class names on the axes up to 60 classes,
    the values in the cells up to 15."""
    num_class = len(class_names)
    rows = confusion.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalised = np.where(rows > 0, confusion / np.maximum(rows, 1), 0.0)
    side = float(np.clip(0.22 * num_class + 3.5, 6, 26))
    figure = Figure(figsize=(side, side), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    image = axes.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, shrink=0.7, label="fraction of the true class")
    if num_class <= 60:
        ticks = np.arange(num_class)
        labels = [f"{i} {name}" for i, name in enumerate(class_names)]
        axes.set_xticks(ticks, labels, rotation=90, fontsize=7)
        axes.set_yticks(ticks, labels, fontsize=7)
    if num_class <= 15:
        for (row, column), value in np.ndenumerate(normalised):
            if confusion[row, column]:
                axes.text(
                    column,
                    row,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.5 else "black",
                )
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title, fontsize=10)
    with atomic_path(out) as tmp:
        figure.savefig(tmp, format="png", dpi=100)
