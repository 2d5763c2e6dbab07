"""Making a run dir: an empty store and the config, under the run's daemon lock."""
from __future__ import annotations

import os
from pathlib import Path

from petri.daemon.lock import RunLock
from petri.errors import PetriError
from petri.launch import check_same_config, save_config
from petri.rundir import RunDir
from petri.store.store import RunStore


def create_run(cfg: dict, run_dir: str | Path) -> bool:
    """Create a run at `run_dir` holding an empty store and `cfg`. False (nothing written)
    where the run of this same config is there already, to be resumed; `ConfigError` naming
    the keys that differ where another config's run is. Refuses a place it cannot write.

    Created under the run's daemon lock, so of two `petri start` on a new run dir at once
    one creates it and the other finds it made (or, if the creation outlasts the lock's
    short wait, says that another petri holds it), never two schemas in one file.
    """
    created = _create(cfg, RunDir(run_dir))
    if not created:
        check_same_config(cfg, run_dir)
    return created


def _create(cfg: dict, rd: RunDir) -> bool:
    if rd.config.exists():
        return False
    try:
        rd.root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise PetriError(f"cannot create run dir {rd.root}: {e.strerror}; choose a writable "
                         f"place with --run-dir") from None
    if not os.access(rd.root, os.W_OK):
        raise PetriError(f"run dir {rd.root} is not writable; choose another with --run-dir")
    lock = RunLock(rd.root)
    if not lock.acquire():
        raise PetriError(f"another petri is creating or running {rd.root}; see it with "
                         f"`petri status {rd.root}`, or choose another --run-dir")
    try:
        if rd.config.exists():  # the other petri made it while this one waited
            return False
        RunStore.open(rd.root, create=True).close()  # a bad run dir fails now, not in the daemon
        save_config(cfg, rd.root)  # last: a run dir with a config is a whole run
        return True
    finally:
        lock.release()
