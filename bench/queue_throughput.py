"""Store and dispatch speed.

    python bench/queue_throughput.py [--jobs N] [--dispatch-jobs M] [--executor local|ray]
                                     [--ray-address auto|local|HOST:PORT]

1. Store: claim + complete (with one point each) of N jobs through a file-backed SQLite store,
   one transaction each, as the daemon does. Prints operations per second (target >= 500/s).
2. Dispatch latency: M zero-length `sleep_train` jobs through a real daemon with 2 slots; for
   consecutive jobs on one worker, the time from the previous job's result.json landing in
   its job dir to the next job reporting that it runs. Prints the median and 95th percentile
   (target median <= 100 ms), and jobs/s from the first claim to the last result.
   `--executor ray` measures the local executor and then the same jobs through 2 Ray actors
   (one CPU each) in one run; `--ray-address local` (the default) starts a private Ray for it.
"""
from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from petri.io import read_json
from petri.rundir import PROGRESS, RESULT, RunDir
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore


def store_rate(n: int, run_dir: Path) -> float:
    store = RunStore.open(run_dir, create=True)
    store.enqueue([JobSpec("sleep_train", {"i": i}, f"j{i}") for i in range(n)])
    t = time.perf_counter()
    for i in range(n):
        job = store.claim("w0", "cpu")
        store.complete(job.id, job.lease, {"ok": 1}, [PointSpec(f"p{i}", 0.1, macs=i)], [])
    dt = time.perf_counter() - t
    store.close()
    return 2 * n / dt  # a claim and a completion per job


def dispatch(n: int, run_dir: Path, sets: tuple[str, ...] = ()) -> tuple[list[float], float]:
    """(hand-over latencies, jobs/s) of `n` zero-length jobs through a daemon."""
    cfg = Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml"
    args = [sys.executable, "-m", "petri.cli.main", "start", str(cfg), "--run-dir",
            str(run_dir), "--foreground"]
    for s in (f"smoke.jobs={n}", "smoke.steps=1", "smoke.step_time=0", *sets):
        args += ["--set", s]
    # A private Ray keeps its sockets and logs here, away from any other Ray on the machine.
    subprocess.run(args, check=True, capture_output=True,
                   env={**os.environ, "RAY_TMPDIR": str(run_dir.parent)})
    conn = sqlite3.connect(run_dir / "petri.db")
    rows = conn.execute("SELECT id, worker FROM jobs ORDER BY id").fetchall()
    first, last = conn.execute("SELECT min(started), max(ended) FROM attempts").fetchone()
    conn.close()
    by_worker: dict[str, list[int]] = {}
    for job_id, worker in rows:
        by_worker.setdefault(worker, []).append(job_id)
    lat = []
    for ids in by_worker.values():
        for prev, nxt in zip(ids, ids[1:]):
            done_at = os.stat(RunDir(run_dir).job(prev) / RESULT).st_mtime
            started = read_json(RunDir(run_dir).job(nxt) / PROGRESS)["t"]
            if started > done_at:  # jobs of one worker run one after another
                lat.append(started - done_at)
    return lat, n / (last - first)


def report(name: str, lat: list[float], rate: float, n: int) -> None:
    lat = sorted(lat)
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"dispatch latency ({name}): median {1000 * statistics.median(lat):.1f} ms, p95 "
          f"{1000 * p95:.1f} ms over {len(lat)} hand-overs; {rate:.1f} jobs/s ({n} jobs, "
          f"2 slots)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--dispatch-jobs", type=int, default=200)
    ap.add_argument("--executor", choices=("local", "ray"), default="local",
                    help="ray: the local executor and then Ray actors, in one run")
    ap.add_argument("--ray-address", default="local",
                    help="the Ray cluster for --executor ray (default: a private one)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = store_rate(args.jobs, Path(tmp) / "store")
        print(f"store: {rate:.0f} claims+completions/s over {args.jobs} jobs "
              f"(SQLite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL)")
        report("local, 2 CPU slots", *dispatch(args.dispatch_jobs, Path(tmp) / "local"),
               args.dispatch_jobs)
        if args.executor == "ray":
            sets = ("daemon.executor=ray", f"ray.address={args.ray_address}", "ray.slots=2")
            report(f"ray at {args.ray_address}, 2 actors of 1 CPU",
                   *dispatch(args.dispatch_jobs, Path(tmp) / "ray", sets), args.dispatch_jobs)


if __name__ == "__main__":
    main()
