# Config validation, dataset tables, wildcard constraints and input/param functions.
# No rules here (the linter wants functions and rules in separate files).
import re

from snakemake.exceptions import WorkflowError

from mmnet.config import (
    ConfigError,
    raw_paths,
    raw_root,
    train_options,
    trained_protocols,
    validate_config,
)

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}") from None

DATASETS = sorted(config["datasets"])
PROTOCOLS = {name: config["datasets"][name]["protocols"] for name in DATASETS}
DEMO_DATASETS = [name for name in DATASETS if config["datasets"][name]["kind"] == "demo"]


def one_of(names):
    """Regex matching exactly one of ``names`` (or nothing, when empty)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    dataset=one_of(DATASETS),
    protocol=one_of(sorted({p for protocols in PROTOCOLS.values() for p in protocols})),


def final_targets():
    """What `snakemake` with no target builds: every stage the pipeline has so far."""
    return [
        f"results/{name}/{output}"
        for name in DATASETS
        for output in ("samples.parquet", "skeleton.zarr")
    ] + [
        f"results/{name}_{protocol}/{stream}/scores.parquet"
        for name in DATASETS
        for protocol in trained_protocols(config, name)
        for stream in ("joint", "bone")
    ]


def raw_inputs(wildcards):
    """Raw inputs of a dataset: the generated demo folder, or the configured raw paths.

    A missing raw path stops the run before any job starts, naming the config key.
    """
    name = wildcards.dataset
    if name in DEMO_DATASETS:
        return {"raw": str(raw_root(name))}
    try:
        paths = raw_paths(config, name)
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    inputs = {"skeletons": [str(path) for path in paths.skeletons]}
    if paths.missing_skeletons is not None:
        inputs["missing_skeletons"] = str(paths.missing_skeletons)
    return inputs


def dataset_entry(wildcards):
    """The dataset's config entry (kind, paths, protocols): a param, so edits rerun the index."""
    return config["datasets"][wildcards.dataset]


def dataset_kind(wildcards):
    """The dataset's kind (ntu60, demo...): which classes, layout and frame count apply."""
    return config["datasets"][wildcards.dataset]["kind"]


def train_options_of(wildcards):
    """Resolved `train` options of a training (a param, so editing one reruns it)."""
    stream = getattr(wildcards, "stream", "rgb")  # train_rgb has no stream wildcard
    return train_options(config, wildcards.dataset, wildcards.protocol, stream)
