"""Frame-accurate decoding of selected video frames (PyAV).

Why not decode everything: the ROI needs a few frames per sample (spec §4.1), and NTU's
1080p videos hold ~100 each. Why not trust timestamps blindly: AVI files from the Kinect
recorder, re-encoded H.264 copies with B-frames, and odd start times all occur, so frame
``n`` is defined as the ``n``-th frame in presentation order and located through the
container's own packet index (demuxing reads no pixels and takes about a millisecond):

1. demux every video packet once: its timestamp and whether it is a keyframe; sorting the
   timestamps gives frame ``n`` -> ``pts[n]`` and the frame count, without decoding;
2. for each wanted frame (ascending), seek to the last keyframe at or before it only when
   that keyframe lies beyond the current decoding position, then decode forward until the
   frame's timestamp.

``tests/unit/test_video.py`` checks on the real NTU videos that this returns exactly the
pixels of a sequential decode; ``bench/frames.py`` compares it with OpenCV.
"""

from __future__ import annotations

import bisect
import itertools
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import numpy as np

from mmnet.datasets.base import SampleVideo
from mmnet.status import (
    STATUS_FRAME_COUNT_MISMATCH,
    STATUS_VIDEO_MISSING,
    STATUS_VIDEO_UNREADABLE,
)

log = logging.getLogger(__name__)


class _UnorderedTimestamps(Exception):
    """Decoded timestamps do not increase: frame numbers must be counted instead."""


class VideoError(Exception):
    """A video that cannot be used; ``status`` is one of ``mmnet.status``'s video statuses."""

    def __init__(self, path: str | Path, status: str, problem: str):
        self.path, self.status, self.problem = str(path), status, problem
        super().__init__(f"{path}: {problem}")


