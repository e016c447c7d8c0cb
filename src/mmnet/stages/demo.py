"""Stage demo_dataset: the embedded demo dataset's raw files (``mmnet demo``)."""

from __future__ import annotations

from pathlib import Path

from mmnet.config import Config


def demo_dataset(config: Config, dataset: str, out_dir: str | Path) -> None:
    """Write the raw files of demo dataset ``dataset`` into ``out_dir``."""
    from mmnet.demo import generate_demo  # the video writer: only when a demo is generated

    config.dataset(dataset)
    options = config.demo
    generate_demo(
        out_dir,
        seed=options.seed,
        subjects=options.subjects,
        replications=options.replications,
        frames=options.frames,
    )
