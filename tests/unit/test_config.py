"""Config validation: defaults filled, and every error names the key (and path)."""

from __future__ import annotations

import copy

import pytest
from conftest import REPO

from mmnet.config import Config, ConfigError, SkeletonOptions, load_config, validate_config

NTU = {"datasets": {"ntu60": {"kind": "ntu60", "skeletons": "/nowhere/skeletons"}}}


def test_defaults_are_filled():
    config = validate_config(copy.deepcopy(NTU))
    assert config["skeleton"] == {"on_error": "fail", "compression_level": 1}
    assert config["datasets"]["ntu60"]["protocols"] == ["xsub", "xview"]
    assert config["datasets"]["ntu60"]["missing_skeletons"] is None
    assert config["demo"]["seed"] == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda c: c["datasets"]["ntu60"].update(skeleton="x"), "datasets.ntu60: unknown key(s) ['skeleton']"),
        (lambda c: c.update(skelton={}), "(top level): unknown key(s) ['skelton']"),
        (lambda c: c["datasets"]["ntu60"].update(kind="ntu61"), "datasets.ntu60.kind: 'ntu61' is not one of"),
        (lambda c: c["datasets"]["ntu60"].update(protocols=["xset"]), "datasets.ntu60.protocols: ['xset'] not protocols"),
        (lambda c: c["datasets"]["ntu60"].pop("skeletons"), "datasets.ntu60.skeletons: required"),
        (lambda c: c["datasets"]["ntu60"].update(kind="pku"), "datasets.ntu60.labels: required for kind 'pku'"),
        (lambda c: c["datasets"].update(ntu_60=c["datasets"]["ntu60"]), "name 'ntu_60' must match"),
        (lambda c: c.update(skeleton={"on_error": "ignore"}), "skeleton.on_error: 'ignore' is not one of"),
        (lambda c: c.pop("datasets"), "'datasets' is a required property"),
        (lambda c: c.update(datasets={"d": {"kind": "demo", "skeletons": "x"}}), "not allowed for kind 'demo'"),
    ],
    ids=["dataset-key", "top-key", "kind", "protocol", "no-skeletons", "pku-labels", "name", "enum", "no-datasets", "demo-paths"],
)  # fmt: skip
def test_errors_name_the_key(change, message):
    config = copy.deepcopy(NTU)
    change(config)
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    assert message in str(info.value)


def test_missing_raw_folder_names_key_and_path(tmp_path):
    config = Config.from_dict(copy.deepcopy(NTU))
    with pytest.raises(
        ConfigError, match=r"datasets\.ntu60\.skeletons: folder '/nowhere/skeletons' does not exist"
    ):
        config.dataset("ntu60").raw_paths()
    entry = {**NTU["datasets"]["ntu60"], "skeletons": str(tmp_path), "videos": str(tmp_path / "v")}
    config = Config.from_dict({**copy.deepcopy(NTU), "datasets": {"ntu60": entry}})
    with pytest.raises(ConfigError, match=r"datasets\.ntu60\.videos: folder"):
        config.dataset("ntu60").raw_paths()


def test_shipped_configs_are_valid():
    main = load_config([REPO / "config" / "config.yaml"])
    assert set(main.datasets) == {"ntu60", "ntu120", "pku", "nucla"}
    assert len(main.dataset("ntu120").raw_paths(check=False).skeletons) == 2
    demo = load_config([REPO / "config" / "demo.yaml"])
    assert list(demo.datasets) == ["demo"]
    for name, kind in (("demo_pku", "demopku"), ("demo_nucla", "demonucla")):
        config = load_config([REPO / "config" / f"{name}.yaml"])
        assert list(config.datasets) == [kind] and config.dataset(kind).kind.kind == name


def test_later_files_update_earlier_ones(tmp_path):
    override = tmp_path / "o.yaml"
    override.write_text("skeleton: {on_error: reject}\n")
    config = load_config([REPO / "config" / "config.yaml", override])
    assert config.skeleton == SkeletonOptions(on_error="reject", compression_level=1)


def test_ensemble_defaults_and_errors():
    config = validate_config(copy.deepcopy(NTU))
    assert config["ensemble"] == {
        "streams": ["joint", "bone", "rgb"],
        "weights": {},
        "softmax": False,
    }
    for ensemble, message in [
        (
            {"streams": ["joint"], "weights": {"rgb": 2}},
            "ensemble.weights: ['rgb'] not in ensemble.streams ['joint']",
        ),
        ({"streams": ["jiont"]}, "ensemble.streams.0: 'jiont' is not one of"),
        ({"weights": {"bnoe": 1}}, "ensemble.weights: name 'bnoe' is not one of"),
        ({"weights": {"bone": -1}}, "ensemble.weights.bone: -1 is less than the minimum of 0"),
        ({"streams": []}, "ensemble.streams: [] should be non-empty"),
    ]:
        with pytest.raises(ConfigError) as info:
            validate_config({**copy.deepcopy(NTU), "ensemble": ensemble})
        assert message in str(info.value)


def test_datasets_without_videos_fuse_their_skeleton_streams():
    config = load_config([REPO / "config" / "config.yaml"])
    assert all(config.dataset(name).has_rgb for name in ("ntu60", "ntu120", "pku", "nucla"))
    assert config.dataset("nucla").rgb_source == "frames"  # N-UCLA ships frame folders
    assert config.fused_streams("ntu60") == ["joint", "bone", "rgb"]
    assert config.fused_streams("pku") == config.fused_streams("nucla") == ["joint", "bone", "rgb"]
    entry = {"kind": "pku", "skeletons": "/s", "labels": "/l", "splits": "/p"}
    bare = Config.from_dict({"datasets": {"pku": entry}})  # no videos: no RGB side
    assert not bare.dataset("pku").has_rgb and bare.fused_streams("pku") == ["joint", "bone"]
    demo = load_config([REPO / "config" / "demo.yaml"])
    assert demo.dataset("demo").has_rgb and demo.fused_streams("demo") == ["joint", "bone", "rgb"]
