"""Stage demo_dataset: a demo dataset's raw files (``mmnet demo``), by its kind's generator."""

from __future__ import annotations

from pathlib import Path

from mmnet.config import Config


def demo_dataset(config: Config, dataset: str, out_dir: str | Path) -> None:
    """Write the raw files of demo dataset ``dataset`` into ``out_dir``."""
    from mmnet.demo import generate_raw  # the video writer: only when a demo is generated

    generate_raw(config.dataset(dataset).kind.kind, out_dir, config.demo_options(dataset))
