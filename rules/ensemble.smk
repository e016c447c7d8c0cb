# The trained streams' scores -> the fused accuracy: ensemble.json, per_class.csv and
# confusion.png, all three in the Snakemake report (`snakemake --report report.html`).


rule ensemble:
    input:
        samples="results/{dataset}/samples.parquet",
        scores=ensemble_scores,
    output:
        json=report(
            "results/{dataset}_{protocol}/ensemble.json",
            caption="../workflow/report/ensemble.rst",
            category="Ensemble",
            subcategory="{dataset}_{protocol}",
            labels={"dataset": "{dataset}", "protocol": "{protocol}", "output": "summary"},
        ),
        per_class=report(
            "results/{dataset}_{protocol}/per_class.csv",
            caption="../workflow/report/per_class.rst",
            category="Ensemble",
            subcategory="{dataset}_{protocol}",
            labels={"dataset": "{dataset}", "protocol": "{protocol}", "output": "per class"},
        ),
        confusion=report(
            "results/{dataset}_{protocol}/confusion.png",
            caption="../workflow/report/confusion.rst",
            category="Ensemble",
            subcategory="{dataset}_{protocol}",
            labels={"dataset": "{dataset}", "protocol": "{protocol}", "output": "confusion"},
        ),
    log:
        "results/logs/ensemble/{dataset}_{protocol}.log",
    benchmark:
        "results/benchmarks/ensemble/{dataset}_{protocol}.tsv"
    # seconds of numpy on the head node: not worth a cluster job
    localrule: True
    conda:
        "../envs/data.yaml"
    params:
        streams=ensemble_streams,
        weights=ensemble_weights,
        softmax=config["ensemble"]["softmax"],
        kind=dataset_kind,
    script:
        "../workflow/scripts/ensemble.py"
