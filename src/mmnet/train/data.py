"""Torch datasets over ``samples.parquet`` + ``skeleton.zarr`` (+ the ROI store), and samplers.

Rows: ``samples.parquet`` row r is row r of every per-sample store. A protocol column
marks training rows (True) and test rows (False); only ``status == "ok"`` rows are used.
The validation split is carved from the training rows (:func:`carve_validation`).

Randomness never comes from a worker's generator: every augmentation draws from a NumPy
generator seeded with ``(seed, epoch, row, purpose)``, and the samplers hand each item its
epoch together with its position. So a run gives the same batches whatever the number of
DataLoader workers or DDP processes, and a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import zarr
from torch.utils.data import Dataset, Sampler

from mmnet.models.resnet import normalize_rgb
from mmnet.roi.tile import tile_shape
from mmnet.skeleton.layouts import Layout, joint_to_bone
from mmnet.status import STATUS_OK
from mmnet.store import SampleReader

log = logging.getLogger(__name__)

JOINT_ARRAY = "joint"
# Seed-stream tags: one generator per purpose.
_MOVE, _TILE, _FLIP = 1, 2, 3
#: An item index: (position in the dataset's rows, epoch or None for evaluation).
Item = tuple[int, int | None]


# --------------------------------------------------------------------------------------
# Splits


@dataclass(frozen=True)
class Splits:
    """Row numbers (into ``samples.parquet`` and the stores) of each split."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def read_samples(path: str | Path, protocol: str, num_class: int) -> pd.DataFrame:
    """``samples.parquet``, checked for what training needs (a clear error otherwise)."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no samples table (the skeleton stage writes it)")
    samples = pd.read_parquet(path)
    needed = {"sample", "label", "status", protocol}
    missing = sorted(needed - set(samples.columns))
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (protocol {protocol!r}?)")
    ok = samples["status"] == STATUS_OK
    labels = samples.loc[ok, "label"]
    bad = labels[(labels < 0) | (labels >= num_class)]
    if len(bad):
        raise ValueError(
            f"{path}: {len(bad)} usable row(s) have labels outside 0..{num_class - 1}, "
            f"e.g. {samples.loc[bad.index[0], 'sample']} with label {bad.iloc[0]}"
        )
    return samples


def split_rows(samples: pd.DataFrame, protocol: str, val_fraction: float, seed: int) -> Splits:
    """Train / validation / test rows of ``protocol`` (usable rows only)."""
    ok = (samples["status"] == STATUS_OK).to_numpy()
    is_train = samples[protocol].to_numpy(dtype=bool)
    train = np.flatnonzero(ok & is_train)
    val_mask = carve_validation(
        samples["sample"].to_numpy()[train], samples["label"].to_numpy()[train], val_fraction, seed
    )
    return Splits(train=train[~val_mask], val=train[val_mask], test=np.flatnonzero(ok & ~is_train))


def carve_validation(
    names: np.ndarray, labels: np.ndarray, fraction: float, seed: int
) -> np.ndarray:
    """Boolean mask of the validation samples among training ``names``.

    Per class, the ``round(fraction * n)`` samples (at least one of a class with two or
    more) with the smallest hash of ``(seed, name)`` go to validation: deterministic,
    stratified, and a sample stays on its side however the rest of the table changes.
    """
    mask = np.zeros(len(names), dtype=bool)
    if fraction <= 0:
        return mask
    keys = np.array([_stable_hash(f"{seed}/{name}") for name in names], dtype=np.uint64)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        count = min(max(round(fraction * len(members)), 1), len(members) - 1)
        mask[members[np.argsort(keys[members], kind="stable")[:count]]] = True
    return mask


def _stable_hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


# --------------------------------------------------------------------------------------
# Skeleton augmentation

#: Multiples of 5 degrees in [-175, 180] without +-105 and +-110 (spec §2.7): 68 angles.
MOVE_ANGLES = tuple(a for a in range(-175, 181, 5) if abs(a) not in (105, 110))
MOVE_SCALES = (0.9, 1.0, 1.1)
MOVE_SHIFTS = (-0.2, -0.1, 0.0, 0.1, 0.2)


def random_move(sample: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The original's ``random_move`` on one ``(C, T, V, M)`` sample (spec §2.7).

    Rotation angle, scale and x/y shift are drawn for the first and the last frame and
    interpolated linearly in between (:func:`move_between`).
    """
    angles = rng.choice(MOVE_ANGLES, 2)
    scales = rng.choice(MOVE_SCALES, 2)
    shift_x, shift_y = rng.choice(MOVE_SHIFTS, 2), rng.choice(MOVE_SHIFTS, 2)
    return move_between(sample, angles, scales, shift_x, shift_y)


