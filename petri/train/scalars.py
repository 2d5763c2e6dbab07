"""A job's scalars (training loss, images/s, validation and test error) as TensorBoard event
files in its job dir; `tensorboard --logdir RUN/tensorboard` shows every job of a run side by
side, named by the point it makes and its kind (p15-post_train: see `RunDir.link_tensorboard`).

TensorBoard is optional (`pip install -e '.[tensorboard]'`): without it nothing is written,
and the worker's log says so once.
"""
from __future__ import annotations

import math
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from petri.errors import install_extra

Scalar = Callable[[str, float | None, int], None]  # (tag, value, step); None is skipped
_said_missing = False


def _nothing(tag: str, value: float | None, step: int) -> None:
    pass


@contextmanager
def scalar_log(job_dir: Path) -> Iterator[Scalar]:
    """A writer of scalars into `job_dir`, closed (and flushed) when the block ends."""
    global _said_missing
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch raises it when the tensorboard package is absent
        if not _said_missing:
            _said_missing = True
            print("tensorboard is not installed: no event files in the job dirs "
                  f"({install_extra('tensorboard')})", file=sys.stderr)
        yield _nothing
        return
    writer = SummaryWriter(log_dir=str(job_dir))

    def scalar(tag: str, value: float | None, step: int) -> None:
        if value is not None and math.isfinite(value):
            writer.add_scalar(tag, value, step)

    try:
        yield scalar
    finally:
        writer.close()
