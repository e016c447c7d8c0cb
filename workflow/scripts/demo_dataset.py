"""Rule demo_dataset: write the embedded demo dataset in its real dataset's raw formats."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.demo import demo_dataset

setup_logging(log_file=snakemake.log[0])
demo_dataset(Config.from_dict(snakemake.config), snakemake.wildcards.dataset, snakemake.output[0])
