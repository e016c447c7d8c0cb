"""Rule ensemble: the streams' scores -> ensemble.json, per_class.csv, confusion.png."""

from mmnet.ensemble import run_ensemble
from mmnet.logs import setup_logging

setup_logging(log_file=snakemake.log[0])
run_ensemble(
    dict(zip(snakemake.params.streams, snakemake.input.scores, strict=True)),
    snakemake.output.json,
    snakemake.output.per_class,
    snakemake.output.confusion,
    labels=snakemake.input.samples,
    dataset=snakemake.wildcards.dataset,
    protocol=snakemake.wildcards.protocol,
    kind=snakemake.params.kind,
    weights=snakemake.params.weights,
    use_softmax=snakemake.params.softmax,
)
