# Config validation, dataset tables, wildcard constraints and input/param functions.
# No rules here (the linter wants functions and rules in separate files).
import json
import os
import re
from pathlib import Path

# Every job inherits it: the data stages' matrices are 3x3, so BLAS worker threads only spin
# (docs/performance.md). Training uses torch's own threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# Arrow's system allocator: its default one keeps freed memory (docs/performance.md, section 1).
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from snakemake.exceptions import WorkflowError

from mmnet.config import Config, ConfigError, raw_root

try:
    CONFIG = Config.from_dict(config)  # validates, filling the schema's defaults into config
except ConfigError as error:
    raise WorkflowError(f"invalid configuration:\n{error}") from None

DATASETS = sorted(CONFIG.datasets)
PROTOCOLS = {name: CONFIG.dataset(name).protocols for name in DATASETS}
# Demo datasets: their raw files are generated (rule demo_dataset), not configured.
GENERATED_DATASETS = [name for name in DATASETS if CONFIG.dataset(name).generated]
# Datasets with their RGB source (videos; N-UCLA's frames) get the RGB stages (frames, 2D
# pose, ROI) in the default target.
RGB_DATASETS = [name for name in DATASETS if CONFIG.dataset(name).has_rgb]


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
            for output in ("pose2d.zarr", "roi.zarr", "roi_preview.png")
        ]
        + [
            # the whole chain: every stream trained and fused
            f"results/{name}_{protocol}/ensemble.json"
            for name in DATASETS
            for protocol in CONFIG.trained_protocols(name)
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
        paths = CONFIG.dataset(name).raw_paths()
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    inputs = {"skeletons": [str(path) for path in paths.skeletons]}
    inputs |= {key: str(path) for key, path in paths.extra.items()}
    if paths.missing_skeletons is not None:
        inputs["missing_skeletons"] = str(paths.missing_skeletons)
    return inputs


def demo_options(wildcards):
    """The demo generator's options: the config section named like the dataset's kind."""
    return CONFIG.demo_options(wildcards.dataset)


def dataset_entry(wildcards):
    """The dataset's config entry (kind, paths, protocols): a param, so edits rerun the index."""
    return config["datasets"][wildcards.dataset]


# --- RGB stages (rules/video.smk) ---------------------------------------------------------


def pose_backend(wildcards):
    return CONFIG.dataset(wildcards.dataset).pose_backend


def needs_frames(wildcards):
    """Only the OpenPose binary with `frames.keep` reads extract_frames' (kept) output."""
    return CONFIG.runs_extract_frames(wildcards.dataset)


def rgb_inputs(wildcards):
    """The dataset's RGB source: its videos (NTU, PKU-MMD) or frame folders (N-UCLA), or
    the demo's generated raw folder.

    A dataset without it stops the run before any job, naming the key.
    """
    name = wildcards.dataset
    if name in GENERATED_DATASETS:
        return {"raw": str(raw_root(name))}
    entry = CONFIG.dataset(name)
    try:
        path = entry.rgb_path()
    except ConfigError as error:
        raise WorkflowError(str(error)) from None
    if path is None:
        raise WorkflowError(
            f"datasets.{name}.{entry.rgb_source}: required for the RGB stages (frames, pose2d, roi)"
        )
    return {entry.rgb_source: str(path)}


def pose2d_inputs(wildcards):
    """samples.parquet, the RGB source, and what the dataset's pose backend reads."""
    inputs = {"samples": f"results/{wildcards.dataset}/samples.parquet", **rgb_inputs(wildcards)}
    if needs_frames(wildcards):
        inputs["frames"] = f"results/{wildcards.dataset}/frames/{wildcards.scatteritem}"
    entry = CONFIG.dataset(wildcards.dataset)
    if entry.pose_backend == "import" and not entry.generated:  # the demo's is in its raw
        if not entry.openpose_json.is_dir():
            raise WorkflowError(
                f"datasets.{wildcards.dataset}.openpose_json: folder "
                f"{str(entry.openpose_json)!r} does not exist (edit the config file)"
            )
        inputs["openpose_json"] = str(entry.openpose_json)
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
    return CONFIG.train_options(wildcards.dataset, wildcards.protocol, wildcards.stream).to_dict()


def rgb_teacher_model(wildcards):
    """The ST-GCN joint model that gives the rgb stream its attention: the joint stream's
    when it is an ST-GCN, else the protocol's own teacher training (backbone msg3d). The
    RGB-only baseline (rgb_plain) has none."""
    if wildcards.stream != "rgb":
        return []
    teacher = CONFIG.rgb_teacher(wildcards.dataset, wildcards.protocol)
    return f"results/{wildcards.dataset}_{wildcards.protocol}/{teacher}/model.pt"


def rgb_fusion_scores(wildcards):
    """`selection: paper` selects the rgb stream on its fusion with the skeleton streams'
    test scores (as the original's fused processor): those scores, else nothing (and
    nothing for rgb_plain, which the original selected on its own test top-1)."""
    if wildcards.stream != "rgb":
        return []
    options = CONFIG.train_options(wildcards.dataset, wildcards.protocol, "rgb")
    if options.selection != "paper":
        return []
    run = f"results/{wildcards.dataset}_{wildcards.protocol}"
    streams = [s for s in CONFIG.fused_streams(wildcards.dataset) if s in ("joint", "bone")]
    return [f"{run}/{stream}/scores.parquet" for stream in streams]


def log_fused_accuracy():
    """At the end of a successful run: the fused accuracy of every ensemble.json there is."""
    from mmnet.ensemble import summary
    from snakemake.logging import logger

    for name in DATASETS:
        for protocol in PROTOCOLS[name]:
            path = Path(f"results/{name}_{protocol}/ensemble.json")
            if path.is_file():
                logger.info(
                    f"\nFused test accuracy ({path}):\n{summary(json.loads(path.read_text()))}"
                )


# --- ensemble (rules/ensemble.smk) --------------------------------------------------------


def ensemble_streams(wildcards):
    """Streams the dataset fuses (no rgb, rgb_plain for a dataset without the RGB side)."""
    return CONFIG.fused_streams(wildcards.dataset)


def ensemble_scores(wildcards):
    """scores.parquet of every fused stream, in report order."""
    run = f"results/{wildcards.dataset}_{wildcards.protocol}"
    return [f"{run}/{stream}/scores.parquet" for stream in ensemble_streams(wildcards)]


def ensemble_weights(wildcards):
    """The configured weights of the fused streams."""
    return CONFIG.fused_weights(wildcards.dataset)
