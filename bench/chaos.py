"""Chaos: trivial checkpointing jobs while a killer SIGKILLs random workers and the daemon,
and a supervisor restarts the daemon. Prints jobs completed, duplicates and lost work.

    python bench/chaos.py [--jobs N] [--seconds S] [--kill-every K] [--seed X]

Duplicates must be 0: every job has exactly one point. "Extra steps" is work done twice
because a kill landed between checkpoints (bounded by one checkpoint interval per kill).
"""
from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from petri.daemon.lock import daemon_alive

ROOT = Path(__file__).resolve().parents[1]


def petri(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "petri.cli.main", *map(str, args)],
                          capture_output=True, text=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--every", type=int, default=5, help="checkpoint interval in steps")
    ap.add_argument("--kill-every", type=float, default=1.0, help="seconds between kills")
    ap.add_argument("--seconds", type=float, default=300, help="give up after this long")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        petri("start", ROOT / "configs/smoke.yaml", "--run-dir", run,
              "--set", f"smoke.jobs={args.jobs}", "--set", f"smoke.steps={args.steps}",
              "--set", f"smoke.checkpoint_every={args.every}", "--set", "smoke.step_time=0.02",
              "--set", "daemon.max_attempts=1000", "--set", "daemon.backoff_s=0.05")
        kills = {"daemon": 0, "worker": 0}
        t0 = time.time()
        done = False
        while time.time() - t0 < args.seconds:
            time.sleep(args.kill_every * rng.uniform(0.5, 1.5))
            pid = daemon_alive(run)
            if pid is None:
                conn = sqlite3.connect(run / "petri.db")
                finished = conn.execute("SELECT value FROM meta WHERE key='done'").fetchone()
                conn.close()
                if finished and finished[0] == "1":
                    done = True
                    break
                petri("resume", run)  # the supervisor
                continue
            if rng.random() < 0.3:
                os.kill(pid, signal.SIGKILL)
                kills["daemon"] += 1
            else:
                conn = sqlite3.connect(run / "petri.db")
                pids = [p for (p,) in conn.execute(
                    "SELECT pid FROM jobs WHERE state='running' AND pid IS NOT NULL")]
                conn.close()
                if pids:
                    try:
                        os.kill(rng.choice(pids), signal.SIGKILL)
                        kills["worker"] += 1
                    except ProcessLookupError:
                        pass
        wall = time.time() - t0
        conn = sqlite3.connect(run / "petri.db")
        states = dict(conn.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
        points = conn.execute("SELECT count(*), count(DISTINCT job_id) FROM points").fetchone()
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        conn.close()
        steps = sum(len(p.read_text().split()) for p in run.glob("jobs/*/steps.log"))
        print(f"finished: {done} in {wall:.0f} s; kills: {kills['daemon']} daemon, "
              f"{kills['worker']} worker")
        print(f"jobs: {states}; points: {points[0]} for {points[1]} jobs "
              f"(duplicates: {points[0] - points[1]}); integrity: {integrity}")
        print(f"steps run: {steps} for {args.jobs * args.steps} needed (extra "
              f"{steps - args.jobs * args.steps}; bound {args.every} x {sum(kills.values())} "
              f"kills = {args.every * sum(kills.values())})")
        pid = daemon_alive(run)
        if pid:
            os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
