"""Rule extract_pose2d: 2D poses of one shard's selected frames -> a shard store."""

from mmnet.datasets import get_dataset
from mmnet.frames import FrameConfig
from mmnet.logs import setup_logging
from mmnet.pose2d.stage import run_pose2d_shard

setup_logging(log_file=snakemake.log[0])
run_pose2d_shard(
    snakemake.input.samples,
    get_dataset(snakemake.params.entry["kind"]),
    snakemake.params.entry,
    snakemake.params.pose2d,
    FrameConfig(**snakemake.params.frames),
    snakemake.wildcards.scatteritem,
    snakemake.output.store,
    snakemake.output.table,
    frames_dir=snakemake.input.get("frames"),
)
