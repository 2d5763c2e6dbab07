"""Training settings: a frozen dataclass with no torch import, so the daemon can validate them."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.config import from_mapping
from petri.errors import ConfigError


@dataclass(frozen=True)
class TrainCfg:
    epochs: int = 10
    batch_size: int = 96
    lr: float = 0.025
    lr_min: float = 0.0
    momentum: float = 0.9
    weight_decay: float = 3e-4
    grad_clip: float = 5.0
    label_smoothing: float = 0.0
    aux_weight: float = 0.4  # used only when the network has an auxiliary head
    drop_path: float = 0.0  # final drop-path probability, ramped linearly over the epochs
    seed: int = 0
    amp: bool = True  # bf16 autocast, CUDA only
    channels_last: bool = True  # CUDA only
    eval_batch_size: int = 500
    checkpoint_every_s: float = 30.0
    progress_every_s: float = 1.0
    deterministic: bool = True  # deterministic algorithms on CPU

    @classmethod
    def from_dict(cls, d: dict) -> "TrainCfg":
        cfg = from_mapping(cls, d, "trainer")
        if cfg.epochs < 1 or cfg.batch_size < 1:
            raise ConfigError("trainer.epochs and trainer.batch_size must be at least 1")
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)
