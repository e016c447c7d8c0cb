# RGB front end: selected frames -> 2D pose -> five-frame ROI (docs/rgb.md).
# Only the frames the ROI needs are ever decoded; pose runs on those frames only. The frames
# come from videos (NTU, PKU-MMD) or frame folders (N-UCLA): rgb_inputs.


rule extract_frames:
    input:
        unpack(rgb_inputs),
        samples="results/{dataset}/samples.parquet",
    output:
        directory("results/{dataset}/frames/{scatteritem}"),
    log:
        "results/logs/extract_frames/{dataset}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/extract_frames/{dataset}_{scatteritem}.tsv"
    conda:
        "../envs/video.yaml"
    resources:
        mem_mb=2000,
        runtime=120,
    params:
        entry=dataset_entry,
        frames=config["frames"],
    script:
        "../workflow/scripts/extract_frames.py"


rule extract_pose2d:
    input:
        unpack(pose2d_inputs),
    output:
        store=temp(directory("results/{dataset}/shards/pose2d_{scatteritem}.zarr")),
        table=temp("results/{dataset}/shards/pose2d_{scatteritem}.parquet"),
    log:
        "results/logs/extract_pose2d/{dataset}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/extract_pose2d/{dataset}_{scatteritem}.tsv"
    conda:
        pose2d_env
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=pose2d_gpus,
    params:
        entry=dataset_entry,
        frames=config["frames"],
        pose2d=config["pose2d"],
    script:
        "../workflow/scripts/extract_pose2d.py"


rule gather_pose2d:
    input:
        samples="results/{dataset}/samples.parquet",
        stores=gather.rgb_shards("results/{{dataset}}/shards/pose2d_{scatteritem}.zarr"),
        tables=gather.rgb_shards("results/{{dataset}}/shards/pose2d_{scatteritem}.parquet"),
    output:
        store=directory("results/{dataset}/pose2d.zarr"),
        table="results/{dataset}/pose2d.parquet",
    log:
        "results/logs/gather_pose2d/{dataset}.log",
    benchmark:
        "results/benchmarks/gather_pose2d/{dataset}.tsv"
    conda:
        "../envs/video.yaml"
    script:
        "../workflow/scripts/gather_pose2d.py"


rule build_roi:
    input:
        unpack(rgb_inputs),
        samples="results/{dataset}/samples.parquet",
        pose_store="results/{dataset}/pose2d.zarr",
        pose_table="results/{dataset}/pose2d.parquet",
    output:
        store=temp(directory("results/{dataset}/shards/roi_{scatteritem}.zarr")),
        table=temp("results/{dataset}/shards/roi_{scatteritem}.parquet"),
    log:
        "results/logs/build_roi/{dataset}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/build_roi/{dataset}_{scatteritem}.tsv"
    conda:
        "../envs/video.yaml"
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        entry=dataset_entry,
        frames=config["frames"],
        roi=config["roi"],
    script:
        "../workflow/scripts/build_roi.py"


rule gather_roi:
    input:
        samples="results/{dataset}/samples.parquet",
        stores=gather.rgb_shards("results/{{dataset}}/shards/roi_{scatteritem}.zarr"),
        tables=gather.rgb_shards("results/{{dataset}}/shards/roi_{scatteritem}.parquet"),
    output:
        store=directory("results/{dataset}/roi.zarr"),
        table="results/{dataset}/roi.parquet",
    log:
        "results/logs/gather_roi/{dataset}.log",
    benchmark:
        "results/benchmarks/gather_roi/{dataset}.tsv"
    conda:
        "../envs/video.yaml"
    script:
        "../workflow/scripts/gather_roi.py"


# A contact sheet of evaluation tiles, to check by eye that the crops show head, hands, knees.
rule roi_preview:
    input:
        store="results/{dataset}/roi.zarr",
        samples="results/{dataset}/samples.parquet",
    output:
        report(
            "results/{dataset}/roi_preview.png",
            caption="../workflow/report/roi_preview.rst",
            category="RGB",
            labels={"dataset": "{dataset}", "output": "ROI preview"},
        ),
    log:
        "results/logs/roi_preview/{dataset}.log",
    benchmark:
        "results/benchmarks/roi_preview/{dataset}.tsv"
    conda:
        "../envs/video.yaml"
    params:
        entry=dataset_entry,
        roi=config["roi"],
    script:
        "../workflow/scripts/roi_preview.py"
