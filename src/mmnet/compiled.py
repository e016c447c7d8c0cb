"""The package's optional compiled modules (``setup.py`` builds them with ``pip install``).

Each has a Python twin that gives the same values, slower; a source tree used without
``pip install -e .``, or a machine without a C compiler, runs the twins, with a warning.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType


def optional_module(name: str, without: str) -> ModuleType | None:
    """Import compiled module ``name``; None (and a warning saying ``without``, what runs
    instead) where it is not built."""
    try:
        return importlib.import_module(name)
    except ImportError:
        logging.getLogger(name.rpartition(".")[0]).warning(
            "%s is not built (run `pip install -e .`): %s", name, without
        )
        return None
