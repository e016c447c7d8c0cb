"""Generators of the embedded demo datasets, written in the real datasets' exact raw formats.

Imported only by the ``demo_dataset`` rule and the ``mmnet demo`` command: it brings the
video writer (PyAV), which nothing else at start-up needs.
"""

from __future__ import annotations

from mmnet.demo.ntu import DemoSummary, generate_demo

__all__ = ["DemoSummary", "generate_demo"]
