"""Small real inputs for the training tests: a skeleton store, samples.parquet, a ROI source.

The store and table are written with the package's own writers in the formats of
docs/data.md; the skeletons are class-dependent motions plus noise, so a tiny model learns
them in a few epochs. ``FakeRoiStore`` has the ``mmnet.roi.RoiStore`` interface over seeded
uint8 tiles.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from mmnet.store import create_sample_array, write_parquet

NUM_CLASS = 7  # the demo kind's classes

#: Every option of the `train` config section, with budgets for the tiny dataset.
TINY_OPTIONS = {
    "epochs": 3, "base_lr": 0.05, "lr_steps": [2], "weight_decay": 1e-4, "batch_size": 8,
    "test_batch_size": 16, "dropout": 0.5, "base_channels": 4, "frame_stride": 1,
    "random_move": False, "val_fraction": 0.15, "eval_interval": 1, "selection": "best_val",
    "seed": 3, "amp": True, "temporal_positions": 3, "attention": "per_sample",
    "random_interval": True, "random_flip": False, "legacy_invert": False,
    "pretrained_resnet": None,
}  # fmt: skip


def write_tiny_dataset(
    folder: Path, *, per_class: int = 8, frames: int = 24, persons: int = 2, seed: int = 0
) -> tuple[Path, Path]:
    """``(samples.parquet, skeleton.zarr)`` of ``7 * per_class`` usable samples plus two
    unusable rows; subjects 1-2 train (protocol ``xsub``), subject 3 tests."""
    rng = np.random.default_rng(seed)
    rows = []
    for label in range(NUM_CLASS):
        for i in range(per_class):
            rows.append({"sample": f"S001C001P{1 + i % 3:03d}R{1 + i // 3:03d}A{label + 1:03d}",
                         "label": label, "status": "ok", "reason": ""})  # fmt: skip
    rows.append(
        {"sample": "S001C001P001R009A001", "label": 0, "status": "excluded", "reason": "listed"}
    )
    rows.append(
        {"sample": "S001C001P003R009A002", "label": 1, "status": "rejected", "reason": "bad"}
    )
    table = pd.DataFrame(rows).sort_values("sample", ignore_index=True)
    table["xsub"] = ~table["sample"].str.contains("P003")
    table["label"] = table["label"].astype("int32")
    n = len(table)
    data = np.zeros((n, 3, frames, 25, persons), dtype=np.float32)
    t = np.linspace(0, 2 * np.pi, frames)
    for row, (label, status) in enumerate(zip(table["label"], table["status"], strict=True)):
        if status != "ok":
            continue
        base = rng.normal(0, 0.3, size=(3, 1, 25, 1))
        motion = np.sin((label + 1) * t + rng.uniform(0, 0.5))[None, :, None, None]
        joints = np.zeros(25)
        joints[[3, 7, 11, 14, 18][label % 5]] = 1.0
        data[row, :, :, :, 0] = (base + motion * joints[None, None, :, None] * (label + 1) / 4)[
            ..., 0
        ]
        data[row] += rng.normal(0, 0.02, size=data[row].shape).astype(np.float32)
        if persons > 1 and label != NUM_CLASS - 1:
            data[row, :, :, :, 1] = 0  # single-person classes: the second person is absent
    folder.mkdir(parents=True, exist_ok=True)
    store = folder / "skeleton.zarr"
    array = create_sample_array(store, "joint", data.shape, "float32", samples_per_file=16).open()
    array[:] = data
    samples = folder / "samples.parquet"
    write_parquet(table, samples)
    return samples, store


class FakeRoiStore:
    """The ``RoiStore`` interface over seeded uint8 tiles whose colour depends on the class.

    Records the ``(row, rng given, flip)`` of every ``tile`` call in :attr:`calls`.
    """

    temporal_rgb_frames = 5

    def __init__(self, samples: Path, missing: tuple[int, ...] = (), seed: int = 0) -> None:
        table = pd.read_parquet(samples)
        rng = np.random.default_rng(seed)
        self.tiles = rng.integers(0, 60, size=(len(table), 225, 225, 3), dtype=np.uint8)
        for row, label in enumerate(table["label"]):
            self.tiles[row, 45 * (label % 5) : 45 * (label % 5 + 1), :, label % 3] += 150
        self.available = (table["status"] == "ok").to_numpy().copy()
        self.available[list(missing)] = False
        self.calls: list[tuple[int, bool, bool]] = []

    def tile(self, row: int, rng: np.random.Generator | None = None, flip: bool = False):
        self.calls.append((row, rng is not None, flip))
        tile = self.tiles[row]
        return tile[:, ::-1] if flip else tile


def randomise_batchnorm(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Batch-norm weights and running variances in [0.8, 1.2), biases and running means in
    [-0.2, 0.2): the defaults (1 and 0) would hide mistakes in them. Call under no_grad."""
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            for tensor, low in (
                (module.weight, 0.8),
                (module.running_var, 0.8),
                (module.bias, -0.2),
                (module.running_mean, -0.2),
            ):
                tensor.copy_(torch.rand(tensor.shape, generator=generator) * 0.4 + low)
