# MMNet reference pipeline: raw NTU RGB+D / PKU-MMD / N-UCLA downloads -> fused accuracy.
# Usage: snakemake --cores 8 results/ntu60_xsub/ensemble.json   (see README.md, docs/)
from snakemake.utils import min_version

min_version("9.0")


# `--configfile X` replaces the default config instead of being merged into it, so that
# `--configfile config/demo.yaml` runs the demo only.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


# Parallelism is a runtime knob: raise it on a cluster with `--set-scatter skeleton_shards=64`.
# rgb_shards: extract_frames, extract_pose2d and build_roi (frames shard i feeds pose shard i).
scattergather:
    skeleton_shards=8,
    rgb_shards=8,


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/ensemble.smk"
include: "rules/video.smk"
include: "rules/train.smk"


onsuccess:
    log_fused_accuracy()


rule all:
    default_target: True
    input:
        final_targets(),
    localrule: True
