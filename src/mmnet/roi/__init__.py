"""Five-frame spatio-temporal ROI (spec §4.3): tiles of body-part crops, stored per sample.

- :mod:`mmnet.roi.tile`: crops, layouts, person choice, resize, flip (the algorithm);
- :mod:`mmnet.roi.store`: the store's layout and :class:`RoiStore`, the loaders' view;
- :mod:`mmnet.roi.preview`: a contact sheet PNG of tiles, to check crops by eye.
"""

from __future__ import annotations

from mmnet.roi.store import RoiStore

__all__ = ["RoiStore"]
