"""Frame-accurate decoding: seeking returns exactly the pixels of a sequential decode."""

from __future__ import annotations

import av
import numpy as np
import pytest
from conftest import realdata

from mmnet.datasets.base import SampleVideo
from mmnet.datasets.ntu_format import read_skeleton_file
from mmnet.frames import select_frames
from mmnet.status import (
    STATUS_FRAME_COUNT_MISMATCH,
    STATUS_VIDEO_MISSING,
    STATUS_VIDEO_UNREADABLE,
)
from mmnet.video import VideoError, VideoReader, open_sample_video, scaled_size


def _sequential(path) -> list[np.ndarray]:
    """Every frame, decoded front to back with plain PyAV (what the original's route does)."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def _real_videos():
    return sorted(realdata("ntu60", "videos").glob("*.avi"))


@pytest.mark.realdata
@pytest.mark.parametrize("index", range(7))
def test_seeking_decodes_the_same_pixels_as_sequential_decoding(index):
    path = _real_videos()[index]
    reference = _sequential(path)
    with VideoReader(path) as reader:
        assert reader.n_frames == len(reference)  # from the packet index, without decoding
        assert (reader.width, reader.height) == (1920, 1080)
        selection = select_frames(reader.n_frames, path.stem[:20], draws=3)
        wanted = list(selection.frames())
        got = reader.read(wanted)
        for frame in wanted:
            np.testing.assert_array_equal(got[frame], reference[frame], err_msg=f"frame {frame}")
        # any order, backwards, repeated: each read lands on the right frame
        for frame in [wanted[-1], wanted[len(wanted) // 2], wanted[0], reader.n_frames - 1, 0]:
            np.testing.assert_array_equal(reader.read([frame])[frame], reference[frame])


@pytest.mark.realdata
def test_frame_count_matches_the_skeleton_file():
    skeleton = read_skeleton_file(realdata("ntu60", "skeletons", "S001C001P001R001A001.skeleton"))
    video = SampleVideo(
        str(realdata("ntu60", "videos", "S001C001P001R001A001_rgb.avi")), 0, skeleton.n_frames
    )
    with open_sample_video(video) as reader:
        assert reader.n_frames == skeleton.n_frames == 103


def _write_mp4_with_b_frames(path, n_frames=40) -> list[np.ndarray]:
    """H.264 in MP4 with B-frames and short GOPs; each frame's index drawn as a barcode."""
    rng = np.random.default_rng(0)
    frames = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"bf": "3", "g": "8", "crf": "18"}
        for i in range(n_frames):
            image = rng.integers(0, 40, (48, 64, 3), dtype=np.uint8)
            for bit in range(6):
                image[:, bit * 10 : bit * 10 + 8] += 200 * ((i >> bit) & 1)
            frames.append(image)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return frames


def test_seeking_with_b_frames_in_mp4(tmp_path):
    path = tmp_path / "bframes.mp4"
    _write_mp4_with_b_frames(path)
    reference = _sequential(path)
    with VideoReader(path) as reader:
        assert reader.n_frames == len(reference) == 40
        for frame in [5, 31, 17, 39, 0, 8, 9, 24]:
            np.testing.assert_array_equal(reader.read([frame])[frame], reference[frame])


def test_missing_unreadable_and_mismatching_videos_are_reported(tmp_path):
    with pytest.raises(VideoError) as missing:
        VideoReader(tmp_path / "nope.avi")
    assert missing.value.status == STATUS_VIDEO_MISSING and "nope.avi" in str(missing.value)

    broken = tmp_path / "broken_rgb.avi"
    broken.write_bytes(b"RIFF" + bytes(range(256)) * 40)
    with pytest.raises(VideoError) as unreadable:
        VideoReader(broken)
    assert unreadable.value.status == STATUS_VIDEO_UNREADABLE and "broken_rgb.avi" in str(
        unreadable.value
    )

    path = tmp_path / "short.mp4"
    _write_mp4_with_b_frames(path, n_frames=12)
    with pytest.raises(VideoError) as mismatch:
        open_sample_video(SampleVideo(str(path), 0, 13))
    assert mismatch.value.status == STATUS_FRAME_COUNT_MISMATCH
    assert "12 frames, the skeleton 13" in str(mismatch.value)
    with pytest.raises(VideoError) as no_path:
        open_sample_video(SampleVideo(None, 0, 13))
    assert no_path.value.status == STATUS_VIDEO_MISSING
    # a range of a longer video only needs to fit in it (PKU-MMD)
    with open_sample_video(SampleVideo(str(path), 2, 10, whole_video=False)) as reader:
        assert reader.n_frames == 12


def test_truncated_video_is_unreadable_not_a_crash(tmp_path):
    path = tmp_path / "cut.mp4"
    _write_mp4_with_b_frames(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoError) as error, VideoReader(path) as reader:
        reader.read(range(reader.n_frames))
    assert error.value.status == STATUS_VIDEO_UNREADABLE


def test_scaled_size():
    assert scaled_size(1920, 1080, 540) == (960, 540)
    assert scaled_size(480, 270, 540) == (480, 270)
    assert scaled_size(1920, 1080, None) == (1920, 1080)
