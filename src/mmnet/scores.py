"""Score files: ``scores.parquet`` is the contract between training and the ensemble.

Columns: ``sample`` (string id), ``label`` (int32, 0-based), ``score`` (list<float32> of
length num_class: raw logits, as the original saves them). Rows are keyed by ``sample``;
their order carries no meaning.

The original project's pickles are read and written too, so that released results and
other frameworks' outputs plug into the ensemble (spec §2.1, §7): a score pickle is a dict
sample name -> float32 score vector, a label pickle a ``(names, labels)`` tuple. Their
names may carry the ``.skeleton`` suffix or, for NTU120, a full path; :func:`sample_id`
reduces them to the dataset's id. Loading never runs code from the file: the unpickler
resolves only the globals NumPy itself needs to rebuild arrays (see ``_ALLOWED_GLOBALS``).
"""

from __future__ import annotations

import importlib
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mmnet.store import atomic_path

#: Suffixes read as the original's pickles (anything else must be ``.parquet``).
PICKLE_SUFFIXES = (".pkl", ".pickle")
#: The original stores sample names with this suffix (spec §2.1); we write it back the same way.
ORIGINAL_NAME_SUFFIX = ".skeleton"

#: The only globals a score or label pickle may reference: what NumPy's own pickling of
#: arrays, dtypes and scalars emits (NumPy 1.x modules are ``numpy.core``, 2.x
#: ``numpy._core``), and ``_codecs.encode``, which protocol-2 pickles use to carry an
#: array's bytes. Everything else (``os.system``, ``builtins.eval``...) is refused.
_ALLOWED_GLOBALS = frozenset(
    {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }
)


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


def sample_id(name: str) -> str:
    """The dataset's id of a sample name as the original stores it: no folder, no
    ``.skeleton`` suffix (``/data/nturgb+d_skeletons/S001C001P001R001A001.skeleton`` ->
    ``S001C001P001R001A001``)."""
    return name.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(ORIGINAL_NAME_SUFFIX)


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle references something other than NumPy's array machinery; nothing ran."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild NumPy arrays and plain containers, and nothing else."""

    def __init__(self, file, path: Path):
        super().__init__(file)
        self._path = path

    def find_class(self, module: str, name: str):
        canonical = module.replace("numpy.core.", "numpy._core.", 1)
        if (canonical, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self._path}: refusing to load global {module}.{name}: score and label "
                "pickles may only hold NumPy arrays, numbers, strings, lists, tuples and dicts"
            )
        return getattr(importlib.import_module(canonical), name)


def load_pickle(path: str | Path) -> object:
    """Unpickle ``path`` with the restricted unpickler (NumPy arrays and plain data only)."""
    path = Path(path)
    with path.open("rb") as file:
        try:
            return _NumpyOnlyUnpickler(file, path).load()
        except UnsafePickleError:
            raise
        except Exception as error:  # truncated or not a pickle at all
            raise ValueError(f"{path}: not a readable pickle ({error})") from None


def read_score_pickle(path: str | Path) -> pd.DataFrame:
    """An original-style score pickle as the frame :func:`read_scores` returns, without
    the ``label`` column (the labels are in a separate pickle)."""
    content = load_pickle(path)
    if not isinstance(content, dict) or not content:
        raise ValueError(
            f"{path}: a score pickle must be a non-empty dict sample name -> score vector, "
            f"got {type(content).__name__}"
        )
    names = [_checked_name(path, key) for key in content]
    vectors = []
    for key, value in content.items():
        vector = np.asarray(value)
        if vector.ndim != 1 or not np.issubdtype(vector.dtype, np.number):
            raise ValueError(
                f"{path}: score of {key!r} must be a 1-D numeric vector, "
                f"got shape {vector.shape} dtype {vector.dtype}"
            )
        vectors.append(vector)
    widths = {len(v) for v in vectors}
    if len(widths) != 1:
        raise ValueError(f"{path}: score vectors have different lengths {sorted(widths)}")
    frame = pd.DataFrame(index=pd.Index(_unique_ids(path, names), name="sample"))
    frame.attrs["scores"] = np.stack(vectors).astype(np.float32)
    return frame


