"""Shared fixtures: the real sample files (skipped when absent) and the repository root."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REALDATA = Path(os.environ.get("MMNET_REALDATA", REPO.parent / "shared" / "realdata"))

sys.path.insert(0, str(Path(__file__).parent))  # reference_original, the independent oracle


def realdata(*parts: str) -> Path:
    """Path under ../shared/realdata; skips the test when it is absent."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not available: {path}")
    return path


@pytest.fixture
def ntu60_skeletons() -> list[Path]:
    return sorted(realdata("ntu60", "skeletons").glob("*.skeleton"))
