"""The DAG's stages: one module per stage, one entry function per rule.

Each entry function takes the resolved :class:`~mmnet.config.Config`, the dataset's name
in it, and the paths; a Snakemake script (``workflow/scripts/<rule>.py``) and the matching
``mmnet`` subcommand are each one call of it. The stages sit above every building block
(datasets, skeleton maths, video, pose backends, ROI, models, training, scores, stores),
which never import them (docs/architecture.md).

====================  ==============================================================
module                entry functions (rules)
====================  ==============================================================
``demo``              ``demo_dataset``
``index``             ``index_samples``
``skeleton``          ``parse_skeletons``, ``gather_skeletons`` (+ ``build_skeletons``)
``frames``            ``extract_frames``
``pose2d``            ``extract_pose2d``, ``gather_pose2d``
``roi``               ``build_roi``, ``gather_roi``, ``roi_preview``
``train``             ``train`` (train_skeleton, train_rgb), ``evaluate``
``ensemble``          ``ensemble``
``shards``            the shard helper every sharded stage uses
``local``             ``skeletons``, ``rgb``: whole stages in one process (``mmnet`` only)
====================  ==============================================================
"""
