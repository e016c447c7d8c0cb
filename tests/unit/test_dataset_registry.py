"""The dataset registry: class names, picklable kinds, and the config keys of each kind."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import pytest
from conftest import realdata

from mmnet.config import Config, ConfigError, validate_config
from mmnet.datasets import DATASETS


def test_every_kind_has_its_class_names():
    sizes = {kind: len(d.class_names) for kind, d in DATASETS.items()}
    assert sizes == {
        "ntu60": 60, "ntu120": 120, "pku": 51, "nucla": 10, "demo": 7, "demo_pku": 7,
        "demo_nucla": 6,
    }  # fmt: skip
    for dataset in DATASETS.values():
        assert len(set(dataset.class_names)) == dataset.num_class
        assert all(1 <= a <= dataset.num_class for a in dataset.two_person_actions)
    assert DATASETS["ntu120"].class_names[:60] == DATASETS["ntu60"].class_names
    assert DATASETS["nucla"].class_names == (
        "pick up with one hand", "pick up with two hands", "drop trash", "walk around",
        "sit down", "stand up", "donning", "doffing", "throw", "carry",
    )  # fmt: skip


@pytest.mark.parametrize("kind", sorted(DATASETS))
def test_every_kind_pickles_for_worker_processes(kind):
    dataset = DATASETS[kind]
    copy_ = pickle.loads(pickle.dumps(dataset))
    assert copy_.kind == kind and list(copy_.protocols) == list(dataset.protocols)


PKU = {"kind": "pku", "skeletons": "/nowhere/s", "labels": "/nowhere/l", "splits": "/nowhere/x"}


def _config(**datasets) -> dict:
    return {"datasets": copy.deepcopy(datasets)}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({k: v for k, v in PKU.items() if k != "labels"}, "datasets.d.labels: required for kind 'pku' (a folder)"),
        ({k: v for k, v in PKU.items() if k != "splits"}, "datasets.d.splits: required for kind 'pku' (a folder)"),
        ({"kind": "ntu60", "skeletons": "/s", "labels": "/l"}, "datasets.d: ['labels'] not used by kind 'ntu60'"),
        ({"kind": "nucla", "skeletons": "/s", "splits": "/x"}, "datasets.d: ['splits'] not used by kind 'nucla'"),
        ({"kind": "nucla", "skeletons": "/s", "protocols": [321]}, "datasets.d.protocols: ['321'] not protocols of kind 'nucla'"),
        ({**PKU, "protocols": ["123"]}, "datasets.d.protocols: ['123'] not protocols of kind 'pku'"),
        ({**PKU, "frames": "/f"}, "datasets.d: ['frames'] not used by kind 'pku'"),
        ({"kind": "demo_pku", "labels": "/l"}, "datasets.d: ['labels'] not allowed for kind 'demo_pku'"),
        ({"kind": "demo_nucla", "skeletons": "/s", "frames": "/f"}, "['frames', 'skeletons'] not allowed for kind 'demo_nucla'"),
    ],
    ids=["no-labels", "no-splits", "labels-on-ntu", "splits-on-nucla", "nucla-protocol", "pku-protocol",
         "frames-on-pku", "paths-on-demo-pku", "paths-on-demo-nucla"],
)  # fmt: skip
def test_errors_name_the_key(entry, message):
    with pytest.raises(ConfigError) as info:
        validate_config(_config(d=entry))
    assert message in str(info.value)


def test_nucla_protocols_are_digit_strings_quoted_or_not():
    config = validate_config(_config(a={"kind": "nucla", "skeletons": "/s", "protocols": [123, "231"]},
                                     b={"kind": "nucla", "skeletons": "/s"}))  # fmt: skip
    assert config["datasets"]["a"]["protocols"] == ["123", "231"]
    assert config["datasets"]["b"]["protocols"] == ["123", "132", "231"]


def test_missing_pku_folders_name_key_and_path():
    root = realdata("pku_mmd")
    entry = {**PKU, "skeletons": str(root / "PKU_Skeleton_Renew"), "labels": str(root)}
    config = Config.from_dict(_config(pku=entry))
    with pytest.raises(
        ConfigError, match=r"datasets\.pku\.splits: folder '/nowhere/x' does not exist"
    ):
        config.dataset("pku").raw_paths()
    config = Config.from_dict(_config(pku={**entry, "splits": str(root / "Split")}))
    paths = config.dataset("pku").raw_paths()
    assert paths.extra == {"labels": root, "splits": root / "Split"}


def test_generated_kinds_take_their_raw_paths_under_results():
    config = Config.from_dict(
        _config(
            p={"kind": "demo_pku", "pose_backend": "import"},
            n={"kind": "demo_nucla", "pose_backend": "import"},
            d={"kind": "demo"},
        )
    )
    pku = config.dataset("p").raw_paths()
    assert pku.skeletons == (Path("results/p/raw/PKU_Skeleton_Renew"),)
    assert pku.extra == {"labels": Path("results/p/raw/Train_Label_PKU_final"),
                         "splits": Path("results/p/raw/Split")}  # fmt: skip
    assert pku.videos == Path("results/p/raw/RGB_VIDEO") and pku.missing_skeletons is None
    nucla = config.dataset("n").raw_paths()
    assert nucla.skeletons == (
        Path("results/n/raw/multiview_action_skeleton"),
        Path("results/n/raw/all_sqe"),
    )
    assert nucla.extra == {"frames": Path("results/n/raw/multiview_action")}
    assert nucla.videos is None
    assert config.dataset("d").raw_paths().videos == Path("results/d/raw/videos")
    assert [config.dataset(n).generated for n in "pnd"] == [True, True, True]
    assert [config.dataset(n).has_rgb for n in "pnd"] == [True, True, True]
    assert [config.dataset(n).rgb_path() for n in "pn"] == [
        Path("results/p/raw/RGB_VIDEO"), Path("results/n/raw/multiview_action"),
    ]  # fmt: skip
    # the import backend's JSON: the generated folder, unless the entry names another
    assert config.dataset("p").openpose_json == Path("results/p/raw/openpose_pkummd")
    assert config.dataset("n").openpose_json == Path("results/n/raw/openpose_ucla")
    assert config.dataset("d").openpose_json is None
    for kind in ("demo_pku", "demo_nucla"):  # no colour-space joints: kinect is refused
        with pytest.raises(ConfigError, match=r"datasets\.x\.pose_backend: .*'kinect' cannot"):
            Config.from_dict(_config(x={"kind": kind}))
    assert config.demo_options("p") == {
        "seed": 0, "subjects": 6, "sequences": 2, "frames": [40, 56], "gaps": [12, 30],
    }  # fmt: skip
    assert config.demo_options("n") == {
        "seed": 0, "subjects": 6, "environments": 2, "frames": [40, 56],
    }  # fmt: skip
    assert config.demo_options("d")["replications"] == 2


def test_nucla_frames_is_an_optional_raw_path(tmp_path):
    entry = {"kind": "nucla", "skeletons": str(tmp_path), "videos": str(tmp_path)}
    config = Config.from_dict(_config(n=entry))
    assert config.dataset("n").raw_paths().extra == {}
    assert not config.dataset("n").has_rgb  # N-UCLA's RGB side reads frames, not videos
    entry["frames"] = str(tmp_path / "multiview_action")
    with pytest.raises(ConfigError, match=r"datasets\.n\.pose_backend: .*'kinect' cannot"):
        Config.from_dict(_config(n=dict(entry)))  # frames: the RGB side, with a 2D pose source
    entry.update(pose_backend="import", openpose_json=str(tmp_path))
    config = Config.from_dict(_config(n=entry))
    assert config.dataset("n").has_rgb and config.dataset("n").rgb_source == "frames"
    with pytest.raises(
        ConfigError, match=r"datasets\.n\.frames: folder '.*multiview_action' does not exist"
    ):
        config.dataset("n").raw_paths()
    (tmp_path / "multiview_action").mkdir()
    assert config.dataset("n").raw_paths().extra == {"frames": tmp_path / "multiview_action"}
