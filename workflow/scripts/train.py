"""Rules train_skeleton and train_rgb: one stream of one protocol.

train_skeleton has a ``stream`` wildcard (joint or bone); train_rgb trains the MMNet fusion
model and brings the ROI store and the frozen joint model as inputs.
"""

from pathlib import Path

from mmnet.logs import setup_logging
from mmnet.train import TrainJob, train_stream

setup_logging(log_file=snakemake.log[0])
train_stream(
    TrainJob(
        dataset=snakemake.wildcards.dataset,
        kind=snakemake.params.kind,
        protocol=snakemake.wildcards.protocol,
        stream=snakemake.wildcards.get("stream", "rgb"),
        options=dict(snakemake.params.options),
        samples=snakemake.input.samples,
        skeleton=snakemake.input.skeleton,
        out_dir=str(Path(snakemake.output.model).parent),
        roi=snakemake.input.get("roi"),
        joint_model=snakemake.input.get("joint_model"),
    ),
    gpus=snakemake.resources.gpu,
    threads=snakemake.threads,
)
