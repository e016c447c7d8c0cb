"""Rule build_roi: one shard's five-frame ROI columns -> a shard store."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.roi import build_roi
from mmnet.stages.shards import Shard, ShardOutput

setup_logging(log_file=snakemake.log[0])
build_roi(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    Shard.parse(snakemake.wildcards.scatteritem),
    snakemake.input.samples,
    snakemake.input.pose_store,
    snakemake.input.pose_table,
    ShardOutput(snakemake.output.store, snakemake.output.table),
)
