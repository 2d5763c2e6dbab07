"""The `latency` section of a run: the target every point is measured on after it trains
(and whose per-op table predicts a desc's latency before it is trained)."""
from __future__ import annotations

from dataclasses import dataclass

from petri.config import from_mapping, setting
from petri.errors import ConfigError
from petri.latency.target import DEFAULT_BATCH, DEFAULT_THREADS, TARGETS, Target


@dataclass(frozen=True)
class LatencyCfg:
    target: str = setting("cpu", choices=TARGETS, help="What every trained point's latency "
                                                       "is measured on.")
    batch: int = setting(DEFAULT_BATCH, ge=1, le=4096, help="Images per measured forward "
                                                            "pass.")
    threads: int = setting(DEFAULT_THREADS, ge=1, le=1024, help="Intra-op threads of the "
                                                                "measurement.")

    @classmethod
    def from_cfg(cls, cfg: dict) -> "LatencyCfg | None":
        """The run's section, checked; None where the run has none (nothing is measured)."""
        if cfg.get("latency") is None:
            return None
        latency = from_mapping(cls, cfg["latency"], "latency")
        if latency.target == "cuda":
            latency.require_gpu()
        return latency

    def to_target(self) -> Target:
        return Target(self.target, self.threads, self.batch)

    @staticmethod
    def require_gpu() -> None:
        import torch

        if not torch.cuda.is_available():
            raise ConfigError("latency.target is cuda but torch sees no CUDA GPU here; set "
                              "latency.target=cpu, or run on a machine with one")
