"""Rule extract_frames: decode one shard's selected frames (for pose models that see pixels)."""

from mmnet.datasets import get_dataset
from mmnet.frames import FrameConfig, extract_frames
from mmnet.logs import setup_logging
from mmnet.skeleton.stage import parse_scatteritem

setup_logging(log_file=snakemake.log[0])
shard, n_shards = parse_scatteritem(snakemake.wildcards.scatteritem)
extract_frames(
    snakemake.input.samples,
    get_dataset(snakemake.params.entry["kind"]),
    shard,
    n_shards,
    snakemake.output[0],
    FrameConfig(**snakemake.params.frames),
)
