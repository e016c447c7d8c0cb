# Training: ST-GCN on the joint and bone streams, the MMNet fusion model on the rgb stream,
# and the optional RGB-only baseline rgb_plain (ResNet-18 on the ROI, no skeleton attention).
# Outputs: results/{dataset}_{protocol}/{stream}/ (see docs/training.md). A training keeps
# resume.pt beside its outputs while it runs (undeclared, so a retried job finds it).


rule train_skeleton:
    input:
        samples="results/{dataset}/samples.parquet",
        skeleton="results/{dataset}/skeleton.zarr",
    output:
        model="results/{dataset}_{protocol}/{stream}/model.pt",
        scores="results/{dataset}_{protocol}/{stream}/scores.parquet",
        metrics="results/{dataset}_{protocol}/{stream}/metrics.json",
        history="results/{dataset}_{protocol}/{stream}/history.csv",
        curve=report(
            "results/{dataset}_{protocol}/{stream}/curve.png",
            caption="../workflow/report/curve.rst",
            category="Training",
            subcategory="{dataset}_{protocol}",
            labels={"dataset": "{dataset}", "protocol": "{protocol}", "stream": "{stream}"},
        ),
    log:
        "results/logs/train_skeleton/{dataset}_{protocol}_{stream}.log",
    benchmark:
        "results/benchmarks/train_skeleton/{dataset}_{protocol}_{stream}.tsv"
    wildcard_constraints:
        stream="joint|bone|teacher",
    conda:
        "../envs/torch.yaml"
    # CPU threads, or DataLoader workers beside a GPU; with gpu > 1 one process per GPU
    threads: 4
    resources:
        gpu=1,
        mem_mb=16000,
        # a retried job resumes from resume.pt, so a retry needs no more time than this
        runtime="24h",
    params:
        kind=dataset_kind,
        options=train_options_of,
    script:
        "../workflow/scripts/train.py"


# stream rgb (MMNet: needs the teacher's joint model) or rgb_plain (the RGB-only baseline,
# trained only when ensemble.streams names it or its files are asked for)
rule train_rgb:
    input:
        samples="results/{dataset}/samples.parquet",
        skeleton="results/{dataset}/skeleton.zarr",
        roi="results/{dataset}/roi.zarr",
        joint_model=rgb_teacher_model,
        fusion_scores=rgb_fusion_scores,
    output:
        model="results/{dataset}_{protocol}/{stream}/model.pt",
        scores="results/{dataset}_{protocol}/{stream}/scores.parquet",
        metrics="results/{dataset}_{protocol}/{stream}/metrics.json",
        history="results/{dataset}_{protocol}/{stream}/history.csv",
        curve=report(
            "results/{dataset}_{protocol}/{stream}/curve.png",
            caption="../workflow/report/curve.rst",
            category="Training",
            subcategory="{dataset}_{protocol}",
            labels={"dataset": "{dataset}", "protocol": "{protocol}", "stream": "{stream}"},
        ),
    log:
        "results/logs/train_rgb/{dataset}_{protocol}_{stream}.log",
    benchmark:
        "results/benchmarks/train_rgb/{dataset}_{protocol}_{stream}.tsv"
    wildcard_constraints:
        stream="rgb|rgb_plain",
    conda:
        "../envs/torch.yaml"
    threads: 4
    resources:
        gpu=1,
        mem_mb=32000,
        runtime="48h",
    params:
        kind=dataset_kind,
        options=train_options_of,
    script:
        "../workflow/scripts/train.py"
