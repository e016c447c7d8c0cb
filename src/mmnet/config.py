"""Load and validate the pipeline configuration; the same code serves Snakemake and the CLI.

Validation fills the schema's defaults in place (so both entry points see identical configs)
and turns every failure into a :class:`ConfigError` that names the offending key. The
validated dict then becomes a :class:`Config`: typed, immutable sections that the stages
read (no string-keyed look-ups past this module).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from mmnet.datasets import DATASETS, get_dataset
from mmnet.datasets.base import Dataset, RawPaths
from mmnet.frames import FrameConfig
from mmnet.pose2d.base import PoseOptions
from mmnet.train.options import TrainOptions

SCHEMA_PATH = Path(str(resources.files("mmnet") / "resources" / "config.schema.yaml"))


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key (and path) at fault."""


def _with_defaults(validator_class: type) -> type:
    """A validator that inserts ``default`` values of absent properties before descending."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


#: libyaml's loader where PyYAML has it (its wheels do): the schema's 700 lines take 30 ms of
#: CPU with the pure-Python loader, 3 ms with this one (the same result; every process loads it).
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.cache
def _parsed_schema() -> dict:
    return yaml.load(SCHEMA_PATH.read_text(), Loader=YAML_LOADER)


def load_schema() -> dict:
    return copy.deepcopy(_parsed_schema())  # the cached one stays as read


def validate_config(config: dict) -> dict:
    """Validate ``config`` against the schema, fill defaults in place, check cross-key rules.

    Raises :class:`ConfigError` naming the key; returns ``config`` for convenience.
    """
    schema = load_schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("\n".join(_describe(e) for e in errors))
    for name, entry in config["datasets"].items():
        dataset = get_dataset(entry["kind"])
        known = list(dataset.protocols)
        entry.setdefault("protocols", known)
        entry["protocols"] = [str(p) for p in entry["protocols"]]  # N-UCLA's 123 unquoted
        unknown = [p for p in entry["protocols"] if p not in known]
        if unknown:
            raise ConfigError(
                f"datasets.{name}.protocols: {unknown} not protocols of kind "
                f"{entry['kind']!r} (known: {known})"
            )
        _check_raw_keys(name, entry, dataset)
        _check_pose_backend(name, entry, dataset)
    ensemble = config["ensemble"]
    unfused = sorted(set(ensemble["weights"]) - set(ensemble["streams"]))
    if unfused:
        raise ConfigError(
            f"ensemble.weights: {unfused} not in ensemble.streams {ensemble['streams']}"
        )
    _validate_train(config, schema)
    return config


def _check_raw_keys(name: str, entry: dict, dataset: Dataset) -> None:
    """A generated kind takes no raw path; a real one needs ``skeletons`` and its own
    required raw-path keys (PKU-MMD's ``labels``, ``splits``), and other kinds' keys are not
    allowed."""
    kind_keys = {
        key for other in DATASETS.values() for key in (*other.extra_paths, *other.optional_paths)
    }
    if dataset.generated is not None:
        raw_keys = {"skeletons", "videos", "missing_skeletons", *kind_keys}
        given = sorted(key for key in raw_keys if entry.get(key) is not None)
        if given:
            raise ConfigError(
                f"datasets.{name}: {given} not allowed for kind {entry['kind']!r} "
                f"(its raw files are generated under results/{name}/raw/)"
            )
        return
    if "skeletons" not in entry:
        raise ConfigError(f"datasets.{name}.skeletons: required for kind {entry['kind']!r}")
    own = {*dataset.extra_paths, *dataset.optional_paths}
    foreign = sorted(key for key in kind_keys - own if entry.get(key) is not None)
    if foreign:
        raise ConfigError(f"datasets.{name}: {foreign} not used by kind {entry['kind']!r}")
    for key, what in dataset.extra_paths.items():
        if entry.get(key) is None:
            raise ConfigError(
                f"datasets.{name}.{key}: required for kind {entry['kind']!r} (a {what})"
            )


def _check_pose_backend(name: str, entry: dict, dataset: Dataset) -> None:
    """The RGB side's per-dataset pose source must be usable for the dataset's kind (only
    checked for datasets with the RGB side: the others have no RGB stages)."""
    if not _entry_has_rgb(entry):
        return
    backend = entry.get("pose_backend", "kinect")
    generated_json = dataset.generated is not None and dataset.generated.openpose_json
    if backend == "import" and not entry.get("openpose_json") and not generated_json:
        raise ConfigError(
            f"datasets.{name}.openpose_json: required by pose_backend 'import' "
            "(the folder of OpenPose *_keypoints.json subfolders)"
        )
    if backend != "import" and entry.get("openpose_json"):
        raise ConfigError(
            f"datasets.{name}.openpose_json: only used by pose_backend 'import' "
            f"(pose_backend is {backend!r})"
        )
    if backend == "kinect" and type(dataset).color_joints is Dataset.color_joints:
        raise ConfigError(
            f"datasets.{name}.pose_backend: kind {entry['kind']!r} has no colour-space "
            "skeleton joints, so 'kinect' cannot be used (choose import, openpose or mediapipe)"
        )


def _describe(error: jsonschema.ValidationError) -> str:
    key = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return f"{key}: unknown key(s) {extra}; allowed: {allowed}"
    if "propertyNames" in error.schema_path:
        if "pattern" in error.schema:
            return f"{key}: name {error.instance!r} must match {error.schema['pattern']}"
        return f"{key}: name {error.message}"
    return f"{key}: {error.message}"


def load_config(paths: Iterable[str | Path], overrides: dict | None = None) -> Config:
    """Merge YAML files (later ones update earlier ones, like ``--configfile``), validate,
    and type the result."""
    config: dict[str, Any] = {}
    for path in paths:
        _update(config, yaml.load(Path(path).read_text(), Loader=YAML_LOADER) or {})
    _update(config, overrides or {})
    return Config.from_dict(config)


def _update(base: dict, new: dict) -> None:
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _update(base[key], value)
        else:
            base[key] = value


def dataset_of(config: dict, name: str) -> Dataset:
    """The :class:`Dataset` of entry ``name`` of a (validated) config dict."""
    try:
        entry = config["datasets"][name]
    except KeyError:
        known = sorted(config.get("datasets", {}))
        raise ConfigError(
            f"datasets.{name}: no such dataset in the config (have {known})"
        ) from None
    return get_dataset(entry["kind"])


def raw_root(name: str) -> Path:
    """Where a generated (demo) dataset's raw files go."""
    return Path("results") / name / "raw"


def raw_paths_of(name: str, entry: dict, check: bool = True) -> RawPaths:
    """Resolve a dataset entry's raw paths; with ``check``, a missing one is a ConfigError
    naming the key and the path. Generated (demo) datasets live under :func:`raw_root`, as
    their kind's :attr:`~mmnet.datasets.base.Dataset.generated` lays them out."""
    dataset = get_dataset(entry["kind"])
    if dataset.generated is not None:
        return dataset.generated.raw_paths(raw_root(name))
    skeletons = entry["skeletons"]
    folders = tuple(Path(p) for p in ([skeletons] if isinstance(skeletons, str) else skeletons))
    extra_paths = {
        **dataset.extra_paths,
        **{key: what for key, what in dataset.optional_paths.items() if entry.get(key)},
    }
    missing = entry.get("missing_skeletons")
    paths = RawPaths(
        skeletons=folders,
        videos=Path(entry["videos"]) if entry.get("videos") else None,
        missing_skeletons=Path(missing) if missing else None,
        extra={key: Path(entry[key]) for key in extra_paths},
    )
    if check:
        for key, what in extra_paths.items():
            path = paths.extra[key]
            exists = path.is_dir() if what == "folder" else path.is_file()
            _require(exists, f"datasets.{name}.{key}", path, what)
        for folder in paths.skeletons:
            _require(folder.is_dir(), f"datasets.{name}.skeletons", folder, "folder")
        if paths.videos is not None:
            _require(paths.videos.is_dir(), f"datasets.{name}.videos", paths.videos, "folder")
        if paths.missing_skeletons is not None:
            _require(
                paths.missing_skeletons.is_file(),
                f"datasets.{name}.missing_skeletons",
                paths.missing_skeletons,
                "file",
            )
    return paths


def _entry_has_rgb(entry: Mapping[str, Any]) -> bool:
    """Whether a validated entry gets the RGB side: it names its kind's RGB source
    (``videos`` for NTU and PKU-MMD, ``frames`` for N-UCLA: ``RgbSpec.source``), or its kind
    is generated with one (:class:`~mmnet.datasets.base.GeneratedRaw`)."""
    dataset = get_dataset(entry["kind"])
    if dataset.generated is not None:
        return dataset.generated.has(dataset.rgb.source)
    return bool(entry.get(dataset.rgb.source))


def _openpose_json(name: str, entry: Mapping[str, Any]) -> Path | None:
    """The OpenPose JSON folder of ``pose_backend: import``: the entry's, else, for a
    generated kind, the one its generator writes under :func:`raw_root`."""
    if entry.get("openpose_json"):
        return Path(entry["openpose_json"])
    generated = get_dataset(entry["kind"]).generated
    if entry.get("pose_backend") == "import" and generated and generated.openpose_json:
        return raw_root(name) / generated.openpose_json
    return None


def _require(ok: bool, key: str, path: Path | str, what: str) -> None:
    if not ok:
        raise ConfigError(f"{key}: {what} {str(path)!r} does not exist (edit the config file)")


# --------------------------------------------------------------------------------------
# Training options: top-level `train` keys, then `presets`, then `overrides` (see schema).

TRAIN_STREAMS = ("joint", "bone", "rgb", "rgb_plain", "teacher")
#: Streams that read the ROI (only datasets with the RGB side have them).
RGB_STREAMS = ("rgb", "rgb_plain")
_TRAIN_RULE_LISTS = ("presets", "overrides")
_NOT_OPTIONS = (*_TRAIN_RULE_LISTS, "protocols")


def _resolve_train(config: dict, dataset: str, protocol: str, stream: str) -> dict:
    """The ``train`` keys, updated by every matching rule of ``presets``, then ``overrides``.

    Two passes: the rules that do not match on ``backbone`` decide the backbone; then every
    rule applies, with the backbone among the facts it can match (MS-G3D's recipe)."""
    facts = _train_facts(config, dataset, protocol, stream)
    facts["backbone"] = _apply_rules(config, facts)["backbone"]
    return _apply_rules(config, facts)


def _apply_rules(config: dict, facts: dict[str, str]) -> dict:
    """The ``train`` keys updated by the rules whose ``match`` fits ``facts`` (a rule naming
    a fact that ``facts`` lacks does not apply)."""
    train = config["train"]
    options = {k: copy.deepcopy(v) for k, v in train.items() if k not in _NOT_OPTIONS}
    for rule in (rule for key in _TRAIN_RULE_LISTS for rule in train[key]):
        match = rule["match"]
        if all(key in facts and facts[key] in _as_list(value) for key, value in match.items()):
            options.update(copy.deepcopy(rule["set"]))
    return options


def _train_facts(config: dict, dataset: str, protocol: str, stream: str) -> dict[str, str]:
    kind = dataset_of(config, dataset)
    return {
        "dataset": dataset,
        "kind": kind.kind,
        "layout": kind.layout_name,
        "protocol": protocol,
        "stream": stream,
    }


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _validate_train(config: dict, schema: dict) -> None:
    """Rule ``set`` values obey the schema of the ``train`` key they name; rules name
    datasets that exist; every resolved training is consistent."""
    option_schemas = {
        key: sub
        for key, sub in schema["properties"]["train"]["properties"].items()
        if key not in _NOT_OPTIONS
    }
    for list_name in _TRAIN_RULE_LISTS:
        for i, rule in enumerate(config["train"][list_name]):
            where = f"train.{list_name}[{i}]"
            unknown = sorted(set(rule["set"]) - set(option_schemas))
            if unknown:
                raise ConfigError(
                    f"{where}.set: unknown key(s) {unknown}; allowed: {sorted(option_schemas)}"
                )
            for key, value in rule["set"].items():
                error = jsonschema.exceptions.best_match(
                    jsonschema.Draft202012Validator(option_schemas[key]).iter_errors(value)
                )
                if error is not None:
                    raise ConfigError(f"{where}.set.{key}: {error.message}")
            if "backbone" in rule["match"] and "backbone" in rule["set"]:
                raise ConfigError(f"{where}: a rule that matches on backbone cannot set it")
            names = _as_list(rule["match"].get("dataset", []))
            missing = sorted(set(names) - set(config["datasets"]))
            if missing:
                raise ConfigError(f"{where}.match.dataset: {missing} not datasets of this config")
    for name, protocols in config["train"]["protocols"].items():
        if name not in config["datasets"]:
            raise ConfigError(f"train.protocols.{name}: not a dataset of this config")
        unknown = sorted(set(protocols) - set(config["datasets"][name]["protocols"]))
        if unknown:
            raise ConfigError(f"train.protocols.{name}: {unknown} not protocols of {name}")
    for name, entry in config["datasets"].items():
        for protocol in entry["protocols"]:
            for stream in TRAIN_STREAMS:
                options = _resolve_train(config, name, protocol, stream)
                where = f"train: {name}_{protocol} {stream}"
                if options["selection"] == "best_val" and options["val_fraction"] == 0:
                    raise ConfigError(
                        f"{where}: selection 'best_val' needs val_fraction > 0 "
                        "(or selection 'last')"
                    )
                if stream in ("rgb", "teacher") and options["backbone"] != "stgcn":
                    raise ConfigError(
                        f"{where}: backbone must be stgcn (the rgb stream's attention comes "
                        "from an ST-GCN joint model)"
                    )
                try:
                    TrainOptions.from_dict(options)
                except ValueError as error:
                    raise ConfigError(f"{where}: {error}") from None


# --------------------------------------------------------------------------------------
# The typed view: what stages read.


@dataclass(frozen=True)
class SkeletonOptions:
    """The ``skeleton`` section (see the schema)."""

    on_error: str = "fail"
    compression_level: int = 1


@dataclass(frozen=True)
class FloorOptions:
    """The ``floors`` section: when a stage keeps too few samples to go on (see schema)."""

    min_kept: float = 0.5


@dataclass(frozen=True)
class RoiOptions:
    """The ``roi`` section (see the schema)."""

    preview_tiles: int = 16


@dataclass(frozen=True)
class EnsembleOptions:
    """The ``ensemble`` section (see the schema)."""

    streams: tuple[str, ...] = ("joint", "bone", "rgb")
    weights: Mapping[str, float] | None = None
    softmax: bool = False


@dataclass(frozen=True)
class DatasetConfig:
    """One entry of ``datasets``: its name, kind, protocols, raw paths and pose source."""

    name: str
    kind: Dataset
    protocols: tuple[str, ...]
    pose_backend: str
    openpose_json: Path | None
    entry: Mapping[str, Any]  # the validated entry (raw paths are resolved from it)

    @property
    def generated(self) -> bool:
        """Its raw files are generated under ``results/<name>/raw`` (a demo kind, see
        :attr:`~mmnet.datasets.base.Dataset.generated`)."""
        return self.kind.generated is not None

    @property
    def has_rgb(self) -> bool:
        """Whether it gets the RGB side (frames, 2D pose, ROI, rgb stream): datasets whose
        entry names their RGB source (``videos``; N-UCLA's ``frames``), and generated ones
        whose kind generates it."""
        return _entry_has_rgb(self.entry)

    @property
    def rgb_source(self) -> str:
        """The config key of its RGB source: ``videos`` or ``frames`` (``RgbSpec.source``)."""
        return self.kind.rgb.source

    def rgb_path(self, check: bool = True) -> Path | None:
        """Its RGB source's folder (videos or frame folders), None when not configured."""
        paths = self.raw_paths(check)
        return paths.videos if self.rgb_source == "videos" else paths.extra.get(self.rgb_source)

    def raw_paths(self, check: bool = True) -> RawPaths:
        """Its raw paths; with ``check``, a missing one is a ConfigError naming key and path."""
        return raw_paths_of(self.name, dict(self.entry), check)


@dataclass(frozen=True)
class Config:
    """The validated configuration as typed sections; build it with :meth:`from_dict` or
    :func:`load_config`."""

    source: Mapping[str, Any]  # the validated dict, defaults filled in
    datasets: Mapping[str, DatasetConfig]
    skeleton: SkeletonOptions
    frames: FrameConfig
    pose2d: PoseOptions
    roi: RoiOptions
    ensemble: EnsembleOptions
    floors: FloorOptions

    @classmethod
    def from_dict(cls, config: dict) -> Config:
        """Validate ``config`` (filling the schema's defaults into it) and type it."""
        validate_config(config)
        datasets = {
            name: DatasetConfig(
                name=name,
                kind=get_dataset(entry["kind"]),
                protocols=tuple(entry["protocols"]),
                pose_backend=entry.get("pose_backend", "kinect"),
                openpose_json=_openpose_json(name, entry),
                entry=copy.deepcopy(entry),
            )
            for name, entry in config["datasets"].items()
        }
        ensemble = config["ensemble"]
        return cls(
            source=config,
            datasets=datasets,
            skeleton=SkeletonOptions(**config["skeleton"]),
            frames=FrameConfig(**config["frames"]),
            pose2d=PoseOptions.from_dict(config["pose2d"]),
            roi=RoiOptions(**config["roi"]),
            ensemble=EnsembleOptions(
                tuple(ensemble["streams"]), dict(ensemble["weights"]), ensemble["softmax"]
            ),
            floors=FloorOptions(**config["floors"]),
        )

    def demo_options(self, name: str) -> dict[str, Any]:
        """The generator options of generated dataset ``name``: the config section named
        like its kind (``demo``, ``demo_pku``, ``demo_nucla``; see the schema)."""
        return copy.deepcopy(dict(self.source[self.dataset(name).kind.kind]))

    def dataset(self, name: str) -> DatasetConfig:
        try:
            return self.datasets[name]
        except KeyError:
            raise ConfigError(
                f"datasets.{name}: no such dataset in the config (have {sorted(self.datasets)})"
            ) from None

    def train_options(self, dataset: str, protocol: str, stream: str) -> TrainOptions:
        """The hyper-parameters of one ``(dataset, protocol, stream)`` training."""
        self.dataset(dataset)
        return TrainOptions.from_dict(_resolve_train(dict(self.source), dataset, protocol, stream))

    def rgb_teacher(self, dataset: str, protocol: str) -> str:
        """The stream whose model gives the rgb stream its attention: the joint stream when
        it is an ST-GCN, else the protocol's own ``teacher`` training."""
        joint = self.train_options(dataset, protocol, "joint")
        return "joint" if joint.backbone == "stgcn" else "teacher"

    def trained_protocols(self, dataset: str) -> list[str]:
        """Protocols trained by default (``train.protocols``, else all of the dataset)."""
        default = list(self.dataset(dataset).protocols)
        return list(self.source["train"]["protocols"].get(dataset, default))

    def fused_streams(self, dataset: str) -> list[str]:
        """The streams ``ensemble.json`` fuses for ``dataset``: ``ensemble.streams``, less
        ``rgb`` and ``rgb_plain`` for a dataset without the RGB side (which then fuses its
        skeleton streams)."""
        streams = list(self.ensemble.streams)
        if self.dataset(dataset).has_rgb:
            return streams
        return [s for s in streams if s not in RGB_STREAMS]

    def fused_weights(self, dataset: str) -> dict[str, float]:
        """``ensemble.weights`` of the streams :meth:`fused_streams` fuses."""
        streams = self.fused_streams(dataset)
        return {s: w for s, w in (self.ensemble.weights or {}).items() if s in streams}

    def runs_extract_frames(self, dataset: str) -> bool:
        """Whether extract_frames runs for ``dataset`` (the OpenPose binary, kept frames)."""
        from mmnet.pose2d import runs_extract_frames

        backend = self.dataset(dataset).pose_backend
        return runs_extract_frames(backend, self.pose2d, self.frames.keep)
