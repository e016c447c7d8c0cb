"""Rules train_skeleton and train_rgb: one stream of one protocol.

train_skeleton has a ``stream`` wildcard (joint, bone, teacher); train_rgb's (rgb, rgb_plain)
trains the MMNet fusion model, with the ROI store and the frozen joint model as inputs, or
the RGB-only baseline on the ROI store.
"""

from pathlib import Path

from mmnet.config import Config
from mmnet.logs import setup_logging
from mmnet.stages.train import TrainPaths, train

setup_logging(log_file=snakemake.log[0])
train(
    Config.from_dict(snakemake.config),
    snakemake.wildcards.dataset,
    snakemake.wildcards.protocol,
    snakemake.wildcards.stream,
    TrainPaths(
        samples=snakemake.input.samples,
        skeleton=snakemake.input.skeleton,
        out_dir=Path(snakemake.output.model).parent,
        roi=snakemake.input.get("roi"),
        joint_model=snakemake.input.get("joint_model"),
        fusion_scores=snakemake.input.get("fusion_scores", ()),
    ),
    gpus=snakemake.resources.gpu,
    threads=snakemake.threads,
)
