"""Rule ensemble: the streams' scores -> ensemble.json, per_class.csv, confusion.png."""

from pathlib import Path

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.ensemble import ensemble

setup_logging(log_file=snakemake.log[0])
ensemble(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.wildcards.protocol,
    snakemake.input.samples,
    Path(snakemake.output.json).parent,
    snakemake.output.json,
    snakemake.output.per_class,
    snakemake.output.confusion,
)
