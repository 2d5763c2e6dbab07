"""Store and dispatch speed.

    python bench/queue_throughput.py [--jobs N] [--dispatch-jobs M]

1. Store: claim + complete (with one point each) of N jobs through a file-backed SQLite store,
   one transaction each, as the daemon does. Prints operations per second (target >= 500/s).
2. Dispatch latency: M zero-length `sleep_train` jobs through a real daemon with 2 CPU slots;
   for consecutive jobs on one worker, the time from the previous job's result.json being
   written to the next job reporting that it runs. Prints the median and 95th percentile
   (target median <= 100 ms).
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
from petri.store import db, jobs
from petri.store.records import JobSpec, PointSpec


def store_rate(n: int, run_dir: Path) -> float:
    conn = db.connect(run_dir, create=True)
    jobs.enqueue(conn, [JobSpec("sleep_train", {"i": i}, f"j{i}") for i in range(n)])
    t = time.perf_counter()
    for i in range(n):
        job = jobs.claim(conn, "w0", "cpu")
        jobs.complete(conn, job.id, job.lease, {"ok": 1}, [PointSpec(f"p{i}", 0.1, macs=i)], [])
    dt = time.perf_counter() - t
    conn.close()
    return 2 * n / dt  # a claim and a completion per job


def dispatch_latency(n: int, run_dir: Path) -> list[float]:
    cfg = Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml"
    subprocess.run([sys.executable, "-m", "petri.cli.main", "start", str(cfg), "--run-dir",
                    str(run_dir), "--foreground", "--set", f"smoke.jobs={n}",
                    "--set", "smoke.steps=1", "--set", "smoke.step_time=0"],
                   check=True, capture_output=True)
    conn = sqlite3.connect(run_dir / "petri.db")
    rows = conn.execute("SELECT id, worker FROM jobs ORDER BY id").fetchall()
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
    return lat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--dispatch-jobs", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rate = store_rate(args.jobs, Path(tmp) / "store")
        print(f"store: {rate:.0f} claims+completions/s over {args.jobs} jobs "
              f"(SQLite {sqlite3.sqlite_version}, WAL, synchronous=NORMAL)")
        lat = sorted(dispatch_latency(args.dispatch_jobs, Path(tmp) / "dispatch"))
        p95 = lat[int(0.95 * (len(lat) - 1))]
        print(f"dispatch latency: median {1000 * statistics.median(lat):.1f} ms, p95 "
              f"{1000 * p95:.1f} ms over {len(lat)} hand-overs ({args.dispatch_jobs} jobs, "
              f"2 CPU slots)")


if __name__ == "__main__":
    main()
