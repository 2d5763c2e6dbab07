"""One snapshot of a run for `status`, `watch` and scripts: read-only, torch-free."""
from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from petri.daemon.fatal import last_fatal
from petri.daemon.lock import daemon_alive
from petri.daemon.process import process_start_time
from petri.constraints import EVENT, skipped_count
from petri.disk import used_bytes
from petri.hull import configured_hull, eps_band, lower_hull, pareto_front, priced
from petri.io import read_json
from petri.latency.target import TargetInfo
from petri.rundir import PROGRESS, RunDir
from petri.store.store import RunStore


def snapshot(run_dir: str | Path, cost_metric: str | None = None, events: int = 10,
             verify: bool = False) -> dict:
    run_dir = Path(run_dir)
    with RunStore.open(run_dir, readonly=True, verify=verify) as store:
        view = store.view
        meta = view.meta()
        counts = view.counts()
        running = view.jobs(state="running")
        spent = view.compute_spent()
        spans = view.ended_spans()
        failed = view.jobs(state="failed")
        pts = view.points()
        recent = view.events(events)
        skips = view.events(limit=-1, kind=EVENT)
    hull = configured_hull(run_dir)
    metric = cost_metric or hull["metric"]
    pid = daemon_alive(run_dir)
    points = [{"id": p.id, "cost": p.cost(metric), "error": p.val_error, "test_error": p.test_error,
               "parent": p.parent, "created": p.created,
               "params": p.params, "macs": p.macs, "activation_bytes": p.activation_bytes,
               "stage": p.stage, "job_id": p.job_id, "latency_ms": p.latency_ms} for p in pts]
    placed = priced(pts, metric)
    workers = []
    for j in running:
        prog = read_json(RunDir(run_dir).job(j.id) / PROGRESS) or {}
        if prog.get("lease") != j.lease:
            prog = {}
        # Only a worker of this machine, the very process the job was claimed by (a Ray
        # actor's pid names a process elsewhere; a reused pid, another one).
        ours = pid is not None and j.pid and j.pid_start is not None \
            and process_start_time(j.pid) == j.pid_start
        usage = process_usage(j.pid) if ours else None
        workers.append({"job_id": j.id, "kind": j.kind, "worker": j.worker, "device": j.device,
                        "attempt": j.attempts, "pid": j.pid,
                        "cpu_s": usage.cpu_s if usage else None,
                        "rss_bytes": usage.rss_bytes if usage else None,
                        "cpu_percent": None, "step": prog.get("step"),
                        "total_steps": prog.get("total_steps"), "loss": prog.get("loss"),
                        "images_per_s": prog.get("images_per_s"), "eta_s": prog.get("eta_s"),
                        "phase": prog.get("phase"),
                        "progress_age_s": round(time.time() - prog["t"], 1) if "t" in prog else None})
    compute_s = spent + (sum(time.time() - j.started for j in running if j.started)
                         if pid is not None else 0.0)
    planned = int(meta["planned_points"]) if "planned_points" in meta else None
    eta = run_eta(int(meta["planned_jobs"]) if "planned_jobs" in meta else None, spans,
                  [(j.started, _fraction(w)) for j, w in zip(running, workers) if j.started],
                  time.time()) if pid else None
    return {
        "t": time.time(),
        "run_dir": str(run_dir),
        "daemon": {"state": "running" if pid is not None else "stopped", "pid": pid,
                   "last_state": meta.get("daemon_state"), "slots": meta.get("slots"),
                   # A dead daemon whose last word was "running" crashed or was killed.
                   "crashed": pid is None and meta.get("daemon_state") == "running",
                   "error": last_fatal(run_dir) if pid is None else None},
        "jobs": counts,
        "workers": workers,
        "failures": [{"job_id": j.id, "kind": j.kind, "attempts": j.attempts,
                      "fail_class": j.fail_class, "error": last_line(j.error)} for j in failed],
        "cost_metric": metric,
        # Rows a dead daemon left running are not computing: count them only while it lives.
        "compute_s": compute_s,
        "planned_points": planned,
        "eta_s": eta.s if eta else None,
        "eta_range_s": [eta.low_s, eta.high_s] if eta and eta.uncertain else None,
        "points": points,
        "frontier": pareto_front(placed),
        "hull": lower_hull(placed, hull["log"]),
        "band": eps_band(placed, hull["eps"], hull["log"]),
        "log_cost": hull["log"],
        "eps": hull["eps"],
        "events": recent,
        # Proposals the constraints kept from training, and the last reason given.
        "latency_target": next((TargetInfo.from_dict(p.latency["info"]).line()
                                for p in pts if p.latency), None),
        "skipped": {"proposals": sum(skipped_count(e["message"]) for e in skips),
                    "last": skips[-1]["message"] if skips else None},
        "done": meta.get("done") == "1",
        "disk_bytes": used_bytes(run_dir),
    }