def move_between(
    sample: np.ndarray,
    angles: np.ndarray,
    scales: np.ndarray,
    shift_x: np.ndarray,
    shift_y: np.ndarray,
) -> np.ndarray:
    """Rotate (degrees), scale and shift the x-y plane of ``(C, T, V, M)``, each parameter
    going linearly from its first to its second value over the frames.

    The vertical body axis is z after pre-normalisation, so this turns the body about it.
    Every joint of a person present in a frame moves, zero joints included, as in the
    original; a person absent from a frame (all zero) stays zero instead of becoming a
    translated "ghost" (spec §9.15).
    """
    frames = sample.shape[1]
    angle = np.linspace(angles[0], angles[1], frames) * np.pi / 180
    scale = np.linspace(scales[0], scales[1], frames)
    cos, sin = (np.cos(angle) * scale)[:, None, None], (np.sin(angle) * scale)[:, None, None]
    tx = np.linspace(shift_x[0], shift_x[1], frames)[:, None, None]
    ty = np.linspace(shift_y[0], shift_y[1], frames)[:, None, None]
    # (T, 1, M): the person is in the frame. Reduced over one contiguous axis: numpy's any()
    # over axes (0, 2) of the (C, T, V, M) array takes ten times longer.
    persons = sample.shape[3]
    present = sample.transpose(1, 3, 0, 2).reshape(frames, persons, -1).any(axis=-1)[:, None, :]
    x, y = sample[0], sample[1]
    out = sample.copy()
    moved_x = cos * x  # cos x - sin y + tx and sin x + cos y + ty, step by step in place
    moved_x -= sin * y
    moved_x += tx
    moved_y = sin * x
    moved_y += cos * y
    moved_y += ty
    out[:2] = 0.0  # an absent person stays absent
    np.copyto(out[0], moved_x, casting="same_kind", where=present)
    np.copyto(out[1], moved_y, casting="same_kind", where=present)
    return out


# --------------------------------------------------------------------------------------
# Datasets


