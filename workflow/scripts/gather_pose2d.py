"""Rule gather_pose2d: shard stores -> pose2d.zarr + pose2d.parquet."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.pose2d import gather_pose2d

setup_logging(log_file=snakemake.log[0])
gather_pose2d(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.input.samples,
    snakemake.input.stores,
    snakemake.input.tables,
    snakemake.output.store,
    snakemake.output.table,
)
