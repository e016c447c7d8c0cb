"""Which video frames a sample's ROI uses (spec §4.3.1): one function for every stage.

The original picks, per access, ``K`` frames of a sample of ``L`` frames (``Q = K + 1``,
``s = L // Q``):

- evaluation: the candidates ``0, s, 2s, ...`` (< L) minus every value equal to 0 or to
  ``Q*s``, first ``K`` kept: the frames ``s, 2s, ..., K*s``, the inner boundaries of
  ``Q`` equal segments;
- training (random interval): ``s' ~ U{1..L//Q}``, ``start ~ U{0..L-Q*s'}``, candidates
  ``start + i*s'`` (< L), the same dropping rule with ``s'``, first ``K`` kept;
- ``L < Q`` (``s == 0``): ``[i*L//K + L//(2K) for i < K]`` minus zeros, so fewer than ``K``
  frames may remain (their columns stay empty, as in the original).

PKU-MMD's samples are windows of long videos and its original code counts from the window's
first frame (spec §4.3.2, rule ``"from_start"``): with ``s = (L - 1) // Q`` (the original's
``(end - start) // 6``), evaluation takes ``0, s, ..., (K-1)*s`` (the first frame included),
training ``start + i*s'`` with ``s' ~ U{1..(L-1)//Q}``, ``start ~ U{0..L-1-Q*s'}``, nothing
dropped. (The original applies the drop rule to absolute frame numbers, where 0 never occurs
and ``Q*s'`` only by coincidence; its ``s == 0`` branch is broken. Windows of fewer than
``Q + 1`` frames take the ``s == 0`` frames above, zero kept.)

Frames are stored once, so training cannot draw afresh at every access. Instead ``k``
random-interval draws per sample are made here, exactly as above, with a generator seeded
by the configuration's seed and the sample id (the same frames in every stage, shard and
run). Draw ``j`` puts one candidate frame in every segment (tile column); the training
loader picks one draw per access (:class:`mmnet.roi.RoiStore`).

Fallback (spec §4.3.1): a frame where the pose stage finds nobody is replaced by the next
frame (up to ``fallback`` frames later) that has somebody; :func:`fallback_chain` lists the
frames to try, in order.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

#: Column entry of a frame that does not exist (``L < K + 1``) or has no person.
NO_FRAME = -1
#: How a dataset spaces its frames: ``inner`` (NTU, N-UCLA: the inner segment boundaries
#: ``s..K*s``), ``from_start`` (PKU-MMD: ``0..(K-1)*s`` over the window, spec §4.3.2).
FRAME_RULES = ("inner", "from_start")


@dataclass(frozen=True)
class FrameSelection:
    """The frames of one sample's tiles; ``NO_FRAME`` marks an empty column.

    Attributes:
        evaluation: ``(K,)`` frames of the evaluation tile.
        training: ``(k, K)`` frames of the ``k`` random-interval training draws.
    """

    evaluation: np.ndarray
    training: np.ndarray

    @property
    def slots(self) -> np.ndarray:
        """Every column's frame: evaluation first, then the draws, ``(K * (1 + k),)``."""
        return np.concatenate([self.evaluation, self.training.ravel()])

    def frames(self) -> np.ndarray:
        """The distinct frames used, ascending."""
        slots = self.slots
        return np.unique(slots[slots != NO_FRAME])


def _first_kept(candidates: range, interval: int, count: int) -> np.ndarray:
    """Drop candidates equal to 0 or to ``(count + 1) * interval``; keep the first ``count``."""
    dropped = {0, (count + 1) * interval}
    kept = [c for c in candidates if c not in dropped][:count]
    return _padded(kept, count)


def _padded(frames: list[int], count: int) -> np.ndarray:
    out = np.full(count, NO_FRAME, dtype=np.int64)
    out[: len(frames)] = frames
    return out


