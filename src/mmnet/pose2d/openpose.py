"""``openpose`` backend: the real OpenPose, through its command-line demo or its Python API.

OpenPose is not pip-installable (it is a C++/CUDA build, see ``docs/rgb.md``). With
``pose2d.openpose.interface: binary`` the stage calls the binary the config points at, once
per batch of frames:

    openpose.bin --image_dir <dir> --write_json <dir> --display 0 --render_pose 0
                 --model_pose BODY_25 [--model_folder <models>] [extra args]

and reads back one ``<image stem>_keypoints.json`` per image, the very format the
``import`` backend reads. Only the body model runs (no ``--face``/``--hand``, which the
original computed and never used). Frames are extracted smaller than the video (the
network sees 368 lines by default anyway), so keypoints are scaled back to full resolution.

With ``interface: python`` the same network runs in-process through ``pyopenpose`` (OpenPose
built with ``-DBUILD_PYTHON=ON``) on frames decoded in memory: nothing is written to disk.
``interface: auto`` (the default) takes the bindings where they import, else the binary.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mmnet.pose2d.base import (
    N_KEYPOINTS,
    FrameRequest,
    OpenPoseOptions,
    PoseBackend,
    no_people,
    parse_openpose_json,
    scale_people,
)

log = logging.getLogger(__name__)


class OpenPoseBackend(PoseBackend):
    name = "openpose"
    needs_images = True

    def __init__(
        self,
        binary: str | Path,
        model_folder: str | Path | None = None,
        extra_args: Sequence[str] = (),
        workdir: str | Path | None = None,
    ):
        resolved = shutil.which(str(binary))
        if resolved is None:
            raise FileNotFoundError(
                f"pose2d.openpose.binary: {str(binary)!r} is not an executable file "
                "(build OpenPose and point the config at openpose.bin, see docs/rgb.md)"
            )
        self.binary = Path(resolved)
        self.model_folder = Path(model_folder) if model_folder else None
        self.extra_args = list(extra_args)
        self.workdir = Path(workdir) if workdir else None

    def command(self, image_dir: Path, json_dir: Path) -> list[str]:
        command = [
            str(self.binary), "--image_dir", str(image_dir), "--write_json", str(json_dir),
            "--display", "0", "--render_pose", "0", "--model_pose", "BODY_25",
        ]  # fmt: skip
        if self.model_folder is not None:
            command += ["--model_folder", f"{self.model_folder}{os.sep}"]
        return command + self.extra_args

    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        if not requests:
            return []
        with tempfile.TemporaryDirectory(prefix="openpose-", dir=self.workdir) as tmp:
            image_dir, json_dir = Path(tmp) / "images", Path(tmp) / "json"
            image_dir.mkdir()
            json_dir.mkdir()
            for request in requests:
                if request.image is None:
                    raise ValueError(f"{request.key}: the openpose backend needs frame images")
                link = image_dir / request.image.name
                if not link.exists():
                    os.symlink(request.image.resolve(), link)
            command = self.command(image_dir, json_dir)
            log.info("running %s on %d frames", " ".join(command), len(requests))
            result = subprocess.run(command, capture_output=True, text=True)
            if result.returncode != 0:
                tail = (result.stderr or result.stdout)[-2000:]
                raise RuntimeError(f"{self.binary} exited with status {result.returncode}:\n{tail}")
            out: list[np.ndarray | None] = []
            for request in requests:
                path = json_dir / f"{request.image.stem}_keypoints.json"
                if not path.is_file():
                    raise RuntimeError(f"{self.binary} wrote no {path.name} for {request.image}")
                out.append(scale_people(parse_openpose_json(path), request.scale))
        return out


class OpenPosePythonBackend(PoseBackend):
    """OpenPose through its Python bindings, on frames decoded in memory (BGR, as OpenCV)."""

    name = "openpose"
    needs_pixels = True

    def __init__(self, model_folder: str | Path | None = None, extra_args: Sequence[str] = ()):
        op = _import_pyopenpose()
        params: dict[str, str] = {"model_pose": "BODY_25", "display": "0", "render_pose": "0"}
        if model_folder is not None:
            params["model_folder"] = f"{model_folder}{os.sep}"
        params.update(flags_to_params(extra_args))
        self._op = op
        self._wrapper = op.WrapperPython()
        self._wrapper.configure(params)
        self._wrapper.start()

    def estimate(self, requests: Sequence[FrameRequest]) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = []
        for request in requests:
            if request.pixels is None:
                raise ValueError(f"{request.key}: the pyopenpose interface needs decoded frames")
            datum = self._op.Datum()
            datum.cvInputData = np.ascontiguousarray(request.pixels[..., ::-1])  # RGB -> BGR
            self._wrapper.emplaceAndPop(self._op.VectorDatum([datum]))
            people = datum.poseKeypoints  # None or (0,) when nobody is found
            if people is None or np.size(people) == 0:
                out.append(no_people())
                continue
            people = np.asarray(people, dtype=np.float32).reshape(-1, N_KEYPOINTS, 3)
            out.append(scale_people(people, request.scale))
        return out


def make_openpose(options: OpenPoseOptions, workdir: str | Path | None = None) -> PoseBackend:
    """The OpenPose backend of the config's ``pose2d.openpose`` ``options``."""
    interface = options.interface
    model_folder, extra_args = options.model_folder, options.extra_args
    if interface == "auto":
        try:
            _import_pyopenpose()
            interface = "python"
        except ImportError:
            interface = "binary"
        log.info("pose2d.openpose.interface auto: %s", interface)
    if interface == "python":
        return OpenPosePythonBackend(model_folder, extra_args)
    return OpenPoseBackend(options.binary, model_folder, extra_args, workdir=workdir)


def flags_to_params(flags: Sequence[str]) -> dict[str, str]:
    """``["--net_resolution", "-1x368", ...]`` -> ``{"net_resolution": "-1x368", ...}``."""
    if len(flags) % 2 or not all(str(f).startswith("--") for f in flags[::2]):
        raise ValueError(f"pose2d.openpose.extra_args: expected --flag value pairs, got {flags}")
    return {str(flag)[2:]: str(value) for flag, value in zip(flags[::2], flags[1::2], strict=True)}


def _import_pyopenpose():
    """``pyopenpose`` as OpenPose installs it (``openpose.pyopenpose``) or built in place."""
    try:
        from openpose import pyopenpose
    except ImportError:
        try:
            import pyopenpose
        except ImportError as err:
            raise ImportError(
                "pose2d.openpose.interface 'python' needs OpenPose's Python bindings "
                "(build OpenPose with -DBUILD_PYTHON=ON and make pyopenpose importable, "
                "see docs/rgb.md), or use interface 'binary'"
            ) from err
    return pyopenpose
