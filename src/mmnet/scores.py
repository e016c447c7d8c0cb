"""Score files: ``scores.parquet`` is the contract between training and the ensemble.

Columns: ``sample`` (string id), ``label`` (int32, 0-based), ``score`` (list<float32> of
length num_class: raw logits, as the original saves them). Rows are keyed by ``sample``;
their order carries no meaning.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mmnet.store import atomic_path


def write_scores(
    path: str | Path, samples: list[str] | np.ndarray, labels: np.ndarray, scores: np.ndarray
) -> None:
    """Write ``(N,)`` sample ids, ``(N,)`` labels and ``(N, C)`` scores atomically."""
    scores = np.asarray(scores, dtype=np.float32)
    if scores.ndim != 2 or len(scores) != len(samples) or len(labels) != len(samples):
        raise ValueError("need N sample ids, N labels and an (N, C) score array")
    table = pa.table(
        {
            "sample": pa.array([str(s) for s in samples], type=pa.string()),
            "label": pa.array(np.asarray(labels, dtype=np.int32)),
            "score": pa.FixedSizeListArray.from_arrays(pa.array(scores.ravel()), scores.shape[1]),
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_scores(path: str | Path) -> pd.DataFrame:
    """``DataFrame`` indexed by ``sample`` with ``label`` and an ``(N, C)`` array in
    ``.attrs["scores"]`` (rows in the frame's order)."""
    table = pq.read_table(path)
    missing = {"sample", "label", "score"} - set(table.column_names)
    if missing:
        raise ValueError(f"{path}: not a scores file (missing column(s) {sorted(missing)})")
    score = table.column("score").combine_chunks()
    width = score.type.list_size if pa.types.is_fixed_size_list(score.type) else None
    values = np.asarray(score.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
    frame = pd.DataFrame(
        {"label": table.column("label").to_numpy()},
        index=pd.Index(table.column("sample").to_pylist(), name="sample"),
    )
    frame.attrs["scores"] = values.reshape(len(frame), width or -1)
    return frame
