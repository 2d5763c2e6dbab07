"""The daemon's own CPU and memory per 1,000 jobs over a long smoke run: flat, not growing
with the run's length, is the target.

A real daemon (`petri start`, 2 CPU slots) runs `--jobs` zero-length `sleep_train` jobs,
each making one point, with the default `daemon.keep: final`. The daemon's process is read
from /proc as the jobs finish: its CPU seconds and wall seconds per block of `--block` jobs,
and its resident memory at each block's end.

    python bench/daemon_growth.py [--jobs 10000] [--block 1000] [--run DIR]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from petri.daemon.lock import daemon_alive  # noqa: E402
from petri.status import process_usage  # noqa: E402
from petri.store.store import RunStore  # noqa: E402


def done_jobs(run: Path) -> int:
    with RunStore.open(run, readonly=True) as store:
        return store.view.counts()["done"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--block", type=int, default=1_000)
    ap.add_argument("--run", type=Path, help="the run dir to create (default: a temp dir)")
    args = ap.parse_args()
    run = args.run or Path(tempfile.mkdtemp(prefix="petri-growth-")) / "run"
    subprocess.run([sys.executable, "-m", "petri.cli.main", "start",
                    str(ROOT / "configs" / "smoke.yaml"), "--run-dir", str(run),
                    "--set", f"smoke.jobs={args.jobs}", "--set", "smoke.steps=1",
                    "--set", "smoke.step_time=0", "--set", "daemon.cpu_slots=2"], check=True)
    while (pid := daemon_alive(run)) is None:
        time.sleep(0.05)
    print(f"daemon {pid} on {run}: {args.jobs} jobs")
    print(f"{'jobs':>11} {'wall s':>7} {'cpu s':>6} {'cpu %':>6} {'rss MiB':>8}")
    last_cpu, last_t, mark = process_usage(pid).cpu_s, time.time(), args.block
    while mark <= args.jobs:
        usage = process_usage(pid)
        if usage is None:
            break
        if done_jobs(run) >= mark:
            t = time.time()
            cpu = usage.cpu_s - last_cpu
            print(f"{mark - args.block:>5}-{mark:<5} {t - last_t:7.1f} {cpu:6.1f} "
                  f"{100 * cpu / (t - last_t):6.0f} {usage.rss_bytes / 2**20:8.1f}", flush=True)
            last_cpu, last_t, mark = usage.cpu_s, t, mark + args.block
        time.sleep(0.1)
    while daemon_alive(run):
        time.sleep(0.1)


if __name__ == "__main__":
    main()
