"""The one small interface every search algorithm implements, and the registry of them.

An algorithm never touches SQLite, processes or CUDA. The daemon asks it for work when slots
are idle (`propose`), hands it each finished job (`on_result`), and asks whether the search is
over (`is_done`). Everything it needs to continue after a restart must be derivable from the
store (`RunView`), so it keeps no state of its own that matters.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from petri.errors import ConfigError
from petri.store.records import Job, JobSpec, PointSpec
from petri.store.view import RunView


@dataclass
class Outcome:
    points: list[PointSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)


class Algorithm:
    name = "base"

    def __init__(self, cfg: dict, seed: int = 0):
        self.cfg = cfg
        self.seed = seed

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        """Jobs to enqueue now; keys make repeated proposals harmless."""
        return []

    def on_result(self, job: Job, result: dict, view: RunView) -> Outcome:
        """Points to record and follow-up jobs, committed with the job in one transaction."""
        return Outcome()

    def is_done(self, view: RunView) -> bool:
        raise NotImplementedError


ALGOS = {
    "smoke": "petri.algos.smoke:Smoke",
}


def create_algo(name: str, cfg: dict, seed: int = 0) -> Algorithm:
    if name not in ALGOS:
        raise ConfigError(f"unknown algo {name!r}; known: {', '.join(sorted(ALGOS))}")
    module, attr = ALGOS[name].split(":")
    return getattr(importlib.import_module(module), attr)(cfg, seed)
