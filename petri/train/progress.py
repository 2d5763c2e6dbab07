"""Progress reports from a training loop (plain data; no torch)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    # train: optimiser steps done in this job, over all epochs; eval: batches evaluated
    step: int
    total_steps: int
    epoch: int
    epochs: int
    loss: float | None  # running mean of the training loss over the current epoch
    images_per_s: float
    eta_s: float | None
    phase: str = "train"  # train, eval, or warm-up (before the first step of a process)
    # What follows cannot report from inside (the first step may compile); see
    # petri.job.JobContext.progress.
    busy: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


ProgressHook = Callable[[Progress], None]
