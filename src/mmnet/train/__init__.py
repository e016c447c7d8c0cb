"""Training and evaluation of the three streams (docs/training.md).

- :mod:`~mmnet.train.options`: ``TrainOptions``, a training's typed hyper-parameters;
- :mod:`~mmnet.train.job`: ``TrainJob``, what to train and where its outputs go;
- :mod:`~mmnet.train.run`: ``train_stream``, one training from start (or resume) to outputs;
- :mod:`~mmnet.train.evaluation`: ``evaluate_stream``, scoring with existing weights;
- :mod:`~mmnet.train.factories`: the set-up both share (inputs, models, datasets);
- :mod:`~mmnet.train.loop`, :mod:`~mmnet.train.data`, :mod:`~mmnet.train.checkpoint`,
  :mod:`~mmnet.train.distributed`: the loop, the torch datasets, checkpoints, DDP.

Nothing is imported here, so ``mmnet.train.options`` loads without torch.
"""
