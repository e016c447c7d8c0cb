"""Pretrained weights of the RGB branch: the ImageNet ResNet-18 the original starts from.

The original builds its ResNet-18 with torchvision's ImageNet weights (IMAGENET1K_V1,
``resnet18-f37072fd.pth``), downloaded into the torch hub cache at run time. Here the same
file is taken from that cache (``$TORCH_HOME/hub/checkpoints/``), fetched into it when the
machine is online, and checked against the hash torchvision puts in its name; offline and
not cached, the training stops before it starts, naming the file and where it goes.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

import torch

from mmnet.store import sha256_of

#: Seconds a download may wait for the network before the run gives up.
DOWNLOAD_TIMEOUT = 60


@dataclass(frozen=True)
class HubWeights:
    """A weight file of the torch hub cache: where it comes from and its SHA-256 prefix."""

    url: str
    sha256_prefix: str

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def cache_path(self) -> Path:
        return Path(torch.hub.get_dir()) / "checkpoints" / self.filename


#: torchvision's ``ResNet18_Weights.IMAGENET1K_V1``.
IMAGENET_RESNET18 = HubWeights(
    "https://download.pytorch.org/models/resnet18-f37072fd.pth", "f37072fd"
)


class PretrainedWeightsError(FileNotFoundError):
    """The pretrained weights are neither cached nor downloadable; the message says where
    to put the file."""


def cached_weights(weights: HubWeights) -> Path:
    """The weight file in the hub cache, downloaded there first if missing.

    Raises :class:`PretrainedWeightsError` when it is missing and cannot be downloaded, and
    ``ValueError`` when the cached file's hash is not the expected one.
    """
    path = weights.cache_path()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)
        try:
            torch.hub.download_url_to_file(
                weights.url, str(path), hash_prefix=weights.sha256_prefix, progress=False
            )
        except (URLError, OSError, RuntimeError) as err:
            raise PretrainedWeightsError(
                f"{path}: missing, and it cannot be downloaded from {weights.url} ({err}). "
                f"Download {weights.filename} on a machine that can, copy it to {path.parent}/ "
                "(or point TORCH_HOME at a folder whose hub/checkpoints/ holds it), or set "
                "pretrained_resnet to a local file or to null (random initialisation)"
            ) from None
        finally:
            socket.setdefaulttimeout(previous)
    digest = sha256_of(path)
    if not digest.startswith(weights.sha256_prefix):
        raise ValueError(
            f"{path}: SHA-256 {digest[:16]}... does not start with {weights.sha256_prefix} "
            f"(a damaged or different file; delete it so that {weights.url} is fetched again)"
        )
    return path


def resolve_pretrained_resnet(option: str | None) -> Path | None:
    """The ResNet-18 weight file of the ``pretrained_resnet`` option: ``"imagenet"`` (the
    hub cache, :data:`IMAGENET_RESNET18`), a local file, or None (random initialisation)."""
    if option is None:
        return None
    if option == "imagenet":
        return cached_weights(IMAGENET_RESNET18)
    path = Path(option)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained_resnet: {str(path)!r} does not exist")
    return path
