"""Rule build_roi: one shard's five-frame ROI columns -> a shard store."""

from mmnet.datasets import get_dataset
from mmnet.frames import FrameConfig
from mmnet.logs import setup_logging
from mmnet.roi.stage import build_roi
from mmnet.skeleton.stage import parse_scatteritem

setup_logging(log_file=snakemake.log[0])
shard, n_shards = parse_scatteritem(snakemake.wildcards.scatteritem)
build_roi(
    snakemake.input.samples,
    snakemake.input.pose_store,
    snakemake.input.pose_table,
    get_dataset(snakemake.params.entry["kind"]),
    shard,
    n_shards,
    snakemake.output.store,
    snakemake.output.table,
    FrameConfig(**snakemake.params.frames),
    effort=snakemake.params.roi["webp_effort"],
)
