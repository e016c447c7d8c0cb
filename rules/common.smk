# Config validation, dataset tables, wildcard constraints and input/param functions.
# No rules here (the linter wants functions and rules in separate files).
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from mmnet.config import (
    ConfigError,
    fused_streams,
    fused_weights,
    has_rgb,
    is_generated,
    raw_paths,
    raw_root,
    train_options,
    trained_protocols,
    validate_config,
)
from mmnet.pose2d import runs_extract_frames

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}") from None

DATASETS = sorted(config["datasets"])
PROTOCOLS = {name: config["datasets"][name]["protocols"] for name in DATASETS}
# Demo datasets: their raw files are generated (rule demo_dataset), not configured.
GENERATED_DATASETS = [name for name in DATASETS if is_generated(config, name)]
# Datasets with videos get the RGB stages (frames, 2D pose, ROI) in the default target.
RGB_DATASETS = [name for name in DATASETS if has_rgb(config, name)]


def one_of(names):
    """Regex matching exactly one of ``names`` (or nothing, when empty)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


wildcard_constraints:
    dataset=one_of(DATASETS),
    protocol=one_of(sorted({p for protocols in PROTOCOLS.values() for p in protocols})),


def final_targets():
    """What `snakemake` with no target builds: every stage, up to the fused accuracy."""
    return (
        [
            f"results/{name}/{output}"
            for name in DATASETS
            for output in ("samples.parquet", "skeleton.zarr")
        ]
        + [
            f"results/{name}/{output}"
            for name in RGB_DATASETS
            for output in ("pose2d.zarr", "roi.zarr")
        ]
        + [
            # the whole chain: every stream trained and fused
            f"results/{name}_{protocol}/ensemble.json"
            for name in DATASETS
            for protocol in trained_protocols(config, name)
        ]
    )


def raw_inputs(wildcards):
    """Raw inputs of a dataset: the generated demo folder, or the configured raw paths.

    A missing raw path stops the run before any job starts, naming the config key.
    """
    name = wildcards.dataset
    if name in GENERATED_DATASETS:
        return {"raw": str(raw_root(name))}
    try:
        paths = raw_paths(config, name)
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    inputs = {"skeletons": [str(path) for path in paths.skeletons]}
    inputs |= {key: str(path) for key, path in paths.extra.items()}
    if paths.missing_skeletons is not None:
        inputs["missing_skeletons"] = str(paths.missing_skeletons)
    return inputs


def demo_options(wildcards):
    """The demo generator's options: the config section named like the dataset's kind."""
    return config[dataset_kind(wildcards)]


def dataset_entry(wildcards):
    """The dataset's config entry (kind, paths, protocols): a param, so edits rerun the index."""
    return config["datasets"][wildcards.dataset]


# --- RGB stages (rules/video.smk) ---------------------------------------------------------


def pose_backend(wildcards):
    return config["datasets"][wildcards.dataset]["pose_backend"]


def needs_frames(wildcards):
    """Only the OpenPose binary with `frames.keep` reads extract_frames' (kept) output."""
    return runs_extract_frames(pose_backend(wildcards), config)


def video_inputs(wildcards):
    """The dataset's video folder (the demo's is generated with its raw files).

    A dataset without `videos` stops the run before any job, naming the key.
    """
    name = wildcards.dataset
    if name in GENERATED_DATASETS:
        return {"raw": str(raw_root(name))}
    try:
        videos = raw_paths(config, name).videos
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    if videos is None:
        raise WorkflowError(
            f"datasets.{name}.videos: required for the RGB stages (frames, pose2d, roi)"
        )
    return {"videos": str(videos)}


def pose2d_inputs(wildcards):
    """samples.parquet, the videos, and what the dataset's pose backend reads."""
    inputs = {"samples": f"results/{wildcards.dataset}/samples.parquet", **video_inputs(wildcards)}
    if needs_frames(wildcards):
        inputs["frames"] = f"results/{wildcards.dataset}/frames/{wildcards.scatteritem}"
    entry = config["datasets"][wildcards.dataset]
    if entry["pose_backend"] == "import":
        if not Path(entry["openpose_json"]).is_dir():
            raise WorkflowError(
                f"datasets.{wildcards.dataset}.openpose_json: folder "
                f"{entry['openpose_json']!r} does not exist (edit the config file)"
            )
        inputs["openpose_json"] = entry["openpose_json"]
    return inputs


def pose2d_env(wildcards):
    """The conda env of the pose backend: OpenPose and MediaPipe bring their own."""
    return {
        "openpose": "../envs/openpose.yaml",
        "mediapipe": "../envs/mediapipe.yaml",
    }.get(pose_backend(wildcards), "../envs/video.yaml")


def pose2d_gpus(wildcards):
    """OpenPose (binary or Python) runs on a GPU; the other backends on the CPU."""
    return 1 if pose_backend(wildcards) == "openpose" else 0


# --- training (rules/train.smk) ---------------------------------------------------------


def dataset_kind(wildcards):
    """The dataset's kind (ntu60, demo...): which classes, layout and frame count apply."""
    return config["datasets"][wildcards.dataset]["kind"]


def train_options_of(wildcards):
    """Resolved `train` options of a training (a param, so editing one reruns it)."""
    stream = getattr(wildcards, "stream", "rgb")  # train_rgb has no stream wildcard
    return train_options(config, wildcards.dataset, wildcards.protocol, stream)


# --- ensemble (rules/ensemble.smk) --------------------------------------------------------


def ensemble_streams(wildcards):
    """Streams the dataset fuses (no rgb for a dataset without videos)."""
    return fused_streams(config, wildcards.dataset)


def ensemble_scores(wildcards):
    """scores.parquet of every fused stream, in report order."""
    run = f"results/{wildcards.dataset}_{wildcards.protocol}"
    return [f"{run}/{stream}/scores.parquet" for stream in ensemble_streams(wildcards)]


def ensemble_weights(wildcards):
    """The configured weights of the fused streams."""
    return fused_weights(config, wildcards.dataset)
