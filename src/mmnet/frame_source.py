"""A sample's frames, whatever the dataset ships: one interface for the RGB stages.

NTU and PKU-MMD ship videos (a PKU-MMD sample is a window of a long video), N-UCLA ships
JPEG frames listed by ``fileList.txt``. :func:`open_frames` asks the dataset
(:meth:`~mmnet.datasets.base.Dataset.frame_files`, else
:meth:`~mmnet.datasets.base.Dataset.sample_video`) and returns a :class:`FrameSource`
indexed by **sample frame** (0 = the sample's first), so extract_frames, extract_pose2d and
build_roi never branch on the dataset.

Problems are recorded, never fatal: a source that cannot be used at all (no video, no frame
folder, a video that does not hold the sample) raises :class:`FramesError` with a status of
:mod:`mmnet.status` for the stage to record; a single frame file that is missing or
unreadable (frame folders only) is left out of :meth:`FrameSource.read` and its reason kept
in :attr:`FrameSource.problems`, so the stage treats that frame as one without a person (the
fallback takes the next) and says so in the sample's reason.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
from PIL import Image

from mmnet.datasets.base import Dataset, FramesUnavailable
from mmnet.status import STATUS_FRAMES_MISSING, STATUS_FRAMES_UNREADABLE
from mmnet.video import VideoError, VideoReader, open_sample_video, scaled_size


class FramesError(Exception):
    """A sample whose frames cannot be used; ``status`` is one of ``mmnet.status``'s."""

    def __init__(self, path: str | Path, status: str, problem: str):
        self.path, self.status, self.problem = str(path), status, problem
        super().__init__(problem if problem.startswith(self.path) else f"{path}: {problem}")