def finished(run_dir: str | Path) -> str | None:
    """How a finished run ended (its stop reason, its failed jobs), None if it is not
    finished: a finished run has nothing to resume. A store that lost commits is refused
    first, as the daemon would refuse it."""
    run_dir = Path(run_dir)
    with RunStore.open(run_dir, readonly=True) as store:
        RunDir(run_dir).check_job_dirs(store.ids())
        if store.view.meta().get("done") != "1":
            return None
        why = [e["message"] for e in store.view.events(1, kind="search")]
        failed = store.view.counts()["failed"]
    return "; ".join(why + ([f"{failed} job(s) failed"] if failed else [])) or "search done"


# A range is shown once one sd of the estimate exceeds this share of it.
ETA_RANGE_ABOVE = 0.15


@dataclass(frozen=True)
class Eta:
    s: float  # seconds until the plan's jobs are done
    low_s: float  # s/(1 + spread) and s·(1 + spread), spread one relative sd (see run_eta)
    high_s: float

    @property
    def uncertain(self) -> bool:
        return self.high_s > self.s * (1 + ETA_RANGE_ABOVE)


def run_eta(planned_jobs: int | None, spans: list[tuple[float, float]],
            running: list[tuple[float, float]], now: float) -> Eta | None:
    """Time until the plan's jobs are done: the jobs left (a running one less the share of
    its steps done) at the throughput measured so far, in jobs per second of wall time in
    which any job ran. Slots working in parallel count as they did so far, not as many as
    happen to run at this moment, and time with no job running (a stopped daemon) not at all.

    `spans` are the (started, finished) of ended jobs, `running` the (started, share done)
    of running ones. The spread: a remaining job takes as long as one drawn from those that
    ended, so the time left varies by cv/sqrt(left) (cv: their durations' coefficient of
    variation) and its estimated mean by cv/sqrt(n); cv is 1 (as for exponential times)
    until two jobs have ended. None before a job has ended or without a planned total."""
    if planned_jobs is None or not spans:
        return None
    done = len(spans) + sum(share for _, share in running)
    left = planned_jobs - done
    busy = _covered([*spans, *((start, now) for start, _ in running)])
    if left <= 0 or busy <= 0:
        return None
    s = left * busy / done
    durations = [end - start for start, end in spans]
    cv = statistics.stdev(durations) / statistics.fmean(durations) \
        if len(durations) > 1 and statistics.fmean(durations) > 0 else 1.0
    spread = cv * math.sqrt(1 / max(left, 1) + 1 / len(spans))
    return Eta(s, s / (1 + spread), s * (1 + spread))


def _covered(spans) -> float:
    """Seconds covered by at least one of the (start, end) spans."""
    total, reach = 0.0, -math.inf
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def _fraction(worker: dict) -> float:
    """The share of its training steps a running job has done (0 where it has not said);
    past them (its evaluation counts its own batches) the job is as good as done."""
    if worker["phase"] == "eval":
        return 1.0
    if worker["step"] is None or not worker["total_steps"]:
        return 0.0
    return min(1.0, worker["step"] / worker["total_steps"])


@dataclass(frozen=True)
class Usage:
    cpu_s: float  # user + system CPU seconds of the process so far
    rss_bytes: int


def process_usage(pid: int, proc: Path = Path("/proc")) -> Usage | None:
    """A worker's CPU time and resident memory from /proc (None where it is gone or there is
    no /proc): enough for the live view, without a dependency on psutil."""
    try:
        stat = (proc / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int((proc / str(pid) / "statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # Fields 14 and 15 of stat (utime, stime) are the 12th and 13th after the command name.
    return Usage((int(stat[11]) + int(stat[12])) / ticks, rss_pages * os.sysconf("SC_PAGE_SIZE"))


def with_cpu_percent(snap: dict, before: dict | None) -> dict:
    """`snap` with each worker's CPU% over the time since `before` (the previous snapshot
    of the same run); a worker new since then, or a first snapshot, has none."""
    if before is None:
        return snap
    prev = {w["pid"]: w["cpu_s"] for w in before["workers"] if w["cpu_s"] is not None}
    dt = snap["t"] - before["t"]
    workers = [{**w, "cpu_percent": 100 * (w["cpu_s"] - prev[w["pid"]]) / dt}
               if dt > 0 and w["cpu_s"] is not None and w["pid"] in prev else w
               for w in snap["workers"]]
    return {**snap, "workers": workers}


def last_line(text: str | None) -> str:
    """A stored failure's reason: the last line of its traceback, or its one line."""
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1] if lines else ""
