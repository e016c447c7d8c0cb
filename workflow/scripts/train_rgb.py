"""Rule train_rgb: the MMNet fusion model (frozen joint ST-GCN + ResNet-18) of one protocol."""

from pathlib import Path

from mmnet.logs import setup_logging
from mmnet.train import TrainJob, train_stream

setup_logging(log_file=snakemake.log[0])
train_stream(
    TrainJob(
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        protocol=snakemake.wildcards.protocol,
        stream="rgb",
        options=dict(snakemake.params.options),
        samples=snakemake.input.samples,
        skeleton=snakemake.input.skeleton,
        out_dir=str(Path(snakemake.output.model).parent),
        roi=snakemake.input.roi,
        joint_model=snakemake.input.joint_model,
    ),
    gpus=snakemake.resources.gpu,
    threads=snakemake.threads,
)
