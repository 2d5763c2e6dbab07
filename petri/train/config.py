"""Training settings: a frozen dataclass with no torch import, so the daemon can validate them."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.config import from_mapping, setting


@dataclass(frozen=True)
class TrainCfg:
    epochs: int = setting(10, ge=1, le=100_000, help="Passes over the training images.")
    batch_size: int = setting(96, ge=1, le=1_000_000, help="Training images per step.")
    lr: float = setting(0.025, gt=0, help="SGD's learning rate at the start of the cosine "
                                          "schedule.")
    lr_min: float = setting(0.0, ge=0, help="The learning rate the cosine schedule ends at.")
    momentum: float = setting(0.9, ge=0, lt=1, help="SGD's momentum.")
    weight_decay: float = setting(3e-4, ge=0, help="SGD's weight decay (L2).")
    grad_clip: float = setting(5.0, ge=0, help="Clip the gradients' norm to this (0: no "
                                               "clipping).")
    label_smoothing: float = setting(0.0, ge=0, lt=1, help="Label smoothing of the "
                                                           "cross-entropy.")
    aux_weight: float = setting(0.4, ge=0, help="Weight of the auxiliary head's loss, where "
                                                "the network has one.")
    drop_path: float = setting(0.0, ge=0, lt=1, help="Final drop-path probability, ramped "
                                                     "up linearly over the epochs.")
    seed: int = setting(0, ge=0, help="Seed of the weights, batches and drop-path masks; in "
                                      "a run, mixed with the run's seed and the job's key.")
    amp: bool = setting(True, help="bf16 autocast (CUDA only).")
    channels_last: bool = setting(True, help="Channels-last memory format (CUDA only).")
    eval_batch_size: int = setting(500, ge=1, help="Images per batch when evaluating.")
    checkpoint_every_s: float = setting(30.0, ge=0, help="Seconds between checkpoints of a "
                                                         "training job (0: after every step).")
    progress_every_s: float = setting(1.0, gt=0, help="Seconds between the training loop's "
                                                      "progress reports.")
    deterministic: bool = setting(True, help="Deterministic torch algorithms on the CPU.")

    @classmethod
    def from_dict(cls, d: dict) -> "TrainCfg":
        return from_mapping(cls, d, "trainer")

    def to_dict(self) -> dict:
        return asdict(self)
