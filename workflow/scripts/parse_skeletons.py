"""Rule parse_skeletons: one shard of raw skeleton files -> a shard store."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.shards import Shard, ShardOutput
from mmnet.stages.skeleton import parse_skeletons

setup_logging(log_file=snakemake.log[0])
parse_skeletons(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    Shard.parse(snakemake.wildcards.scatteritem),
    snakemake.input.index,
    ShardOutput(snakemake.output.store, snakemake.output.table),
)
