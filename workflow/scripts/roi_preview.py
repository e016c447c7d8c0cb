"""Rule roi_preview: a contact sheet PNG of evaluation tiles, to check the crops by eye."""

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.roi import roi_preview

setup_logging(log_file=snakemake.log[0])
roi_preview(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.input.store,
    snakemake.input.samples,
    snakemake.output[0],
)
