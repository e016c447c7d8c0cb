"""Floors: a stage that keeps too few samples fails instead of passing on an empty result.

A gather step counts what its shards kept. Under ``floors.min_kept`` of the samples it was
given (default 50 %), or with a protocol whose training or test split is empty, it stops
with a non-zero status and a summary of the most frequent reasons, before writing its
outputs; the per-sample reasons stay in the shard tables and the stage's log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from mmnet.status import STATUS_OK

log = logging.getLogger(__name__)

#: Statuses listed in a floor's error message, most frequent first, each with an example.
TOP_REASONS = 5


class FloorError(RuntimeError):
    """A stage kept fewer samples than its floor; the message says how many and why."""


def check_kept(
    stage: str, table: pd.DataFrame, status: str, reason: str, kept: Sequence[str],
    min_kept: float,
) -> None:  # fmt: skip
    """Fail when fewer than ``min_kept`` of ``table``'s rows have a ``status`` in ``kept``."""
    given = len(table)
    n_kept = int(table[status].isin(kept).sum())
    share = n_kept / given if given else 0.0
    message = f"{stage}: kept {n_kept} of {given} samples ({share:.0%}; floor {min_kept:.0%})"
    if given and share >= min_kept:
        log.info("%s", message)
        return
    lost = table[~table[status].isin(kept)]
    top = "; ".join(
        f"{n} x {value} (e.g. {lost.loc[lost[status] == value, reason].iloc[0]})"
        for value, n in lost[status].value_counts().head(TOP_REASONS).items()
    )
    raise FloorError(f"{message}. Top reasons: {top or 'none given'} (set floors.min_kept to "
                     "go on with fewer)")  # fmt: skip


def check_protocols(stage: str, samples: pd.DataFrame, protocols: Sequence[str]) -> None:
    """Fail when a protocol's training or test split has no usable sample."""
    usable = samples["status"] == STATUS_OK
    for protocol in protocols:
        train = int((usable & samples[protocol]).sum())
        test = int((usable & ~samples[protocol]).sum())
        if not train or not test:
            raise FloorError(
                f"{stage}: protocol {protocol} has {train} training and {test} test samples; "
                "nothing to train or to test on (check the raw folders and exclusion lists)"
            )
        log.info("%s: protocol %s: %d training, %d test samples", stage, protocol, train, test)