class SkeletonData(Dataset):
    """``(C, T, V, M)`` joint or bone sequences of ``rows`` of a skeleton store.

    ``frame_stride`` > 1 keeps every n-th frame (a demo-only speed knob; the original uses
    all T frames). ``dataset[(position, epoch)]`` -> ``({"x": float32 tensor}, label)``;
    an ``epoch`` of None (evaluation) means no augmentation.
    """

    def __init__(
        self,
        store: str | Path,
        rows: np.ndarray,
        labels: np.ndarray,
        *,
        stream: str,
        layout: Layout,
        random_move: bool = False,
        frame_stride: int = 1,
        seed: int = 0,
    ) -> None:
        if stream not in ("joint", "bone"):
            raise ValueError(f"skeleton stream must be 'joint' or 'bone', not {stream!r}")
        self.store, self.rows, self.labels = str(store), np.asarray(rows), np.asarray(labels)
        self.stream, self.layout, self.augment, self.seed = stream, layout, random_move, seed
        self.frame_stride = frame_stride
        self._array: SampleReader | None = None  # opened lazily, once per (worker) process
        shape = self.array.array.shape
        if shape[3] != layout.num_joints:
            raise ValueError(
                f"{store}: {shape[3]} joints per sample, layout {layout.name!r} has "
                f"{layout.num_joints}"
            )
        if len(rows) and int(np.max(rows)) >= shape[0]:
            raise ValueError(f"{store}: {shape[0]} rows, samples.parquet has more")

    @property
    def array(self) -> SampleReader:
        if self._array is None:
            try:
                self._array = SampleReader(zarr.open_group(self.store, mode="r")[JOINT_ARRAY])
            except (FileNotFoundError, KeyError) as err:
                raise FileNotFoundError(
                    f"{self.store}: no skeleton store with a '{JOINT_ARRAY}' array"
                ) from err
        return self._array

    def __getstate__(self) -> dict:  # DataLoader workers reopen the store themselves
        return {**self.__dict__, "_array": None}

    def __len__(self) -> int:
        return len(self.rows)

    def sequence(self, position: int, epoch: int | None) -> np.ndarray:
        row = int(self.rows[position])
        sample = self.array[row][:, :: self.frame_stride]
        if self.stream == "bone":  # the original moves the bone array itself (its shift
            sample = joint_to_bone(sample, self.layout)  # reaches every bone)
        if self.augment and epoch is not None:
            sample = random_move(sample, np.random.default_rng([self.seed, epoch, row, _MOVE]))
        return np.ascontiguousarray(sample, dtype=np.float32)

    def __getitem__(self, item: Item) -> tuple[dict[str, torch.Tensor], int]:
        position, epoch = item
        return {"x": torch.from_numpy(self.sequence(position, epoch))}, int(self.labels[position])


def open_roi_store(path: str | Path):
    """The ROI store at ``path`` (``mmnet.roi.RoiStore``)."""
    from mmnet.roi import RoiStore

    return RoiStore(path)


class FusedData(Dataset):
    """Skeleton + ROI tile items for :class:`mmnet.models.MMNet`.

    ``roi`` is anything with the ``RoiStore`` interface (``available``,
    ``temporal_rgb_frames``, ``tile(row, rng=None, flip=False)`` -> uint8 ``(225, 45K, 3)``).
    Items are ``({"x_skeleton" | "stats", "x_rgb"}, label)`` with ``x_rgb`` a uint8
    ``(3, 225, 45K)`` tensor (:func:`to_model_inputs` normalises it on the device). Once
    :attr:`stats` is set (per-position attention statistics of a frozen ST-GCN), items
    carry those instead of the skeleton. A row without a ROI gets a black tile (what the
    original fed when no person was found); callers count them (:meth:`rows_without_roi`).
    """

    def __init__(
        self,
        skeletons: SkeletonData,
        roi,
        *,
        random_interval: bool = False,
        random_flip: bool = False,
        legacy_invert: bool = False,
        seed: int = 0,
    ) -> None:
        self.skeletons, self.roi, self.seed = skeletons, roi, seed
        self.random_interval, self.random_flip = random_interval, random_flip
        self.legacy_invert = legacy_invert
        self.stats: np.ndarray | None = None
        available = np.asarray(roi.available, dtype=bool)
        if len(available) <= int(np.max(skeletons.rows, initial=-1)):
            raise ValueError(f"ROI store has {len(available)} rows, fewer than samples.parquet's")
        self.available = available

    def __len__(self) -> int:
        return len(self.skeletons)

    @property
    def labels(self) -> np.ndarray:
        return self.skeletons.labels

    @property
    def rows(self) -> np.ndarray:
        return self.skeletons.rows

    def rows_without_roi(self) -> np.ndarray:
        return self.skeletons.rows[~self.available[self.skeletons.rows]]

    def tile(self, position: int, epoch: int | None) -> np.ndarray:
        row = int(self.skeletons.rows[position])
        frames = self.roi.temporal_rgb_frames
        if not self.available[row]:
            return np.zeros(tile_shape(frames), dtype=np.uint8)
        training = epoch is not None
        rng = (
            np.random.default_rng([self.seed, epoch, row, _TILE])
            if training and self.random_interval
            else None
        )
        flip = bool(
            training
            and self.random_flip
            and np.random.default_rng([self.seed, epoch, row, _FLIP]).random() < 0.5
        )
        tile = np.asarray(self.roi.tile(row, rng=rng, flip=flip), dtype=np.uint8)
        if tile.shape != tile_shape(frames):
            raise ValueError(
                f"ROI tile of row {row} has shape {tile.shape}, not {tile_shape(frames)}"
            )
        # The original's ToPILImage on a 0-255 float tensor wrapped every pixel v to
        # (256 - v) mod 256, i.e. uint8 negation (spec §4.4); released weights expect it.
        return np.negative(tile) if self.legacy_invert else tile

    def __getitem__(self, item: Item) -> tuple[dict[str, torch.Tensor], int]:
        position, epoch = item
        tile = torch.from_numpy(np.ascontiguousarray(self.tile(position, epoch).transpose(2, 0, 1)))
        inputs = {"x_rgb": tile}
        if self.stats is not None:
            inputs["stats"] = torch.from_numpy(self.stats[position])
        else:
            inputs["x_skeleton"] = torch.from_numpy(self.skeletons.sequence(position, epoch))
        return inputs, int(self.skeletons.labels[position])


