"""Rule extract_pose2d: 2D poses of one shard's selected frames -> a shard store."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.pose2d import extract_pose2d
from mmnet.stages.shards import Shard, ShardOutput

setup_logging(log_file=snakemake.log[0])
extract_pose2d(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    Shard.parse(snakemake.wildcards.scatteritem),
    snakemake.input.samples,
    ShardOutput(snakemake.output.store, snakemake.output.table),
    snakemake.input.get("frames"),
)
