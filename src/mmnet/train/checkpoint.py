"""Checkpoints: ``model.pt`` (what a training produced), the resume file, released weights.

``model.pt`` is a dict ``{"model", "model_args", "state_dict", "config", "classes", "epoch",
"metrics", "mmnet_version"}``: everything needed to rebuild the model
(:func:`load_model`) and to know what made it. The original's checkpoints are plain state
dicts (``joint_model_stgcn.pt``, ``rgb_fused_model.pt``, possibly with DataParallel's
``module.`` prefixes); :func:`load_model` takes those too.

The resume file (``resume.pt`` beside the outputs, deliberately not a declared Snakemake
output, which would be deleted before a retry) holds the full training state and a
fingerprint of the job, so that a resumed run continues only the very same training.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import torch
from torch import nn

import mmnet
from mmnet.models import MMNet, build_model
from mmnet.store import atomic_path

log = logging.getLogger(__name__)


def save_model(
    path: str | Path, model: nn.Module, model_name: str, model_args: dict, **meta
) -> None:
    """Write ``model.pt`` atomically (``meta``: config, classes, epoch, metrics...)."""
    payload = {
        "model": model_name,
        "model_args": model_args,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "mmnet_version": mmnet.__version__,
        **meta,
    }
    save_atomic(payload, path)


def save_atomic(payload: dict, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which
        raise ValueError(f"{path}: not a readable torch checkpoint ({err})") from err


def plain_state_dict(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The state dict of ``model.pt`` or of an original checkpoint (``module.`` removed)."""
    state = checkpoint.get("state_dict", checkpoint)
    return {key.replace("module.", ""): value for key, value in state.items()}


def load_model(path: str | Path, released_args: dict | None = None) -> tuple[nn.Module, dict]:
    """Rebuild a model from ``path`` and load its weights strictly.

    ``model.pt`` files name their model and arguments. A released state dict does not:
    it is an MS-G3D when it has ``gcn3d1.*`` keys, an :class:`MMNet` when it has
    ``stgcn.*`` and ``resnet.*`` keys, the RGB-only baseline (``net/cnn.py``) when it has
    ``resnet.*`` keys only, else an ST-GCN, built from ``released_args``
    (``num_class``, ``graph_args``; MS-G3D's ``num_point``, ``num_person``, scales and
    ``layout``; MMNet's ``temporal_positions``, ``attention``), the width read off the
    weights. Returns ``(model, checkpoint dict)``.
    """
    checkpoint = read_checkpoint(path)
    state = plain_state_dict(checkpoint)
    if "model" in checkpoint:
        name, args = checkpoint["model"], dict(checkpoint["model_args"])
        if name == "mmnet" and released_args:  # evaluation switches (attention, k)
            args.update(
                {k: v for k, v in released_args.items() if k in ("attention", "temporal_positions")}
            )
    else:
        if released_args is None:
            raise ValueError(f"{path}: a plain state dict; the model's arguments are needed")
        name, args = _released(state, released_args)
    model = build_model(name, args)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:  # missing, unexpected or misshapen weights
        details = " ".join(line.strip() for line in str(err).splitlines()[1:4])
        raise ValueError(f"{path}: weights do not fit {type(model).__name__}: {details}") from None
    return model, checkpoint


#: Constructor arguments each model takes from ``released_args``.
RELEASED_KEYS = {
    "msg3d": ("num_class", "num_point", "num_person", "num_gcn_scales", "num_g3d_scales", "layout"),
    "mmnet": ("num_class", "graph_args", "temporal_positions", "attention"),
    "rgb_only": ("num_class",),
    "stgcn": ("num_class", "graph_args"),
}


def _released(state: dict[str, torch.Tensor], released_args: dict) -> tuple[str, dict]:
    """The model name and arguments of an original (released) state dict."""
    if any(k.startswith("gcn3d1.") for k in state):
        name = "msg3d"
    elif any(k.startswith("stgcn.") for k in state) and any(k.startswith("resnet.") for k in state):
        name = "mmnet"
    elif all(k.startswith("resnet.") for k in state):
        name = "rgb_only"
    else:
        name = "stgcn"
    args = {k: released_args[k] for k in RELEASED_KEYS[name] if k in released_args}
    if name == "msg3d":  # the head reads the last stage, 4x the first's width
        args["base_channels"] = state["fc.weight"].shape[1] // 4
    elif name != "rgb_only":
        prefix = "stgcn." if name == "mmnet" else ""
        first_conv = state.get(f"{prefix}st_gcn_networks.0.gcn.conv.weight")
        if first_conv is not None:  # 64 in the original's files; narrower ones are ours
            args["base_channels"] = first_conv.shape[0] // 3  # 3 spatial partitions
    return name, args


def load_joint_into(model: MMNet, joint_model: str | Path) -> None:
    """Load a trained joint-stream ST-GCN (``model.pt`` or released) into ``model.stgcn``."""
    state = plain_state_dict(read_checkpoint(joint_model))
    try:
        model.stgcn.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{joint_model}: not a matching joint ST-GCN ({err})") from err
    model.stgcn.eval()


def job_fingerprint(description: dict, inputs: list[str | Path]) -> str:
    """Hash of what a training is (options, stream, split) and of its inputs' identity."""
    stamp = []
    for path in inputs:
        path = Path(path)
        target = path / "zarr.json" if path.is_dir() else path
        if not target.exists():  # e.g. an in-memory ROI source given by name
            stamp.append([str(path), None])
            continue
        stat = target.stat()
        stamp.append([str(path), stat.st_size, stat.st_mtime_ns])
    text = json.dumps([description, stamp], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def load_resume(path: Path, fingerprint: str) -> dict | None:
    """The resume state at ``path`` if it belongs to this training; otherwise None (a stale
    file from another configuration or input is removed, with a warning)."""
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        log.warning("ignoring unreadable resume file %s (%s)", path, err)
        path.unlink()
        return None
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring resume file %s: it belongs to another configuration or input", path)
        path.unlink()
        return None
    return state
