"""Tests of the demo dataset generator: raw NTU formats, determinism, planted artefacts and
agreement between skeleton colour coordinates and the rendered videos."""

from __future__ import annotations

import re
from pathlib import Path

import av
import numpy as np
import pytest

from mmnet.datasets.demo import DEMO_CLASSES, DEMO_TWO_PERSON_ACTIONS
from mmnet.demo import DemoSummary, generate_demo
from mmnet.demo.ntu import demo_background

SEED = 3
SIZE = (480, 270)
SMALL = {"subjects": 2, "replications": 1, "frames": (20, 24), "video_size": SIZE}
NAME = re.compile(r"^S001C00[1-3]P00[1-2]R001A00[1-7]$")

Body = tuple[list[str], np.ndarray]  # (10 body-info fields, (25, 12) joint values)


def read_ntu(path: Path) -> list[list[Body]]:
    """Independent, strict line-by-line reader of a Kinect v2 ``.skeleton`` file."""
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n"), "file must end with CRLF"
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line must end with CRLF"
    lines = iter(raw.decode("ascii").split("\r\n")[:-1])
    frames: list[list[Body]] = []
    for _ in range(int(next(lines))):
        bodies = []
        for _ in range(int(next(lines))):
            info = next(lines).split(" ")
            assert len(info) == 10
            assert next(lines) == "25"
            joints = [next(lines).split(" ") for _ in range(25)]
            assert all(len(j) == 12 for j in joints)
            bodies.append((info, np.array(joints, dtype=float)))
        frames.append(bodies)
    assert next(lines, None) is None, "trailing lines after the last frame"
    return frames


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoSummary]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate_demo(out, seed=SEED, **SMALL)


@pytest.fixture(scope="module")
def parsed(demo: tuple[Path, DemoSummary]) -> dict[str, list[list[Body]]]:
    out, _ = demo
    return {p.name[:20]: read_ntu(p) for p in sorted((out / "skeletons").glob("*.skeleton"))}


def test_constants() -> None:
    assert len(DEMO_CLASSES) == 7
    assert set(DEMO_TWO_PERSON_ACTIONS) == {7}
    assert DEMO_CLASSES[6] == "handshake"


def test_layout_and_summary(demo: tuple[Path, DemoSummary], parsed: dict) -> None:
    out, summary = demo
    assert len(parsed) == 7 * 3 * 2 == summary.n_samples
    assert all(NAME.match(name) for name in parsed)
    videos = sorted(p.name for p in (out / "videos").glob("*.avi"))
    assert videos == [f"{name}_rgb.avi" for name in parsed]
    assert summary.n_videos == len(videos)
    assert summary.n_missing == 3
    assert all(20 <= len(frames) <= 24 for frames in parsed.values())


def test_deterministic(tmp_path: Path, demo: tuple[Path, DemoSummary]) -> None:
    out, _ = demo
    again = tmp_path / "again"
    generate_demo(again, seed=SEED, **SMALL)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            assert path.read_bytes() == (again / path.relative_to(out)).read_bytes(), path.name
    other = tmp_path / "other"
    generate_demo(other, seed=SEED + 1, subjects=1, replications=1, cameras=1, frames=(20, 24))
    name = "skeletons/S001C001P001R001A002.skeleton"
    assert (other / name).read_bytes() != (out / name).read_bytes()


def test_skeleton_values(parsed: dict) -> None:
    for name, frames in parsed.items():
        for bodies in frames:
            for info, j in bodies:
                assert int(info[0]) > 2**56 and int(info[-1]) == 2
                x, y, z = j[:, 0], j[:, 1], j[:, 2]
                assert np.all((z > 2.3) & (z < 4.7)), name
                assert np.all((j[:, 5] >= 0) & (j[:, 5] < 1920) & (j[:, 6] >= 0) & (j[:, 6] < 1080))
                np.testing.assert_allclose(j[:, 5], 1048.0 * x / z + 976.4, atol=0.01)
                np.testing.assert_allclose(j[:, 6], -1056.4 * y / z + 567.3, atol=0.01)
                np.testing.assert_allclose(j[:, 3], 366.4 * x / z + 256.3, atol=0.01)
                np.testing.assert_allclose(j[:, 4], -366.5 * y / z + 208.5, atol=0.01)
                norm = np.linalg.norm(j[:, 7:11], axis=1)
                assert np.all((np.abs(norm - 1) < 1e-5) | (norm == 0))
                assert set(np.unique(j[:, 11])) <= {1.0, 2.0}
    states = np.concatenate([b[1][:, 11] for f in parsed.values() for bs in f for b in bs])
    assert 0.9 < np.mean(states == 2) < 1.0  # mostly tracked, inferred now and then


