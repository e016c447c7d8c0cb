"""Rule extract_frames: decode one shard's selected frames (kept for the OpenPose binary)."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.frames import extract_frames
from mmnet.stages.shards import Shard

setup_logging(log_file=snakemake.log[0])
extract_frames(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    Shard.parse(snakemake.wildcards.scatteritem),
    snakemake.input.samples,
    snakemake.output[0],
)