def read_label_pickle(path: str | Path) -> pd.Series:
    """An original-style ``(names, labels)`` pickle as a ``label`` Series indexed by id."""
    content = load_pickle(path)
    if not (isinstance(content, tuple | list) and len(content) == 2):
        raise ValueError(
            f"{path}: a label pickle must be a (sample names, labels) pair, "
            f"got {type(content).__name__}"
            + (f" of length {len(content)}" if isinstance(content, tuple | list) else "")
        )
    names, labels = (list(part) for part in content)
    if len(names) != len(labels):
        raise ValueError(f"{path}: {len(names)} sample names but {len(labels)} labels")
    ids = _unique_ids(path, [_checked_name(path, name) for name in names])
    values = np.asarray(labels)
    if values.ndim != 1 or not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{path}: labels must be integers, got dtype {values.dtype}")
    return pd.Series(values.astype(np.int32), index=pd.Index(ids, name="sample"), name="label")


def load_scores(path: str | Path) -> pd.DataFrame:
    """Any score file: ``scores.parquet`` (:func:`read_scores`) or an original-style pickle
    (:func:`read_score_pickle`, no ``label`` column)."""
    path = Path(path)
    if path.suffix in PICKLE_SUFFIXES:
        return read_score_pickle(path)
    if path.suffix == ".parquet":
        frame = read_scores(path)
        _unique_ids(path, list(frame.index))
        return frame
    raise ValueError(
        f"{path}: unknown score file type {path.suffix!r} "
        f"(expected .parquet or one of {list(PICKLE_SUFFIXES)})"
    )


def write_score_pickle(path: str | Path, samples: Sequence[str], scores: np.ndarray) -> None:
    """Write scores as the original does: dict ``<id>.skeleton`` -> float32 vector, in the
    given order (the original's ensemble scripts pair them by position with the labels)."""
    scores = np.asarray(scores, dtype=np.float32)
    content = {f"{s}{ORIGINAL_NAME_SUFFIX}": row for s, row in zip(samples, scores, strict=True)}
    _write_pickle(path, content)


def write_label_pickle(path: str | Path, samples: Sequence[str], labels: Sequence[int]) -> None:
    """Write the original's label pickle: ``([<id>.skeleton, ...], [label, ...])``."""
    names = [f"{s}{ORIGINAL_NAME_SUFFIX}" for s in samples]
    _write_pickle(path, (names, [int(label) for label in labels]))


def _write_pickle(path: str | Path, content: object) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as file:
        pickle.dump(content, file, protocol=4)


def _checked_name(path: str | Path, name: object) -> str:
    if not isinstance(name, str):
        raise ValueError(f"{path}: sample names must be strings, got {name!r}")
    return sample_id(name)


def _unique_ids(path: str | Path, ids: list[str]) -> list[str]:
    duplicated = sorted(pd.Index(ids)[pd.Index(ids).duplicated()].unique())
    if duplicated:
        raise ValueError(
            f"{path}: {len(duplicated)} sample id(s) appear more than once "
            f"(after removing folders and '{ORIGINAL_NAME_SUFFIX}'): {duplicated[:10]}"
        )
    return ids


def export_score_pickles(
    scores: str | Path, out: str | Path, labels_out: str | Path | None = None
) -> None:
    """``scores.parquet`` -> the original's score pickle (and its label pickle), rows
    sorted by sample so both files pair by position as the original's scripts expect."""
    frame = read_scores(scores)
    order = np.argsort(frame.index.to_numpy(str), kind="stable")
    samples = frame.index.to_numpy(str)[order]
    write_score_pickle(out, samples, frame.attrs["scores"][order])
    if labels_out is not None:
        write_label_pickle(labels_out, samples, frame["label"].to_numpy()[order])