def _short_sample(n_frames: int, count: int, keep_zero: bool = False) -> np.ndarray:
    """The original's ``s == 0`` rule for samples with fewer than ``count + 1`` frames."""
    frames = [i * n_frames // count + n_frames // (2 * count) for i in range(count)]
    return _padded([f for f in frames if keep_zero or f != 0], count)


def _span(n_frames: int, rule: str) -> int:
    """Frames the interval divides: ``L`` (``inner``), ``L - 1`` (``from_start``: the
    original's ``end - start``)."""
    if rule not in FRAME_RULES:
        raise ValueError(f"frame rule must be one of {FRAME_RULES}, not {rule!r}")
    return n_frames - 1 if rule == "from_start" else n_frames


def evaluation_frames(n_frames: int, count: int = 5, rule: str = "inner") -> np.ndarray:
    """The fixed frames ``s, 2s, ..., count*s`` (``s = n_frames // (count + 1)``); with
    ``rule="from_start"``, ``0, s, ..., (count-1)*s`` (``s = (n_frames - 1) // (count + 1)``)."""
    span = _span(n_frames, rule)
    interval = span // (count + 1)
    if interval == 0:
        return _short_sample(n_frames, count, keep_zero=rule == "from_start")
    if rule == "from_start":
        return _padded(list(range(0, n_frames, interval))[:count], count)
    return _first_kept(range(0, n_frames, interval), interval, count)


def random_interval_frames(
    n_frames: int, count: int, rng: np.random.Generator, rule: str = "inner"
) -> np.ndarray:
    """One random-interval draw: ``start + i*s'`` with random ``s'`` and ``start``."""
    segments = count + 1
    span = _span(n_frames, rule)
    if span // segments == 0:
        return _short_sample(n_frames, count, keep_zero=rule == "from_start")
    interval = int(rng.integers(1, span // segments + 1))
    start = int(rng.integers(0, span - segments * interval + 1))
    if rule == "from_start":
        return _padded(list(range(start, n_frames, interval))[:count], count)
    return _first_kept(range(start, n_frames, interval), interval, count)


def sample_rng(seed: int, sample: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and the sample id (stable across runs)."""
    return np.random.default_rng([seed, zlib.crc32(sample.encode())])


def select_frames(
    n_frames: int,
    sample: str,
    *,
    count: int = 5,
    draws: int = 3,
    seed: int = 0,
    rule: str = "inner",
) -> FrameSelection:
    """The evaluation frames and ``draws`` random-interval draws of one sample."""
    if n_frames < 1:
        raise ValueError(f"{sample}: a sample needs at least one frame, got {n_frames}")
    rng = sample_rng(seed, sample)
    training = np.array(
        [random_interval_frames(n_frames, count, rng, rule) for _ in range(draws)],
        dtype=np.int64,
    ).reshape(draws, count)
    return FrameSelection(evaluation_frames(n_frames, count, rule), training)


def fallback_chain(frame: int, n_frames: int, fallback: int) -> list[int]:
    """Frames to try for a column, in order: ``frame, frame + 1, ..., frame + fallback``."""
    if frame == NO_FRAME:
        return []
    return list(range(frame, min(frame + fallback + 1, n_frames)))


@dataclass(frozen=True)
class FrameConfig:
    """The ``frames`` section of the config (see the schema for each key)."""

    temporal_rgb_frames: int = 5
    training_candidates: int = 3
    seed: int = 0
    fallback: int = 2
    pose_height: int | None = 540
    jpeg_quality: int = 90
    keep: bool = False

    def select(self, n_frames: int, sample: str, rule: str = "inner") -> FrameSelection:
        """The sample's frames; ``rule``: the dataset's (:data:`FRAME_RULES`)."""
        return select_frames(
            n_frames,
            sample,
            count=self.temporal_rgb_frames,
            draws=self.training_candidates,
            seed=self.seed,
            rule=rule,
        )

    @property
    def slots(self) -> int:
        """Columns per sample: the evaluation tile's and the training candidates'."""
        return self.temporal_rgb_frames * (1 + self.training_candidates)

    @property
    def max_pose_frames(self) -> int:
        """Most frames the pose stage can look at in one sample (every slot, every fallback)."""
        return self.slots * (1 + self.fallback)
