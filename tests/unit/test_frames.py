"""Frame selection: the original's fixed and random-interval choice (spec §4.3.1)."""

from __future__ import annotations

import numpy as np
import pytest

from mmnet.frames import (
    NO_FRAME,
    FrameConfig,
    evaluation_frames,
    fallback_chain,
    random_interval_frames,
    sample_rng,
    select_frames,
)


def original_choice(length, rng=None, k=5):
    """The original's loop, transcribed: candidates, dropping 0 and Q*s, first K.

    ``rng`` None = evaluation; otherwise the random interval drawn in the same order
    (interval, then start) from the given numpy generator.
    """
    q = k + 1
    s = length // q
    if s == 0:
        chosen = []
        for i in range(k):
            f = i * length // k + length // (2 * k)
            if f != 0:
                chosen.append(f)
        return chosen
    start, interval = 0, s
    if rng is not None:
        interval = int(rng.integers(1, length // q + 1))
        start = int(rng.integers(0, length - q * interval + 1))
    chosen = []
    frame = start
    while frame < length:
        if frame != 0 and frame != q * interval:
            chosen.append(frame)
        frame += interval
    return chosen[:k]


@pytest.mark.parametrize(
    ("length", "expected"),
    [(103, [17, 34, 51, 68, 85]), (100, [16, 32, 48, 64, 80]), (6, [1, 2, 3, 4, 5])],
)
def test_evaluation_frames_are_the_inner_segment_boundaries(length, expected):
    assert list(evaluation_frames(length)) == expected


def test_short_samples_follow_the_original_and_leave_columns_empty():
    assert list(evaluation_frames(3)) == [1, 1, 2, NO_FRAME, NO_FRAME]  # [0,0,1,1,2] minus zeros
    assert list(evaluation_frames(5)) == [1, 2, 3, 4, NO_FRAME]
    assert list(random_interval_frames(4, 5, np.random.default_rng(0))) == list(
        evaluation_frames(4)
    )


@pytest.mark.parametrize("length", [6, 7, 12, 13, 40, 54, 103, 300])
def test_random_interval_draws_equal_the_original_loop(length):
    for seed in range(50):
        ours = random_interval_frames(length, 5, np.random.default_rng(seed))
        theirs = original_choice(length, np.random.default_rng(seed))
        assert list(ours[ours != NO_FRAME]) == theirs
        assert len(theirs) == 5 and all(0 < f < length for f in theirs)
        steps = np.diff(theirs)  # one interval; twice where the value Q*s' was dropped
        assert set(steps) <= {steps.min(), 2 * steps.min()}


def test_selection_is_stable_per_sample_and_seed():
    a = select_frames(103, "S001C001P001R001A001", draws=3, seed=0)
    b = select_frames(103, "S001C001P001R001A001", draws=3, seed=0)
    np.testing.assert_array_equal(a.training, b.training)
    assert a.training.shape == (3, 5) and a.slots.shape == (20,)
    assert list(a.evaluation) == [17, 34, 51, 68, 85]
    # the draws are those of a generator seeded by (seed, sample id)
    rng = sample_rng(0, "S001C001P001R001A001")
    for draw in a.training:
        assert list(draw) == original_choice(103, rng)
    other = select_frames(103, "S001C001P001R001A002", draws=3, seed=0)
    reseeded = select_frames(103, "S001C001P001R001A001", draws=3, seed=1)
    assert not np.array_equal(a.training, other.training)
    assert not np.array_equal(a.training, reseeded.training)
    assert set(a.frames()) == set(a.slots)
    assert len(select_frames(50, "x", draws=0).slots) == 5


def test_fallback_chain_stops_at_the_last_frame():
    assert fallback_chain(10, 103, 2) == [10, 11, 12]
    assert fallback_chain(101, 103, 2) == [101, 102]
    assert fallback_chain(NO_FRAME, 103, 2) == []


def test_frame_config_counts():
    config = FrameConfig(temporal_rgb_frames=5, training_candidates=3, fallback=2)
    assert config.slots == 20 and config.max_pose_frames == 60
