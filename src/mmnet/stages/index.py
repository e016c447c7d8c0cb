"""Stage index_samples: one row per raw sample, with its ids, label, paths, status and splits."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mmnet.config import Config
from mmnet.datasets.base import Dataset, RawPaths
from mmnet.status import STATUS_OK
from mmnet.store import write_parquet

log = logging.getLogger(__name__)


def index_samples(config: Config, dataset: str, out: str | Path) -> pd.DataFrame:
    """Rule index_samples (``mmnet index``): the index of config entry ``dataset``."""
    entry = config.dataset(dataset)
    return write_index(entry.kind, entry.raw_paths(), list(entry.protocols), out)


def write_index(
    dataset: Dataset, raw: RawPaths, protocols: list[str], out: str | Path
) -> pd.DataFrame:
    """List the raw samples of ``dataset`` and write ``out`` (parquet).

    The table is sorted by sample id, which fixes the row order of every per-sample store.
    One boolean column per protocol is True for training samples.
    """
    table = dataset.list_samples(raw)
    dataset.add_splits(table, protocols, raw)
    counts = table["status"].value_counts().to_dict()
    log.info("%s: %d samples listed %s", dataset.kind, len(table), counts)
    for protocol in protocols:
        usable = table["status"] == STATUS_OK
        log.info(
            "%s: %d train / %d test usable samples",
            protocol,
            int((usable & table[protocol]).sum()),
            int((usable & ~table[protocol]).sum()),
        )
    write_parquet(table, out)
    return table
