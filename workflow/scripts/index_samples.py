"""Rule index_samples: list a dataset's raw samples -> index.parquet."""

from mmnet.config import raw_paths_of
from mmnet.datasets import get_dataset
from mmnet.index import index_samples
from mmnet.logs import setup_logging

setup_logging(log_file=snakemake.log[0])
entry = snakemake.params.entry
index_samples(
    get_dataset(entry["kind"]),
    raw_paths_of(snakemake.wildcards.dataset, entry),
    entry["protocols"],
    snakemake.output[0],
)
