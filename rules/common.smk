# Config validation, dataset tables, wildcard constraints and input/param functions.
# No rules here (the linter wants functions and rules in separate files).
import re
from pathlib import Path

from snakemake.exceptions import WorkflowError

from mmnet.config import ConfigError, raw_paths, raw_root, validate_config
from mmnet.pose2d import IMAGE_BACKENDS

try:
    validate_config(config)
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}") from None

DATASETS = sorted(config["datasets"])
PROTOCOLS = {name: config["datasets"][name]["protocols"] for name in DATASETS}
DEMO_DATASETS = [name for name in DATASETS if config["datasets"][name]["kind"] == "demo"]
# Datasets with videos get the RGB stages (frames, 2D pose, ROI) in the default target.
RGB_DATASETS = [
    name for name in DATASETS if name in DEMO_DATASETS or config["datasets"][name].get("videos")
]


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
        f"results/{name}/{output}"
        for name in RGB_DATASETS
        for output in ("pose2d.zarr", "roi.zarr")
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
    inputs |= {key: str(path) for key, path in paths.extra.items()}
    if paths.missing_skeletons is not None:
        inputs["missing_skeletons"] = str(paths.missing_skeletons)
    return inputs


def dataset_entry(wildcards):
    """The dataset's config entry (kind, paths, protocols): a param, so edits rerun the index."""
    return config["datasets"][wildcards.dataset]


# --- RGB stages (rules/video.smk) ---------------------------------------------------------


def pose_backend(wildcards):
    return config["datasets"][wildcards.dataset]["pose_backend"]


def needs_frames(wildcards):
    """Pose backends that look at pixels get the extract_frames output."""
    return pose_backend(wildcards) in IMAGE_BACKENDS


def video_inputs(wildcards):
    """The dataset's video folder (the demo's is generated with its raw files).

    A dataset without `videos` stops the run before any job, naming the key.
    """
    name = wildcards.dataset
    if name in DEMO_DATASETS:
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
    """OpenPose runs on a GPU; the other backends on the CPU."""
    return 1 if pose_backend(wildcards) == "openpose" else 0


def frames_output(path):
    """Extracted frames are temporary unless `frames.keep` is set."""
    return directory(path) if config["frames"]["keep"] else temp(directory(path))
