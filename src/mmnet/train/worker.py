"""One DDP process of a multi-GPU training: ``torchrun ... -m mmnet.train.worker JOB THREADS``.

:func:`mmnet.train.distributed.launch_torchrun` writes the job and starts torchrun on this
module, so the training package never goes through the ``mmnet`` command.
"""

from __future__ import annotations

import logging
import os
import sys

from mmnet.logs import setup_logging
from mmnet.train.distributed import PREEMPTED_EXIT, Preempted
from mmnet.train.job import TrainJob
from mmnet.train.run import train_stream


def main(job_file: str, threads: str) -> int:
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(logging.INFO if rank == 0 else logging.WARNING)
    try:
        train_stream(TrainJob.from_json(job_file), gpus=1, threads=int(threads))
    except Preempted as stop:
        logging.getLogger(__name__).warning("%s", stop)
        return PREEMPTED_EXIT
    return 0


if __name__ == "__main__":
    raise SystemExit(main(*sys.argv[1:]))
