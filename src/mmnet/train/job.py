"""A training job: which data, which stream, which options, where the outputs go."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mmnet.train.options import TrainOptions

STREAMS = ("joint", "bone", "rgb", "rgb_plain", "teacher")
#: Files a training writes into its folder (docs/training.md).
OUTPUTS = {
    "model": "model.pt",
    "scores": "scores.parquet",
    "metrics": "metrics.json",
    "history": "history.csv",
    "curve": "curve.png",
}
RESUME_FILE = "resume.pt"


@dataclass(frozen=True)
class TrainJob:
    """One training of one stream of one protocol.

    ``roi`` and ``joint_model`` are the rgb stream's: the ROI store and the trained joint
    ST-GCN whose features weight the ROI rows (``rgb_plain``, the RGB-only baseline, reads
    the ROI store only). ``fusion_scores``: the test scores of the
    skeleton streams the rgb stream is fused with, which ``selection: paper`` selects on
    (the best joint+bone+rgb accuracy, as the original's fused processor).
    """

    dataset: str
    kind: str
    protocol: str
    stream: str
    options: TrainOptions
    samples: str
    skeleton: str
    out_dir: str
    roi: str | None = None
    joint_model: str | None = None
    fusion_scores: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "fusion_scores", tuple(str(p) for p in self.fusion_scores))
        if self.stream not in STREAMS:
            raise ValueError(f"stream must be one of {STREAMS}, not {self.stream!r}")
        if self.stream == "rgb" and not self.joint_model:
            raise ValueError("the rgb stream needs the joint stream's model (joint_model)")
        if self.stream in ("rgb", "rgb_plain") and not self.roi:
            raise ValueError(f"the {self.stream} stream needs the ROI store (roi)")

    def output(self, name: str) -> Path:
        return Path(self.out_dir) / OUTPUTS[name]

    @property
    def resume_path(self) -> Path:
        return Path(self.out_dir) / RESUME_FILE

    @property
    def inputs(self) -> list[str]:
        paths = (self.samples, self.skeleton, self.roi, self.joint_model, *self.fusion_scores)
        return [p for p in paths if p]

    def with_options(self, **changes: Any) -> TrainJob:
        return replace(self, options=replace(self.options, **changes))

    def describe(self) -> dict[str, Any]:
        """What the training is, in plain values (its fingerprint, ``job.json``)."""
        return {**asdict(self), "options": self.options.to_dict()}

    def to_json(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.describe(), indent=1))

    @classmethod
    def from_json(cls, path: str | Path) -> TrainJob:
        values = json.loads(Path(path).read_text())
        options = TrainOptions.from_dict(values["options"])
        return cls(
            **{**values, "options": options, "fusion_scores": tuple(values["fusion_scores"])}
        )
