"""Rule roi_preview: a contact sheet PNG of evaluation tiles, to check the crops by eye."""

from mmnet.datasets import get_dataset
from mmnet.logs import setup_logging
from mmnet.roi.preview import write_preview

setup_logging(log_file=snakemake.log[0])
write_preview(
    snakemake.input.store,
    snakemake.input.samples,
    snakemake.output[0],
    n_tiles=snakemake.params.roi["preview_tiles"],
    class_names=get_dataset(snakemake.params.entry["kind"]).class_names,
)