class VideoReader:
    """Random access to the frames of one video file, by 0-based frame index.

    Use as a context manager. ``read`` returns RGB ``(H, W, 3)`` uint8 arrays, optionally
    scaled (``size=(width, height)``, area interpolation) by FFmpeg's scaler.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoError(path, STATUS_VIDEO_MISSING, "video file does not exist")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError) as err:
            raise VideoError(path, STATUS_VIDEO_UNREADABLE, f"cannot open ({err})") from err
        try:
            if not self._container.streams.video:
                raise VideoError(path, STATUS_VIDEO_UNREADABLE, "no video stream")
            self._stream = self._container.streams.video[0]
            self._pts, self._keyframe_pts, in_decode_order = self._index()
        except BaseException:
            self._container.close()
            raise
        # Decoding state: the running frame iterator and where it stands (a timestamp, or a
        # frame count when timestamps cannot be trusted, see _decode_by_count).
        # With frame reordering (B-frames), timestamps stored in decode order (AVI) are not
        # presentation times: frames are then numbered by counting.
        self._ordered_pts = not (self._stream.codec_context.has_b_frames and in_decode_order)
        self._position: int | None = None
        self._frames: Iterator[av.VideoFrame] | None = None

    def _index(self) -> tuple[list[int], list[int], bool]:
        """Packet timestamps (sorted), keyframe timestamps, and whether the timestamps
        already increase in decode order."""
        pts: list[int] = []
        keys: list[int] = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue  # the flushing packet at the end
                stamp = packet.pts if packet.pts is not None else packet.dts
                if stamp is None:
                    raise VideoError(
                        self.path, STATUS_VIDEO_UNREADABLE, "packets without timestamps"
                    )
                pts.append(stamp)
                if packet.is_keyframe:
                    keys.append(stamp)
        except av.error.FFmpegError as err:
            raise VideoError(self.path, STATUS_VIDEO_UNREADABLE, f"cannot demux ({err})") from err
        if not pts:
            raise VideoError(self.path, STATUS_VIDEO_UNREADABLE, "no video frames")
        in_decode_order = all(a < b for a, b in itertools.pairwise(pts))
        pts.sort()
        keys.sort()
        if not keys or keys[0] > pts[0]:
            raise VideoError(self.path, STATUS_VIDEO_UNREADABLE, "does not start with a keyframe")
        return pts, keys, in_decode_order

    @property
    def n_frames(self) -> int:
        return len(self._pts)

    @property
    def width(self) -> int:
        return self._stream.codec_context.width

    @property
    def height(self) -> int:
        return self._stream.codec_context.height

    def check_frames(self, expected: int) -> None:
        """Raise :class:`VideoError` unless the video has ``expected`` frames (the skeleton's)."""
        if self.n_frames != expected:
            raise VideoError(
                self.path,
                STATUS_FRAME_COUNT_MISMATCH,
                f"video has {self.n_frames} frames, the skeleton {expected}",
            )

    def read(
        self, frames: Iterable[int], size: tuple[int, int] | None = None
    ) -> dict[int, np.ndarray]:
        """Decode ``frames`` (0-based indices, any order, repeats allowed) -> {index: image}."""
        wanted = sorted({int(f) for f in frames})
        if wanted and (wanted[0] < 0 or wanted[-1] >= self.n_frames):
            raise IndexError(f"{self.path}: frames {wanted} outside 0..{self.n_frames - 1}")
        out: dict[int, np.ndarray] = {}
        try:
            for index in wanted:
                frame = self._decode_at(index)
                if size is None:
                    out[index] = frame.to_ndarray(format="rgb24")
                else:
                    out[index] = frame.to_ndarray(
                        format="rgb24", width=size[0], height=size[1], interpolation="AREA"
                    )
        except av.error.FFmpegError as err:
            raise VideoError(self.path, STATUS_VIDEO_UNREADABLE, f"cannot decode ({err})") from err
        return out

    def _decode_at(self, index: int) -> av.VideoFrame:
        if self._ordered_pts:
            try:
                return self._decode_by_pts(self._pts[index])
            except _UnorderedTimestamps:
                log.debug("%s: timestamps out of order, decoding sequentially", self.path)
                self._ordered_pts = False
                self._frames, self._position = None, None
        return self._decode_by_count(index)

    def _decode_by_pts(self, target: int) -> av.VideoFrame:
        key = self._keyframe_pts[bisect.bisect_right(self._keyframe_pts, target) - 1]
        if self._frames is None or self._position is None or not key <= self._position < target:
            # Seek unless decoding on from the current position is the shorter way there.
            self._container.seek(key, stream=self._stream, backward=True, any_frame=False)
            self._frames = self._container.decode(self._stream)
            self._position = None
        for frame in self._frames:
            if frame.pts is None or (self._position is not None and frame.pts <= self._position):
                raise _UnorderedTimestamps
            self._position = frame.pts
            if frame.pts == target:
                return frame
            if frame.pts > target:
                break
        raise VideoError(
            self.path, STATUS_VIDEO_UNREADABLE, f"frame with timestamp {target} not decoded"
        )

    def _decode_by_count(self, index: int) -> av.VideoFrame:
        """Frame ``index`` as the ``index``-th decoded frame, from the start if need be.

        For containers whose timestamps do not follow presentation order (AVI holding
        H.264 with B-frames: the decoder reorders frames but AVI stores no presentation
        time), counting decoded frames is the only reliable frame number.
        """
        if self._frames is None or self._position is None or self._position >= index:
            self._container.seek(self._keyframe_pts[0], stream=self._stream, backward=True)
            self._frames, self._position = self._container.decode(self._stream), -1
        for frame in self._frames:
            self._position += 1
            if self._position == index:
                return frame
        raise VideoError(
            self.path, STATUS_VIDEO_UNREADABLE, f"frame {index} not decoded (file too short)"
        )

    def __iter__(self) -> Iterator[np.ndarray]:
        """Every frame in order (sequential decode; what the original's MATLAB route does)."""
        self._container.seek(self._keyframe_pts[0], stream=self._stream, backward=True)
        self._frames, self._position = None, None
        for frame in self._container.decode(self._stream):
            yield frame.to_ndarray(format="rgb24")

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_sample_video(video: SampleVideo) -> VideoReader:
    """Open the video of a sample and check it holds the sample's frames.

    A video of a whole sample (NTU) must have exactly the skeleton's frame count; a sample
    cut from a long video (PKU-MMD) must fit in it. Raises :class:`VideoError` (with a
    ``status`` to record) for a missing, unreadable or mismatching video; stages record it
    and go on with the next sample.
    """
    if video.path is None:
        raise VideoError(
            "<no video path>", STATUS_VIDEO_MISSING, "no video configured for the sample"
        )
    reader = VideoReader(video.path)
    try:
        if video.whole_video:
            reader.check_frames(video.n_frames)
        elif video.first_frame + video.n_frames > reader.n_frames:
            raise VideoError(
                video.path,
                STATUS_FRAME_COUNT_MISMATCH,
                f"video has {reader.n_frames} frames, the sample needs frames "
                f"{video.first_frame}..{video.first_frame + video.n_frames - 1}",
            )
    except VideoError:
        reader.close()
        raise
    return reader


def scaled_size(width: int, height: int, max_height: int | None) -> tuple[int, int]:
    """``(width, height)`` shrunk to at most ``max_height`` lines (even sizes, same aspect)."""
    if max_height is None or height <= max_height:
        return width, height
    return 2 * round(width * max_height / height / 2), max_height
