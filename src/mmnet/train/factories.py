"""What a training run and an evaluation share: the prepared inputs, the models, the datasets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset as TorchDataset

from mmnet.datasets import Dataset, get_dataset
from mmnet.models import MSG3D, STGCN, MMNet, RGBOnly
from mmnet.models.stgcn import init_like_original
from mmnet.train.checkpoint import load_joint_into, read_checkpoint
from mmnet.train.data import (
    FusedData,
    SkeletonData,
    Splits,
    open_roi_store,
    read_samples,
    split_rows,
)
from mmnet.train.distributed import Env
from mmnet.train.job import TrainJob
from mmnet.train.loop import predict
from mmnet.train.options import TrainOptions

log = logging.getLogger(__name__)

#: Streams that read the ROI store: the MMNet fusion model and the RGB-only baseline.
ROI_STREAMS = ("rgb", "rgb_plain")


@dataclass(frozen=True)
class Prepared:
    """A job's inputs, read once: dataset kind, samples table, splits, ROI store (rgb)."""

    job: TrainJob
    kind: Dataset
    samples: pd.DataFrame
    splits: Splits
    roi: object | None

    @property
    def labels(self) -> np.ndarray:
        return self.samples["label"].to_numpy()

    @property
    def names(self) -> np.ndarray:
        return self.samples["sample"].to_numpy()


def prepare(job: TrainJob, roi_store=None) -> Prepared:
    """Read ``job``'s samples table and split it; open its ROI store (rgb stream).

    ``roi_store`` replaces the store at ``job.roi`` by any object with its interface
    (tests, benchmarks).
    """
    kind = get_dataset(job.kind)
    samples = read_samples(job.samples, job.protocol, kind.num_class)
    splits = split_rows(samples, job.protocol, job.options.held_out_fraction, job.options.seed)
    roi = None
    if job.stream in ROI_STREAMS:
        roi = roi_store if roi_store is not None else open_roi_store(job.roi)
    return Prepared(job, kind, samples, splits, roi)


def graph_args(kind: Dataset) -> dict:
    return {"layout": kind.layout_name, "strategy": "spatial"}


def msg3d_args(kind: Dataset, options: TrainOptions) -> dict:
    """Constructor arguments of an MS-G3D for ``kind``'s skeletons."""
    return {
        "num_class": kind.num_class,
        "num_point": kind.layout.num_joints,
        "num_person": kind.max_bodies,
        "num_gcn_scales": options.num_gcn_scales,
        "num_g3d_scales": options.num_g3d_scales,
        "layout": kind.layout_name,
        "base_channels": options.width,
    }


def frame_stride_of(checkpoint: dict) -> int:
    """The frame stride a model was trained with (1 for the original's state dicts): its
    inputs must be sampled the same way."""
    return int(checkpoint.get("config", {}).get("frame_stride", 1))


def build_model(prepared: Prepared, resnet_weights: Path | None) -> tuple[nn.Module, str, dict]:
    """A fresh model for the job: ``(model, registry name, constructor args)``."""
    job, kind, options = prepared.job, prepared.kind, prepared.job.options
    if job.stream == "rgb_plain":
        args = {
            "num_class": kind.num_class,
            "temporal_rgb_frames": int(prepared.roi.temporal_rgb_frames),
        }
        model = RGBOnly(**args)
        if resnet_weights is not None:
            model.resnet.load_pretrained(resnet_weights)
        return model, "rgb_only", args
    if job.stream != "rgb" and options.backbone == "msg3d":
        args = msg3d_args(kind, options)
        return MSG3D(**args), "msg3d", args  # PyTorch's default initialisation, as MS-G3D's
    if job.stream != "rgb":
        args = {
            "in_channels": 3,
            "num_class": kind.num_class,
            "graph_args": graph_args(kind),
            "edge_importance_weighting": True,
            "dropout": options.dropout,
            "base_channels": options.width,
        }
        model = STGCN(**args)
        model.apply(init_like_original)
        return model, "stgcn", args
    joint = read_checkpoint(job.joint_model)
    joint_args = joint.get("model_args", {})  # a released state dict: the original's widths
    args = {
        "num_class": kind.num_class,
        "graph_args": graph_args(kind),
        "temporal_positions": options.temporal_positions,
        "temporal_rgb_frames": int(prepared.roi.temporal_rgb_frames),
        "attention": options.attention,
        "dropout": joint_args.get("dropout", 0.5),
        "base_channels": joint_args.get("base_channels", 64),
    }
    model = MMNet(**args)
    load_joint_into(model, job.joint_model)
    if resnet_weights is not None:
        model.resnet.load_pretrained(resnet_weights)
    return model, "mmnet", args


