# Raw files -> samples.parquet + skeleton.zarr (one store per dataset, protocols are columns).


rule demo_dataset:
    output:
        directory("results/{dataset}/raw"),
    log:
        "results/logs/demo_dataset/{dataset}.log",
    benchmark:
        "results/benchmarks/demo_dataset/{dataset}.tsv"
    wildcard_constraints:
        dataset=one_of(GENERATED_DATASETS),
    conda:
        "../envs/video.yaml"
    params:
        options=demo_options,  # the generator's options: editing them regenerates
    script:
        "../workflow/scripts/demo_dataset.py"


rule index_samples:
    input:
        unpack(raw_inputs),
    output:
        "results/{dataset}/index.parquet",
    log:
        "results/logs/index_samples/{dataset}.log",
    benchmark:
        "results/benchmarks/index_samples/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    params:
        entry=dataset_entry,
    script:
        "../workflow/scripts/index_samples.py"


rule parse_skeletons:
    input:
        index="results/{dataset}/index.parquet",
    output:
        store=temp(directory("results/{dataset}/shards/skeleton_{scatteritem}.zarr")),
        table=temp("results/{dataset}/shards/skeleton_{scatteritem}.parquet"),
    log:
        "results/logs/parse_skeletons/{dataset}_{scatteritem}.log",
    benchmark:
        "results/benchmarks/parse_skeletons/{dataset}_{scatteritem}.tsv"
    conda:
        "../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        entry=dataset_entry,
        skeleton=config["skeleton"],
    script:
        "../workflow/scripts/parse_skeletons.py"


rule gather_skeletons:
    input:
        index="results/{dataset}/index.parquet",
        stores=gather.skeleton_shards("results/{{dataset}}/shards/skeleton_{scatteritem}.zarr"),
        tables=gather.skeleton_shards("results/{{dataset}}/shards/skeleton_{scatteritem}.parquet"),
    output:
        store=directory("results/{dataset}/skeleton.zarr"),
        samples="results/{dataset}/samples.parquet",
    log:
        "results/logs/gather_skeletons/{dataset}.log",
    benchmark:
        "results/benchmarks/gather_skeletons/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow/scripts/gather_skeletons.py"
