"""Progress reports from a training loop (plain data; no torch)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable


@dataclass(frozen=True)
class Progress:
    step: int  # optimiser steps done in this job, over all epochs
    total_steps: int
    epoch: int
    epochs: int
    loss: float  # running mean of the training loss over the current epoch
    images_per_s: float
    eta_s: float
    phase: str = "train"

    def to_dict(self) -> dict:
        return asdict(self)


ProgressHook = Callable[[Progress], None]
