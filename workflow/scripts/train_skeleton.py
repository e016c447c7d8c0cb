"""Rule train_skeleton: ST-GCN on the joint or bone stream of one protocol."""

from pathlib import Path

from mmnet.logs import setup_logging
from mmnet.train import TrainJob, train_stream

setup_logging(log_file=snakemake.log[0])
train_stream(
    TrainJob(
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        protocol=snakemake.wildcards.protocol,
        stream=snakemake.wildcards.stream,
        options=dict(snakemake.params.options),
        samples=snakemake.input.samples,
        skeleton=snakemake.input.skeleton,
        out_dir=str(Path(snakemake.output.model).parent),
    ),
    gpus=snakemake.resources.gpu,
    threads=snakemake.threads,
)