def test_number_format(demo: tuple[Path, DemoSummary]) -> None:
    out, _ = demo
    text = "".join(p.read_text("ascii") for p in (out / "skeletons").glob("*A00[1-3].skeleton"))
    numbers = [n for line in text.splitlines() if line.count(" ") == 11 for n in line.split()]
    assert numbers and all(len(re.sub(r"[-.]|E.*", "", n).lstrip("0")) <= 7 for n in numbers)
    assert "e" not in text and "  " not in text


def test_views_differ(parsed: dict) -> None:
    checked = 0
    for name in parsed:
        views = [parsed[name[:5] + f"{c:03d}" + name[8:]] for c in (1, 2, 3)]
        assert len({len(v) for v in views}) == 1  # one performance seen by three cameras
        last = [v[-1] for v in views]
        if name[5:8] == "001" and all(last):
            xyz = [bodies[0][1][:, :3] for bodies in last]
            assert np.abs(xyz[0] - xyz[2]).max() > 0.1, name
            checked += 1
    assert checked


def test_missing_list(demo: tuple[Path, DemoSummary], parsed: dict) -> None:
    out, summary = demo
    lines = (out / "missing_skeletons.txt").read_text("ascii").split("\n")
    ids = [line for line in lines[3:] if line]
    assert lines[0].startswith(f"{len(ids)} of the captured samples")
    assert lines[1].endswith(".") and lines[2] == ""
    assert len(ids) == 3 and tuple(ids) == summary.missing
    for sample in ids:
        frames = parsed[sample]
        assert len(frames) > 0 and all(len(bodies) == 0 for bodies in frames)
        assert len(decode(out / "videos" / f"{sample}_rgb.avi")) == len(frames)
    others = [n for n in parsed if n not in ids and int(n[-3:]) not in DEMO_TWO_PERSON_ACTIONS]
    assert all(any(parsed[n]) for n in others)


def test_two_person_class(parsed: dict) -> None:
    two = [frames for name, frames in parsed.items() if name.endswith("A007")]
    assert two
    for frames in two:
        assert all(len(bodies) == 2 for bodies in frames)
        assert frames[0][0][0][0] != frames[0][1][0][0]  # two distinct body ids


def _is_ghost(joints: np.ndarray) -> bool:
    xyz = joints[:, :3]
    return bool(np.linalg.norm(xyz - xyz.mean(0), axis=1).max() < 0.15)


def test_ghost_bodies(parsed: dict) -> None:
    with_ghost = 0
    for frames in parsed.values():
        flags = [[_is_ghost(b[1]) for b in bodies] for bodies in frames]
        present = [any(f) for f in flags]
        if not any(present):
            continue
        with_ghost += 1
        for f in flags:  # ghost listed after the actor, never alone
            if any(f):
                assert f[-1] and not any(f[:-1]) and len(f) >= 2
        idx = np.flatnonzero(present)
        assert np.all(np.diff(idx) == 1) and len(idx) < len(frames)  # contiguous, not all
    assert with_ghost >= 1


def test_leading_empty_frames(parsed: dict, demo: tuple[Path, DemoSummary]) -> None:
    _, summary = demo
    leading = []
    for name, frames in parsed.items():
        counts = [len(b) for b in frames]
        if name not in summary.missing and counts[0] == 0:
            first = next(i for i, c in enumerate(counts) if c)
            assert 1 <= first <= 3 and all(counts[first:])
            leading.append(name)
    assert leading


def test_videos_match_skeletons(demo: tuple[Path, DemoSummary], parsed: dict) -> None:
    out, _ = demo
    sx, sy = SIZE[0] / 1920, SIZE[1] / 1080
    backgrounds = {c: demo_background(SEED, c, SIZE).astype(int) for c in (1, 2, 3)}
    for name, frames in parsed.items():
        video = decode(out / "videos" / f"{name}_rgb.avi").astype(int)
        assert video.shape == (len(frames), SIZE[1], SIZE[0], 3)
        bg = backgrounds[int(name[5:8])]
        # far from the actors (image corners) the video shows the background
        for corner in (np.s_[:, 2:10, 2:10], np.s_[:, -10:-2, -10:-2]):
            assert np.abs(video[corner] - bg[corner[1:]]).max() <= 16, name
        # at the Head joint's projected colour position the actor is drawn
        for t, bodies in enumerate(frames):
            for _info, joints in bodies:
                if _is_ghost(joints):
                    continue
                x, y = int(joints[3, 5] * sx), int(joints[3, 6] * sy)
                assert np.abs(video[t, y, x] - bg[y, x]).max() > 15, (name, t)


def test_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate_demo(tmp_path, cameras=4)
    with pytest.raises(ValueError):
        generate_demo(tmp_path, frames=(30, 20))
    with pytest.raises(ValueError):
        generate_demo(tmp_path, video_size=(481, 270))