def to_model_inputs(
    inputs: dict[str, torch.Tensor], device: torch.device, channels_last: bool = False
) -> dict[str, torch.Tensor]:
    """Move a collated batch to ``device``; ROI tiles become normalised float images."""
    out = {key: value.to(device, non_blocking=True) for key, value in inputs.items()}
    if "x_rgb" in out:
        rgb = normalize_rgb(out["x_rgb"])
        out["x_rgb"] = rgb.contiguous(memory_format=torch.channels_last) if channels_last else rgb
    return out


# --------------------------------------------------------------------------------------
# Samplers (used as DataLoader batch samplers)


class TrainBatches(Sampler[list[Item]]):
    """Shuffled training batches shared by all DDP processes.

    Epoch e's order is a permutation seeded with ``(seed, e)``; global batch i is the
    slice ``[i*B, (i+1)*B)`` of it (incomplete last batch dropped, as the original), and
    process r of W takes the contiguous ``B/W`` part r of every global batch. One process
    with batch B therefore sees exactly the samples that W processes see together.
    """

    def __init__(self, n: int, global_batch: int, *, seed: int, rank: int = 0, world: int = 1):
        if global_batch % world:
            raise ValueError(f"batch_size {global_batch} is not divisible by {world} processes")
        if n < global_batch:
            raise ValueError(f"{n} training samples are fewer than one batch ({global_batch})")
        self.n, self.global_batch, self.seed, self.rank, self.world = (
            n,
            global_batch,
            seed,
            rank,
            world,
        )
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Iterate epoch ``epoch`` from its batch ``start`` (to resume mid-epoch)."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.n // self.global_batch - self.start

    def __iter__(self) -> Iterator[list[Item]]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        local = self.global_batch // self.world
        for i in range(self.start, self.n // self.global_batch):
            begin = i * self.global_batch + self.rank * local
            yield [(int(p), self.epoch) for p in order[begin : begin + local]]


class EvalBatches(Sampler[list[Item]]):
    """Every ``world``-th position from ``rank``, in order, in batches of ``batch``."""

    def __init__(self, n: int, batch: int, *, rank: int = 0, world: int = 1) -> None:
        self.positions = np.arange(rank, n, world)
        self.batch = batch

    def __len__(self) -> int:
        return -(-len(self.positions) // self.batch)

    def __iter__(self) -> Iterator[list[Item]]:
        for i in range(0, len(self.positions), self.batch):
            yield [(int(p), None) for p in self.positions[i : i + self.batch]]
