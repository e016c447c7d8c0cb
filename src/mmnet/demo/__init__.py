"""Generators of the embedded demo datasets, written in the real datasets' exact raw formats.

Imported only by the ``demo_dataset`` rule and the ``mmnet demo`` command: it brings the
video writer (PyAV), which nothing else at start-up needs. One generator per generated
dataset kind (:attr:`mmnet.datasets.base.Dataset.generated`); :func:`generate_raw` picks it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from mmnet.demo.ntu import DemoSummary, generate_demo
from mmnet.demo.nucla import NuclaDemoSummary, generate_demo_nucla
from mmnet.demo.pku import PkuDemoSummary, generate_demo_pku

#: Dataset kind -> its generator.
GENERATORS: dict[str, Callable[..., object]] = {
    "demo": generate_demo,
    "demo_pku": generate_demo_pku,
    "demo_nucla": generate_demo_nucla,
}


def generate_raw(kind: str, out_dir: str | Path, options: Mapping) -> object:
    """Write the raw files of a generated dataset of ``kind`` under ``out_dir``.

    ``options``: the config section named like the kind (``demo``, ``demo_pku``,
    ``demo_nucla``: seed and sizes), passed as keyword arguments; lists become tuples.
    """
    try:
        generator = GENERATORS[kind]
    except KeyError:
        raise ValueError(
            f"no demo generator for kind {kind!r}; known: {sorted(GENERATORS)}"
        ) from None
    kwargs = {
        key: tuple(value) if isinstance(value, list) else value for key, value in options.items()
    }
    return generator(Path(out_dir), **kwargs)


__all__ = [
    "GENERATORS",
    "DemoSummary",
    "NuclaDemoSummary",
    "PkuDemoSummary",
    "generate_demo",
    "generate_demo_nucla",
    "generate_demo_pku",
    "generate_raw",
]
