"""One snapshot of a run for `status`, `watch` and scripts: read-only, torch-free."""
from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from petri.daemon.pidfile import daemon_alive, last_fatal
from petri.errors import StoreError
from petri.hull import HullCfg, eps_band, lower_hull, pareto_front
from petri.io import read_json
from petri.rundir import PROGRESS, RunDir
from petri.store.db import DB_NAME, connect
from petri.store.view import RunView


@contextmanager
def reading(run_dir: Path, verify: bool = False):
    """A read-only view of the run's store; a damaged store is one StoreError. `verify` first
    checks every page (a full read: for one-off commands, not for the live view's polling)."""
    conn = connect(run_dir, readonly=True)
    try:
        if verify:
            problem = conn.execute("PRAGMA quick_check").fetchone()[0]
            if problem != "ok":
                raise sqlite3.DatabaseError(problem)
        yield RunView(conn)
    except sqlite3.DatabaseError as e:
        raise StoreError(f"{run_dir / DB_NAME} is damaged ({e}); it was left untouched: restore "
                         f"it from a backup (the checkpoints in jobs/ are separate files)") \
            from None
    finally:
        conn.close()


def snapshot(run_dir: str | Path, cost_metric: str | None = None, events: int = 10,
             verify: bool = False) -> dict:
    run_dir = Path(run_dir)
    with reading(run_dir, verify) as view:
        meta = view.meta()
        counts = view.counts()
        running = view.jobs(state="running")
        spent = view.compute_spent()
        failed = view.jobs(state="failed")
        pts = view.points()
        recent = view.events(events)
    hull = configured_hull(run_dir)
    metric = cost_metric or hull["metric"]
    pid = daemon_alive(run_dir)
    points = [{"id": p.id, "cost": p.cost(metric), "error": p.val_error, "test_error": p.test_error,
               "parent": p.parent,
               "params": p.params, "macs": p.macs, "activation_bytes": p.activation_bytes,
               "stage": p.stage, "job_id": p.job_id} for p in pts]
    priced = [(p["id"], p["cost"], p["error"]) for p in points
              if p["cost"] is not None and p["error"] is not None]
    workers = []
    for j in running:
        prog = read_json(RunDir(run_dir).job(j.id) / PROGRESS) or {}
        if prog.get("lease") != j.lease:
            prog = {}
        workers.append({"job_id": j.id, "kind": j.kind, "worker": j.worker, "device": j.device,
                        "attempt": j.attempts, "step": prog.get("step"),
                        "total_steps": prog.get("total_steps"), "loss": prog.get("loss"),
                        "images_per_s": prog.get("images_per_s"), "eta_s": prog.get("eta_s"),
                        "phase": prog.get("phase"),
                        "progress_age_s": round(time.time() - prog["t"], 1) if "t" in prog else None})
    return {
        "run_dir": str(run_dir),
        "daemon": {"state": "running" if pid is not None else "stopped", "pid": pid,
                   "last_state": meta.get("daemon_state"), "slots": meta.get("slots"),
                   # A dead daemon whose last word was "running" crashed or was killed.
                   "crashed": pid is None and meta.get("daemon_state") == "running",
                   "error": last_fatal(run_dir) if pid is None else None},
        "jobs": counts,
        "workers": workers,
        "failures": [{"job_id": j.id, "kind": j.kind, "attempts": j.attempts,
                      "fail_class": j.fail_class, "error": _last_line(j.error)} for j in failed],
        "cost_metric": metric,
        # Rows a dead daemon left running are not computing: count them only while it lives.
        "compute_s": spent + (sum(time.time() - j.started for j in running if j.started)
                              if pid is not None else 0.0),
        "points": points,
        "frontier": pareto_front(priced),
        "hull": lower_hull(priced, hull["log"]),
        "band": eps_band(priced, hull["eps"], hull["log"]),
        "log_cost": hull["log"],
        "eps": hull["eps"],
        "events": recent,
        "done": meta.get("done") == "1",
    }


def configured_hull(run_dir: Path) -> dict:
    """The run's hull settings (cost metric, log axis, eps); defaults where the saved config
    cannot be read, so `status` still shows a run whose config file broke."""
    from petri.config import from_mapping, read_yaml
    from petri.errors import ConfigError

    try:
        hull = from_mapping(HullCfg, read_yaml(RunDir(run_dir).config).get("hull"), "hull")
    except ConfigError:
        hull = HullCfg()
    return {"metric": hull.metric, "log": hull.log, "eps": hull.eps}


def _last_line(text: str | None) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""
