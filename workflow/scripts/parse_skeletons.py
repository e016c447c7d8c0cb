"""Rule parse_skeletons: one shard of raw skeleton files -> a shard store."""

from mmnet.datasets import get_dataset
from mmnet.logs import setup_logging
from mmnet.skeleton.stage import parse_scatteritem, parse_shard

setup_logging(log_file=snakemake.log[0])
shard, n_shards = parse_scatteritem(snakemake.wildcards.scatteritem)
parse_shard(
    snakemake.input.index,
    get_dataset(snakemake.params.entry["kind"]),
    shard,
    n_shards,
    snakemake.output.store,
    snakemake.output.table,
    on_error=snakemake.params.skeleton["on_error"],
    compression_level=snakemake.params.skeleton["compression_level"],
)
