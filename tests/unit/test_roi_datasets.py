"""The RGB side of PKU-MMD and N-UCLA: PKU's window/frame mapping and statuses, its
two-person layout, N-UCLA's flip row swap and leg shift, and the RGB-only baseline trained
on a real ROI store. The demos' raw files go through the real index, skeleton, pose2d
(``import`` of their OpenPose JSON) and ROI stages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import zarr
from PIL import Image
from training_data import TINY_OPTIONS

from mmnet.config import SkeletonOptions
from mmnet.datasets.demo import DEMO_NUCLA, DEMO_PKU
from mmnet.datasets.nucla import NUCLA
from mmnet.demo.nucla import generate_demo_nucla
from mmnet.demo.pku import generate_demo_pku
from mmnet.frame_source import ImageFrames, open_frames
from mmnet.frames import FrameConfig, evaluation_frames, random_interval_frames, select_frames
from mmnet.pose2d.from_json import ImportBackend
from mmnet.roi import RoiStore
from mmnet.roi.tile import CELL, SINGLE, TWO_PERSON, build_column, crop, flip_column
from mmnet.scores import read_scores
from mmnet.stages.index import write_index
from mmnet.stages.pose2d import estimate_shard, merge_poses
from mmnet.stages.roi import _Columns, merge_rois, roi_shard
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import build_skeletons
from mmnet.status import STATUS_FRAME_COUNT_MISMATCH, STATUS_FRAMES_MISSING
from mmnet.train.job import TrainJob
from mmnet.train.options import TrainOptions
from mmnet.train.run import train_stream
from mmnet.video import VideoReader

CONFIG = FrameConfig(training_candidates=2, fallback=2)


def _stages(dataset, out, protocols, train_protocols) -> tuple[pd.DataFrame, RoiStore]:
    """index -> skeleton -> pose2d (import) -> ROI on a generated demo under ``out/raw``."""
    raw = dataset.generated.raw_paths(out / "raw")
    write_index(dataset, raw, protocols, out / "index.parquet")
    build_skeletons(dataset, SkeletonOptions(), out / "index.parquet", out / "sk.zarr",
                    out / "samples.parquet", protocols=train_protocols)  # fmt: skip
    backend = ImportBackend(dataset, out / "raw" / dataset.generated.openpose_json)
    samples = out / "samples.parquet"
    estimate_shard(dataset, backend, CONFIG, Shard(0, 1), samples,
                   ShardOutput(out / "p.zarr", out / "p.parquet"))  # fmt: skip
    merge_poses(samples, [out / "p.zarr"], [out / "p.parquet"], out / "pose2d.zarr",
                out / "pose2d.parquet", min_kept=0)  # fmt: skip
    roi_shard(dataset, CONFIG, Shard(0, 1), samples, out / "pose2d.zarr", out / "pose2d.parquet",
              ShardOutput(out / "r.zarr", out / "r.parquet"))  # fmt: skip
    merge_rois(samples, [out / "r.zarr"], [out / "r.parquet"], out / "roi.zarr",
               out / "roi.parquet", min_kept=0)  # fmt: skip
    table = pd.read_parquet(samples).merge(
        pd.read_parquet(out / "roi.parquet")[["sample", "roi_status", "roi_reason",
                                              "two_person_columns"]], on="sample"
    )  # fmt: skip
    return table.set_index("sample", drop=False), RoiStore(out / "roi.zarr")


@pytest.fixture(scope="module")
def pku(tmp_path_factory):
    out = tmp_path_factory.mktemp("pku")
    summary = generate_demo_pku(out / "raw", seed=5, subjects=2, sequences=1, frames=(20, 24),
                                gaps=(12, 14), video_size=(192, 108))  # fmt: skip
    return (out, summary, *_stages(DEMO_PKU, out, ["xsub", "xview"], ["xview"]))


@pytest.fixture(scope="module")
def nucla(tmp_path_factory):
    out = tmp_path_factory.mktemp("nucla")
    summary = generate_demo_nucla(out / "raw", seed=3, subjects=2, environments=1,
                                  frames=(20, 24))  # fmt: skip
    return (out, summary, *_stages(DEMO_NUCLA, out, ["123"], ["123"]))


# ------------------------------------------------------------------ PKU-MMD: which frames


def original_pku_frames(start: int, end: int, rng=None, drop: bool = True) -> list[int]:
    """Spec §4.3.2, checked statement by statement against ``construct_st_roi`` of the
    original's ``feeder/segment_rgbbody_pku.py``: label frame numbers, ``len = end - start``,
    from ``start`` (or a random ``start'``) every ``s`` up to ``end`` inclusive, values equal
    to 0 or to ``6 s`` dropped (``drop``), the first 5 kept (the original pastes the rest
    past the right edge of its 5-column canvas)."""
    length = end - start
    step, first = length // 6, start
    if rng is not None:
        step = int(rng.integers(1, length // 6 + 1))
        first = start + int(rng.integers(0, length - 6 * step + 1))
    out = [f for f in range(first, end + 1, step) if not drop or f not in (0, 6 * step)]
    return out[:5]


def test_pku_windows_count_from_their_first_frame():
    # a 61-frame window (label 100..160): s = 60 // 6 = 10, the first frame included
    np.testing.assert_array_equal(evaluation_frames(61, rule="from_start"), [0, 10, 20, 30, 40])
    np.testing.assert_array_equal(evaluation_frames(61), [10, 20, 30, 40, 50])  # NTU's rule
    # 7 frames: s = 1, frames 0..4; 6 or 3 frames: s = 0 -> the short rule, its zero kept
    np.testing.assert_array_equal(evaluation_frames(7, rule="from_start"), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(evaluation_frames(6, rule="from_start"), [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(evaluation_frames(3, rule="from_start"), [0, 0, 1, 1, 2])
    with pytest.raises(ValueError, match="frame rule"):
        evaluation_frames(61, rule="from_end")


@pytest.mark.parametrize("start,end", [(1, 61), (200, 231), (37, 400), (5, 12)])
def test_pku_frames_are_the_originals_label_numbers(start, end):
    """Sample frame i is label frame ``start + i``: our frames plus ``start`` are the
    original's label numbers, evaluation and every random draw (same generator calls)."""
    n = end - start + 1
    evaluation = (start + evaluation_frames(n, rule="from_start")).tolist()
    assert evaluation == original_pku_frames(start, end, drop=False)
    if 6 * ((end - start) // 6) not in evaluation:  # (5, 12): the original drops label 6
        assert evaluation == original_pku_frames(start, end)
    ours, theirs = np.random.default_rng(7), np.random.default_rng(7)
    for _ in range(200):
        draw = random_interval_frames(n, 5, ours, rule="from_start")
        state = theirs.bit_generator.state
        # the original's drop rule meets absolute label numbers only by coincidence (a frame
        # numbered 6 s'); we drop nothing (docs/rgb.md), otherwise the frames are the same
        assert (start + draw).tolist() == original_pku_frames(start, end, theirs, drop=False)
        theirs.bit_generator.state = state
        dropped = original_pku_frames(start, end, theirs)
        if 6 * (draw[1] - draw[0]) - start not in draw:
            assert (start + draw).tolist() == dropped
        assert draw.min() >= 0 and draw.max() <= n - 1  # never past the window's last frame


def test_pku_selection_never_leaves_the_window():
    for n in (1, 2, 5, 6, 7, 13, 64, 300):
        selection = select_frames(n, f"F002V001C001L{n:03d}", draws=20, rule="from_start")
        used = np.concatenate([selection.evaluation, selection.training.ravel()])
        used = used[used >= 0]
        assert used.size and used.max() <= n - 1


def test_pku_first_and_last_sample_frames_are_video_frames_start_minus_1_and_end_minus_1(pku):
    _, summary, table, _ = pku
    row = table.loc[summary.planted["window_ends_on_last_frame"]].to_dict()
    with open_frames(DEMO_PKU, row) as source:
        assert source.n_frames == row["end"] - row["start"] + 1
        assert source.pose_index(0) == row["start"] - 1
        assert source.pose_index(source.n_frames - 1) == row["end"] - 1 == source.total_frames - 1
        images = source.read([0, source.n_frames - 1])
    with VideoReader(row["video_path"]) as reader:
        direct = reader.read([row["start"] - 1, row["end"] - 1])
    np.testing.assert_array_equal(images[0], direct[row["start"] - 1])
    np.testing.assert_array_equal(images[source.n_frames - 1], direct[row["end"] - 1])
    assert table.loc[row["sample"], "roi_status"] in ("ok", "partial")


def test_pku_window_past_the_video_is_recorded_with_its_reason(pku):
    _, summary, table, store = pku
    past = summary.planted["window_past_video_end"]
    assert table.loc[past, "status"] == "ok"  # the skeleton holds the window
    assert table.loc[past, "roi_status"] == STATUS_FRAME_COUNT_MISMATCH
    reason = table.loc[past, "roi_reason"]
    assert table.loc[past, "video_path"] in reason and "the sample needs frames" in reason
    assert not store.available[int(np.flatnonzero(table["sample"] == past)[0])]
    usable = table[table["status"] == "ok"]
    assert (usable["roi_status"].isin(["ok", "partial"]) | (usable.index == past)).all()


def test_pku_two_person_layout_only_for_its_two_person_classes(pku):
    out, _, table, _ = pku
    layouts = zarr.open_group(out / "roi.zarr", mode="r")["column_layout"][:]
    table = table.reset_index(drop=True)
    pair = (table["label"] + 1).isin(DEMO_PKU.two_person_actions).to_numpy()
    assert pair.any() and (~pair).any()
    assert (layouts[pair] == TWO_PERSON).sum() > 0.8 * (layouts[pair] != 0).sum()
    assert not (layouts[~pair] == TWO_PERSON).any()
    assert (table.loc[~pair, "two_person_columns"] == 0).all()


def test_two_person_column_puts_person_0_left_and_person_1_right():
    image = np.zeros((200, 300, 3), np.uint8)
    image[:, :150], image[:, 150:] = 80, 200  # person 0 stands in the dark half
    people = np.zeros((2, 25, 3))
    people[0, :, :2], people[1, :, :2], people[:, :, 2] = (60, 100), (240, 100), 1.0
    column = build_column(image, people, 24, two_person=True)
    assert column.shape == (120, 24, 3)
    assert (column[:, :12] == 80).all() and (column[:, 12:] == 200).all()
    single = build_column(image, people, 24, two_person=False, person=1)
    assert (single == 200).all()


# ------------------------------------------------------------------ N-UCLA


def test_nucla_flip_swaps_the_side_rows_of_every_layout(nucla):
    """Rows 1<->2 and 3<->4 swapped, then mirrored, for single-person columns too (NTU
    swaps only two-person columns); the stored flag says so."""
    _, _, _, store = nucla
    column = np.zeros((5 * CELL, CELL, 3), np.uint8)
    for row in range(5):
        column[row * CELL : (row + 1) * CELL, :, 0] = 10 * (row + 1)
    column[:, 0, 1] = 255  # the left edge
    flipped = flip_column(column, swap_rows=True)
    assert [int(flipped[r * CELL, 5, 0]) for r in range(5)] == [10, 30, 20, 50, 40]
    assert (flipped[:, -1, 1] == 255).all() and (flipped[:, :-1, 1] == 0).all()
    attrs = zarr.open_group(store.path, mode="r").attrs
    assert sorted(attrs["flip_swaps_rows_for_layouts"]) == [SINGLE, TWO_PERSON]
    row = int(np.flatnonzero(store.available)[0])
    layouts = zarr.open_group(store.path, mode="r")["column_layout"][row]
    assert (layouts[layouts > 0] == SINGLE).all()
    plain, mirrored = store.tile(row), store.tile(row, flip=True)
    for k in range(plain.shape[1] // CELL):
        cells = plain[:, k * CELL : (k + 1) * CELL].reshape(5, CELL, CELL, 3)
        expected = cells[[0, 2, 1, 4, 3]].reshape(5 * CELL, CELL, 3)[:, ::-1]
        np.testing.assert_array_equal(mirrored[:, k * CELL : (k + 1) * CELL], expected)


def test_nucla_leg_shift_moves_hand_and_leg_cells_down_15_pixels_at_480_lines():
    assert DEMO_NUCLA.rgb.shift_size(480) == 15 and DEMO_NUCLA.rgb.shift_size(240) == 7.5
    assert DEMO_PKU.rgb.shift_size(1080) == 0
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    people = np.zeros((2, 25, 3))
    people[1, :, :2], people[1, :, 2] = (300, 200), 1.0
    people[1, 0, :2] = (320, 120)  # the nose
    shifted = build_column(image, people, 48, two_person=False, person=1, shift=15)
    np.testing.assert_array_equal(shifted[:48], crop(image, (296, 96, 344, 144)))  # head: no
    for row in range(1, 5):
        np.testing.assert_array_equal(
            shifted[48 * row : 48 * (row + 1)], crop(image, (276, 191, 324, 239))
        )


@pytest.mark.parametrize("with_depth", [True, False])
def test_nucla_stage_takes_the_nearest_person_by_depth_and_shifts_its_parts(tmp_path, with_depth):
    """Two detections on a 640x480 frame; the depth image (320x240 mm) puts person 1 nearer
    at its MidHip: the column is person 1's with rows 1-4 15 px lower. Without a depth image:
    detection 0, still shifted (the original's several-people branch), and a note."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "frame.png")
    depth = np.zeros((240, 320), np.uint16)
    depth[148:153, 48:53], depth[148:153, 198:203] = 3000, 2000  # person 0 far, person 1 near
    Image.fromarray(depth).save(tmp_path / "depth.png")
    source = ImageFrames([tmp_path / "frame.png"],
                         lambda: [tmp_path / "depth.png" if with_depth else None])  # fmt: skip
    people = np.zeros((2, 25, 3))
    for person, x in ((0, 100.0), (1, 400.0)):
        people[person, :, :] = (x, 250.0, 0.9)
        people[person, 0, 1] = 150.0  # the nose, above
        people[person, 8, :2] = (x, 300.0)  # MidHip
    columns = _Columns(NUCLA, {"label": 0, "sample": "S01A01E01V01"}, source)
    column, layout = columns.build(image, people, 0)
    chosen = 1 if with_depth else 0
    expected = build_column(image, people, 48, two_person=False, person=chosen, shift=15.0)
    assert layout == SINGLE
    np.testing.assert_array_equal(column, expected)
    unshifted = build_column(image, people, 48, two_person=False, person=chosen)
    np.testing.assert_array_equal(column[:48], unshifted[:48])  # the head is not moved
    assert not np.array_equal(column[48:], unshifted[48:])
    assert ("no depth image" in columns.note()) is not with_depth
    alone, _ = columns.build(image, people[1:], 0)  # one detection: no shift
    np.testing.assert_array_equal(alone, build_column(image, people[1:], 48, two_person=False))


def test_nucla_frame_problems_are_recorded_per_sample(nucla):
    _, summary, table, _ = nucla
    for case in ("missing_frame_folder", "missing_file_list"):
        sample = summary.planted[case]
        assert table.loc[sample, "status"] == "ok"  # the skeleton is fine
        assert table.loc[sample, "roi_status"] == STATUS_FRAMES_MISSING
        assert "multiview_action" in table.loc[sample, "roi_reason"]
    for case, problem in (("missing_frame_file", "listed frame file missing"),
                          ("corrupt_frame_file", "cannot read the frame")):  # fmt: skip
        sample = summary.planted[case]
        assert table.loc[sample, "roi_status"] in ("ok", "partial")  # a fallback frame
        assert "could not be read" in table.loc[sample, "roi_reason"]
        assert problem in table.loc[sample, "roi_reason"]
    assert table.loc[table["status"] == "ok", "roi_status"].isin(["ok", "partial"]).mean() > 0.8


# ------------------------------------------------------------------ the RGB-only baseline


def test_rgb_plain_trains_on_a_real_roi_store_without_a_skeleton_model(pku, tmp_path):
    out, _, table, _ = pku
    options = TrainOptions.from_dict({**TINY_OPTIONS, "epochs": 1, "lr_steps": []})
    job = TrainJob(dataset="demopku", kind="demo_pku", protocol="xview", stream="rgb_plain",
                   options=options, samples=str(out / "samples.parquet"),
                   skeleton=str(out / "sk.zarr"), out_dir=str(tmp_path / "rgb_plain"),
                   roi=str(out / "roi.zarr"))  # fmt: skip
    metrics = train_stream(job, threads=2)
    checkpoint = torch.load(tmp_path / "rgb_plain" / "model.pt", weights_only=True)
    keys = checkpoint["state_dict"].keys()
    assert all(key.startswith("resnet.") for key in keys) and "resnet.fc.weight" in keys
    assert not any(key.startswith("stgcn.") for key in keys)  # no skeleton attention
    scores = read_scores(tmp_path / "rgb_plain" / "scores.parquet")
    test_rows = int((~table["xview"] & (table["status"] == "ok")).sum())
    assert scores.attrs["scores"].shape == (test_rows, DEMO_PKU.num_class)
    assert metrics["test"]["samples"] == test_rows
    assert np.isfinite(scores.attrs["scores"]).all()