def build_datasets(prepared: Prepared) -> tuple:
    """The (train, validation, test) datasets of the job's stream."""
    job, kind, options, splits = prepared.job, prepared.kind, prepared.job.options, prepared.splits
    labels = prepared.labels

    def skeletons(rows: np.ndarray, stream: str, train: bool) -> SkeletonData:
        return SkeletonData(
            job.skeleton,
            rows,
            labels[rows],
            stream=stream,
            layout=kind.layout,
            random_move=train and options.random_move,
            frame_stride=options.frame_stride,
            seed=options.seed,
        )

    parts = (("train", splits.train), ("val", splits.val), ("test", splits.test))
    if job.stream not in ROI_STREAMS:  # joint, bone, or the rgb stream's teacher (joints)
        data = "bone" if job.stream == "bone" else "joint"
        return tuple(skeletons(rows, data, name == "train") for name, rows in parts)
    available = np.asarray(prepared.roi.available, dtype=bool)

    def fused(rows: np.ndarray, train: bool) -> FusedData | TileData:
        data = FusedData(
            skeletons(rows, "joint", train),
            prepared.roi,
            random_interval=train and options.random_interval,
            random_flip=train and options.random_flip,
            legacy_invert=options.legacy_invert,
            seed=options.seed,
        )
        return TileData(data) if job.stream == "rgb_plain" else data

    usable = {name: rows[available[rows]] for name, rows in parts[:2]}
    dropped = {name: len(getattr(splits, name)) - len(rows) for name, rows in usable.items()}
    if any(dropped.values()):
        log.warning("rows without a ROI left out of training: %s", dropped)
    return fused(usable["train"], True), fused(usable["val"], False), fused(splits.test, False)


class TileData(TorchDataset):
    """The ROI tiles of a :class:`FusedData` alone (``{"x_rgb"}``, label): the RGB-only
    baseline's items. The same tiles, draws and flips as the rgb stream's; the skeleton is
    never read."""

    def __init__(self, fused: FusedData) -> None:
        self.fused = fused
        self.skeletons = fused.skeletons  # rows, labels; cache_attention skips it (no stats)

    def __len__(self) -> int:
        return len(self.fused)

    @property
    def labels(self) -> np.ndarray:
        return self.fused.labels

    @property
    def rows(self) -> np.ndarray:
        return self.fused.rows

    def rows_without_roi(self) -> np.ndarray:
        return self.fused.rows_without_roi()

    def __getitem__(self, item: tuple[int, int | None]) -> tuple[dict[str, torch.Tensor], int]:
        position, epoch = item
        tile = self.fused.tile(position, epoch).transpose(2, 0, 1)
        return {"x_rgb": torch.from_numpy(np.ascontiguousarray(tile))}, int(self.labels[position])


def cache_attention(model: MMNet, datasets: list[FusedData], env: Env, job: TrainJob) -> None:
    """Compute the frozen ST-GCN's attention statistics once per sample (see MMNet); not for
    augmented skeletons (random_move changes them every epoch)."""
    for data in datasets:
        if data.skeletons.augment:
            continue
        data.stats = predict(
            model,
            data.skeletons,
            env,
            batch_size=job.options.test_batch_size,
            amp=job.options.amp,
            desc="attention",
            call=lambda m, inputs: m.attention_stats(inputs["x"]),
        )
