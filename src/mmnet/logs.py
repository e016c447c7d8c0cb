"""Logging set-up shared by the CLI and the Snakemake scripts."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from tqdm import tqdm

from mmnet.errors import explain

T = TypeVar("T")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, log_file: str | Path | None = None) -> None:
    """Log to stderr and, when given, to ``log_file`` (a Snakemake rule's ``log:``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format=FORMAT, handlers=handlers, force=True)
    logging.captureWarnings(True)
    if log_file is not None:
        previous = sys.excepthook

        def log_then_raise(kind, value, traceback):  # the failure lands in the rule's log too
            logger = logging.getLogger("mmnet")
            logger.error("failed", exc_info=(kind, value, traceback))
            logger.error("%s", explain(value) or f"{kind.__name__}: {value}")  # the last line
            previous(kind, value, traceback)

        sys.excepthook = log_then_raise


def progress(items: Iterable[T] | None = None, **kwargs) -> tqdm:
    """A tqdm bar on stderr; rare updates when stderr is not a terminal (cluster logs)."""
    interactive = sys.stderr.isatty()
    kwargs.setdefault("mininterval", 0.1 if interactive else 30.0)
    kwargs.setdefault("dynamic_ncols", interactive)
    return tqdm(items, file=sys.stderr, **kwargs)
