"""Rule gather_skeletons: shard stores -> skeleton.zarr + samples.parquet."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.skeleton import gather_skeletons

setup_logging(log_file=snakemake.log[0])
gather_skeletons(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.input.index,
    snakemake.input.stores,
    snakemake.input.tables,
    snakemake.output.store,
    snakemake.output.samples,
)
