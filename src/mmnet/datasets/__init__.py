"""Dataset registry: a config entry's ``kind`` names one of these.

Adding a dataset = one module defining a :class:`~mmnet.datasets.base.Dataset` instance, plus
one line here (see ``docs/datasets.md``).
"""

from __future__ import annotations

from mmnet.datasets.base import Dataset
from mmnet.datasets.demo import DEMO, DEMO_NUCLA, DEMO_PKU
from mmnet.datasets.ntu import NTU60, NTU120
from mmnet.datasets.nucla import NUCLA
from mmnet.datasets.pku import PKU

DATASETS: dict[str, Dataset] = {
    d.kind: d for d in (NTU60, NTU120, PKU, NUCLA, DEMO, DEMO_PKU, DEMO_NUCLA)
}


def get_dataset(kind: str) -> Dataset:
    try:
        return DATASETS[kind]
    except KeyError:
        raise KeyError(f"unknown dataset kind {kind!r}; known: {sorted(DATASETS)}") from None


__all__ = ["DATASETS", "Dataset", "get_dataset"]
