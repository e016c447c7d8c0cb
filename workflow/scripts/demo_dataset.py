"""Rule demo_dataset: write a demo dataset's raw files with the generator of its kind."""

from mmnet.demo import generate_raw
from mmnet.logs import setup_logging

setup_logging(log_file=snakemake.log[0])
generate_raw(snakemake.params.kind, snakemake.output[0], snakemake.params.options)
