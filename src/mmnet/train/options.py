"""The resolved hyper-parameters of one training, as a typed, immutable object.

Built once from the validated config (:meth:`mmnet.config.Config.train_options`: the
``train`` keys, then the matching ``presets`` and ``overrides``); the schema describes
every field. Nothing downstream looks options up by string or changes them: a variant is
a new object (``dataclasses.replace``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

SELECTIONS = ("best_val", "last", "paper")
ATTENTIONS = ("per_sample", "original")
BACKBONES = ("stgcn", "msg3d")
#: The original's first-stage width of each skeleton network.
ORIGINAL_WIDTH = {"stgcn": 64, "msg3d": 96}
#: The original evaluates (and selects) every 5 epochs (spec §6.2).
PAPER_EVAL_INTERVAL = 5
#: What every output of a ``selection: paper`` training says about its numbers.
PAPER_NOTE = "selected on the test split, as the original; optimistic"


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 80
    base_lr: float = 0.1
    lr_steps: tuple[int, ...] = (10, 50)
    weight_decay: float = 1e-4
    batch_size: int = 64
    test_batch_size: int = 64
    backbone: str = "stgcn"
    forward_batch_size: int | None = None
    num_gcn_scales: int = 13
    num_g3d_scales: int = 6
    dropout: float = 0.5
    base_channels: int | None = None
    frame_stride: int = 1
    random_move: bool = False
    val_fraction: float = 0.05
    eval_interval: int = 1
    selection: str = "best_val"
    seed: int = 0
    amp: bool = True
    deterministic: bool = False
    temporal_positions: int = 15
    attention: str = "per_sample"
    random_interval: bool = True
    random_flip: bool = False
    legacy_invert: bool = False
    pretrained_resnet: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "lr_steps", tuple(int(s) for s in self.lr_steps))
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, not {self.selection!r}")
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, not {self.attention!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone must be one of {BACKBONES}, not {self.backbone!r}")
        if self.forward_batch_size and self.batch_size % self.forward_batch_size:
            raise ValueError(
                f"forward_batch_size {self.forward_batch_size} does not divide "
                f"batch_size {self.batch_size}"
            )

    @property
    def width(self) -> int:
        """The skeleton network's first-stage width (``base_channels``, else the original's)."""
        return self.base_channels or ORIGINAL_WIDTH[self.backbone]

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainOptions:
        """From the config's keys; an unknown key is an error naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training option(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    @property
    def held_out_fraction(self) -> float:
        """Share of the training split held out for validation (none under ``paper``)."""
        return 0.0 if self.selection == "paper" else self.val_fraction

    @property
    def evaluation_interval(self) -> int:
        """Epochs between selection passes (the original's 5 under ``paper``)."""
        return PAPER_EVAL_INTERVAL if self.selection == "paper" else self.eval_interval

    @property
    def selected_on(self) -> str:
        """Which split picks the weights: ``validation``, ``test`` or ``last epoch``."""
        return {"best_val": "validation", "paper": "test", "last": "last epoch"}[self.selection]

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists, not tuples): YAML, JSON, Snakemake params, checkpoints."""
        out = asdict(self)
        out["lr_steps"] = list(self.lr_steps)
        return out
