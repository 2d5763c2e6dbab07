"""Job kinds a worker can run, as "module:function" so a worker imports only what it runs."""
from __future__ import annotations

import importlib
from typing import Callable

from petri.errors import PetriError

KINDS: dict[str, str] = {
    "sleep_train": "petri.daemon.sleep_job:run",
    "train": "petri.daemon.train_job:run",
    "seed_train": "petri.daemon.train_job:run",
    "post_train": "petri.daemon.train_job:run",
    "eval_train": "petri.daemon.train_job:run",
    "search": "petri.daemon.search_job:run",
    "random_train": "petri.daemon.random_job:run",
    "darts_search": "petri.daemon.darts_job:run",
}


def resolve(kind: str) -> Callable:
    if kind not in KINDS:
        raise PetriError(f"unknown job kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    module, attr = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), attr)
