"""Rule demo_dataset: write the embedded demo dataset in NTU's raw formats."""

from mmnet.demo import generate_demo
from mmnet.logs import setup_logging

setup_logging(log_file=snakemake.log[0])
demo = snakemake.params.demo
generate_demo(
    snakemake.output[0],
    seed=demo["seed"],
    subjects=demo["subjects"],
    replications=demo["replications"],
    frames=tuple(demo["frames"]),
)
