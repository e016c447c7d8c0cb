"""Rule gather_roi: shard stores -> roi.zarr + roi.parquet."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.roi import gather_roi

setup_logging(log_file=snakemake.log[0])
gather_roi(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.input.samples,
    snakemake.input.stores,
    snakemake.input.tables,
    snakemake.output.store,
    snakemake.output.table,
)