class FrameSource(ABC):
    """Random access to one sample's frames by sample frame index.

    Attributes:
        n_frames: frames of the sample (what :mod:`mmnet.frames` selects from).
        total_frames: frames in the files (a PKU-MMD long video holds more than the sample).
        width, height: full-resolution frame size.
        problems: sample frame -> why it cannot be read (frame folders only).
    """

    n_frames: int
    total_frames: int
    width: int
    height: int

    def __init__(self) -> None:
        self.problems: dict[int, str] = {}

    @abstractmethod
    def read(
        self, frames: Iterable[int], size: tuple[int, int] | None = None
    ) -> dict[int, np.ndarray]:
        """RGB ``(H, W, 3)`` uint8 images of the readable ``frames``, optionally scaled to
        ``size = (width, height)``; the others are absent (reasons in :attr:`problems`)."""

    def check(self, frames: Iterable[int]) -> dict[int, str]:
        """Reasons of the ``frames`` that cannot be read (none for a video, whose decoding
        problems concern the whole sample)."""
        return {}

    def pose_index(self, frame: int) -> int:
        """The index OpenPose numbered the frame with (its file names, the JSON of
        ``import``): the frame of the video, or of the frame list."""
        return frame

    def depth(self, frame: int) -> np.ndarray | None:
        """The frame's depth image (uint16 millimetres), or None where there is none."""
        return None

    def close(self) -> None:  # noqa: B027 (nothing to release by default)
        """Release the files the source holds open."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class VideoFrames(FrameSource):
    """Frames ``first_frame .. first_frame + n_frames - 1`` of a video (PyAV, exact)."""

    def __init__(self, reader: VideoReader, first_frame: int, n_frames: int):
        super().__init__()
        self.reader, self.first_frame, self.n_frames = reader, first_frame, n_frames
        self.total_frames, self.width, self.height = reader.n_frames, reader.width, reader.height

    def read(
        self, frames: Iterable[int], size: tuple[int, int] | None = None
    ) -> dict[int, np.ndarray]:
        frames = [int(f) for f in frames]
        try:
            images = self.reader.read([self.first_frame + f for f in frames], size=size)
        except VideoError as err:
            raise FramesError(err.path, err.status, err.problem) from err
        return {f: images[self.first_frame + f] for f in frames}

    def pose_index(self, frame: int) -> int:
        return self.first_frame + frame

    def close(self) -> None:
        self.reader.close()


class ImageFrames(FrameSource):
    """Frames as image files, sample frame k = ``files[k]`` (N-UCLA's filtered list).

    ``depth_files``: called once, when a depth image is first asked for (listing them globs
    the folder); its entry k is frame k's depth image or None.
    """

    def __init__(
        self,
        files: list[Path],
        depth_files: Callable[[], list[Path | None] | None] | None = None,
    ):
        super().__init__()
        self.files = [Path(f) for f in files]
        self.n_frames = self.total_frames = len(self.files)
        self._depth_files = depth_files
        self._depth: list[Path | None] | None = None
        for path in self.files:
            try:
                with Image.open(path) as image:
                    self.width, self.height = image.size
                break
            except (OSError, ValueError):
                continue
        else:
            folder = self.files[0].parent if self.files else "<no frames>"
            raise FramesError(
                folder,
                STATUS_FRAMES_UNREADABLE,
                f"none of the {len(self.files)} listed frame files can be opened",
            )

    def _open(self, frame: int, draft: bool = False) -> Image.Image | None:
        path = self.files[frame]
        try:
            image = Image.open(path)
            if draft:  # decode at 1/8 scale: enough to find a truncated file, 10x faster
                image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
        except FileNotFoundError:
            self.problems[frame] = f"{path}: listed frame file missing"
            return None
        except (OSError, ValueError) as err:
            self.problems[frame] = f"{path}: cannot read the frame ({err})"
            return None
        if not draft and image.size != (self.width, self.height):
            self.problems[frame] = (
                f"{path}: {image.width}x{image.height}, the sample's frames are "
                f"{self.width}x{self.height}"
            )
            return None
        return image

    def read(
        self, frames: Iterable[int], size: tuple[int, int] | None = None
    ) -> dict[int, np.ndarray]:
        out = {}
        for frame in sorted({int(f) for f in frames}):
            image = self._open(frame)
            if image is None:
                continue
            image = image.convert("RGB")
            if size is not None and size != image.size:
                image = image.resize(size, Image.Resampling.BOX)  # area average, as FFmpeg's
            out[frame] = np.asarray(image)
        return out

    def check(self, frames: Iterable[int]) -> dict[int, str]:
        for frame in sorted({int(f) for f in frames}):
            if frame not in self.problems:
                self._open(frame, draft=True)
        return {f: self.problems[f] for f in frames if f in self.problems}

    def depth(self, frame: int) -> np.ndarray | None:
        if self._depth is None:
            self._depth = (self._depth_files() if self._depth_files else None) or []
        path = self._depth[frame] if frame < len(self._depth) else None
        if path is None:
            return None
        try:
            with Image.open(path) as image:
                return np.asarray(image, dtype=np.uint16)
        except (OSError, ValueError):
            return None


def open_frames(dataset: Dataset, row: Mapping) -> FrameSource:
    """The frames of one sample (a row of ``samples.parquet``); raises :class:`FramesError`
    (with a status to record) when they cannot be used."""
    try:
        files = dataset.frame_files(row)
    except FramesUnavailable as err:
        raise FramesError(row.get("frames_dir") or row["sample"], STATUS_FRAMES_MISSING,
                          str(err)) from err  # fmt: skip
    if files is not None:
        return ImageFrames(files, lambda: dataset.depth_files(row))
    video = dataset.sample_video(row)
    try:
        reader = open_sample_video(video)
    except VideoError as err:
        raise FramesError(err.path, err.status, err.problem) from err
    return VideoFrames(reader, video.first_frame, video.n_frames)


def write_frame_images(
    source: FrameSource, frames: dict[int, str], out_dir: Path, *, max_height: int | None,
    quality: int,
) -> tuple[int, int]:  # fmt: skip
    """Write sample frames ``{frame: file stem}`` as JPEG into ``out_dir``, shrunk to
    ``max_height`` lines (pose models see far fewer; ``docs/rgb.md``). A frame that cannot
    be read is not written (its reason is in ``source.problems``). Returns the image size
    ``(width, height)``."""
    size = scaled_size(source.width, source.height, max_height)
    for frame, image in source.read(frames, size=size).items():
        Image.fromarray(image).save(Path(out_dir) / f"{frames[frame]}.jpg", quality=quality)
    return size


def unreadable_note(problems: dict[int, str]) -> str:
    """``warning: ...`` naming the sample's frames that could not be read, or ""."""
    if not problems:
        return ""
    named = "; ".join(f"frame {f}: {problems[f]}" for f in sorted(problems)[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return (
        f"warning: {len(problems)} frame(s) could not be read and count as frames without "
        f"data: {named}{more}"
    )
