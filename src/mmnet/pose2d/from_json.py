"""``import`` backend: existing OpenPose JSON folders (``import`` is a keyword, hence the name).

The authors distribute OpenPose output for all four datasets, one folder per sample and one
``<video stem>_<12-digit frame>_keypoints.json`` per frame (spec §1.4); the dataset
(:meth:`mmnet.datasets.base.Dataset.openpose_json`) says where a frame's file is. Only the
files of the selected frames are read. A missing file means "no data for this frame" (the
ROI falls back to the next frame, as the original does); a malformed one stops the stage
with an error naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmnet.datasets.base import Dataset
from mmnet.pose2d.base import FrameRequest, PoseBackend, parse_openpose_json


class ImportBackend(PoseBackend):
    name = "import"

    def __init__(self, dataset: Dataset, root: str | Path):
        self.dataset = dataset
        self.root = Path(root)

    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for request in requests:
            path = self.dataset.openpose_json(self.root, request.row, request.video_frame)
            out.append(parse_openpose_json(path) if path.is_file() else None)
        return out
