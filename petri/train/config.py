"""Training settings: a frozen dataclass with no torch import, so the daemon can validate them."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.config import from_mapping, setting


@dataclass(frozen=True)
class TrainCfg:
    epochs: int = setting(10, ge=1, le=100_000)
    batch_size: int = setting(96, ge=1, le=1_000_000)
    lr: float = setting(0.025, gt=0)
    lr_min: float = setting(0.0, ge=0)
    momentum: float = setting(0.9, ge=0, lt=1)
    weight_decay: float = setting(3e-4, ge=0)
    grad_clip: float = setting(5.0, ge=0)  # 0 = no clipping
    label_smoothing: float = setting(0.0, ge=0, lt=1)
    aux_weight: float = setting(0.4, ge=0)  # used only when the network has an auxiliary head
    # Final drop-path probability, ramped linearly over the epochs.
    drop_path: float = setting(0.0, ge=0, lt=1)
    seed: int = setting(0, ge=0)
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only
    eval_batch_size: int = setting(500, ge=1)
    checkpoint_every_s: float = setting(30.0, ge=0)  # 0: after every step
    progress_every_s: float = setting(1.0, gt=0)
    deterministic: bool = True  # deterministic algorithms on CPU

    @classmethod
    def from_dict(cls, d: dict) -> "TrainCfg":
        return from_mapping(cls, d, "trainer")

    def to_dict(self) -> dict:
        return asdict(self)
