"""Start a smoke run's daemon, wait for a run, kill and resume it, read what it stored."""
import os
import signal
import sqlite3
import time
from pathlib import Path

from petri.daemon.lock import daemon_alive
from petri.status import snapshot
from tests.conftest import ROOT, run_petri

SMOKE = ROOT / "configs" / "smoke.yaml"


def wait_for(pred, timeout=60.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(run_dir, *sets):
    args = ["start", SMOKE, "--run-dir", run_dir]
    for s in sets:
        args += ["--set", s]
    res = run_petri(*args, timeout=60)
    assert res.returncode == 0, res.stderr
    return wait_for(lambda: daemon_alive(run_dir), 30, "daemon pid")


def kill_daemon_and_resume(run_dir) -> None:
    """SIGKILL the run's daemon, wait until it is gone, then `petri resume` the run."""
    os.kill(daemon_alive(run_dir), signal.SIGKILL)
    wait_for(lambda: daemon_alive(run_dir) is None, 10, "daemon gone")
    res = run_petri("resume", run_dir, timeout=60)
    assert res.returncode == 0, res.stderr


def wait_done(run_dir, timeout=120):
    wait_for(lambda: snapshot(run_dir)["done"] and not daemon_alive(run_dir), timeout, "run done")
    return snapshot(run_dir)


def steps_trained(run_dir: Path) -> int:
    return sum(len(p.read_text().split()) for p in Path(run_dir).glob("jobs/*/steps.log"))


def db_rows(run_dir, sql):
    c = sqlite3.connect(Path(run_dir) / "petri.db")
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def stored(run_dir, kind=None):
    """(points, jobs of `kind`) as the store holds them."""
    from petri.store.store import RunStore

    with RunStore.open(run_dir, readonly=True) as store:
        return store.view.points(), store.view.jobs(kind=kind)


def store_bytes(run) -> dict:
    """The store's bytes: the DB and a WAL holding commits (SQLite may drop an empty WAL and
    its shared-memory index, which hold nothing)."""
    files = {"petri.db": (run / "petri.db").read_bytes()}
    wal = run / "petri.db-wal"
    if wal.exists() and wal.stat().st_size:
        files["petri.db-wal"] = wal.read_bytes()
    return files


# A Petridish search that trains for real in about a minute: the end-to-end runs' config.
TINY_PETRIDISH = {
    "algo": "petridish", "seed": 0,
    "data": {"dataset": "fashion-mnist", "subset": 256, "val_subset": 256},
    "pareto": {"min_reductions": 1, "max_reductions": 1, "min_cells": 3, "max_cells": 4,
               "min_nodes": 1, "max_nodes": 1},
    "petridish": {"channels": 4, "stem_multiplier": 1, "parallel": 2, "max_points": 6,
                  "search_subset": 128},
    "trainer": {"batch_size": 32, "lr": 0.05, "checkpoint_every_s": 0.5},
    "hull": {"cost": "params"},  # not the default: an evaluation must keep it
    "seed_train": {"epochs": 2}, "search": {"epochs": 1}, "post_train": {"epochs": 1},
    "daemon": {"cpu_slots": 2, "backoff_s": 0.2, "progress_every_s": 0.2},
}
