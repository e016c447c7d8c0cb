"""Rule index_samples: list a dataset's raw samples -> index.parquet."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.index import index_samples

setup_logging(log_file=snakemake.log[0])
index_samples(Config.from_dict(snakemake.config), snakemake.wildcards.dataset, snakemake.output[0])
