"""Config entries of the PKU-MMD and N-UCLA kinds: their raw-path keys and protocol names."""

from __future__ import annotations

import copy

import pytest
from conftest import realdata

from mmnet.config import ConfigError, raw_paths, validate_config

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
    ],
    ids=["no-labels", "no-splits", "labels-on-ntu", "splits-on-nucla", "nucla-protocol", "pku-protocol"],
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
    config = validate_config(_config(pku=entry))
    with pytest.raises(
        ConfigError, match=r"datasets\.pku\.splits: folder '/nowhere/x' does not exist"
    ):
        raw_paths(config, "pku")
    config["datasets"]["pku"]["splits"] = str(root / "Split")
    paths = raw_paths(config, "pku")
    assert paths.extra == {"labels": root, "splits": root / "Split"}
