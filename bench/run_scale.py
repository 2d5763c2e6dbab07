"""How long the inspecting commands take on a large run: `status`, `status --json`, `watch`'s
refresh, `ls` and `compare` on a smoke run of 10,000 done jobs holding 5,000 points.

The run is built straight through `RunStore` (enqueue, claim, complete: the daemon's own
writes, without workers or training), with a job dir per job holding a small checkpoint, so
the disk walk `status` and `ls` do is measured too. Each command runs in this interpreter,
`--repeat` times after one warm-up call; the figures are wall seconds.

    python bench/run_scale.py [--jobs 10000] [--points 5000] [--repeat 5] [--run DIR]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def build(run: Path, jobs: int, points: int) -> None:
    """A finished smoke run of `jobs` jobs, the first `points` of which each made a point."""
    from petri.algos.smoke.job import fake_error
    from petri.daemon.create import create_run
    from petri.launch import load_config
    from petri.rundir import RunDir
    from petri.store.records import JobSpec, PointSpec
    from petri.store.store import RunStore

    create_run(load_config(ROOT / "configs" / "smoke.yaml", (f"smoke.jobs={jobs}",)), run)
    rd = RunDir(run)
    with RunStore.open(run) as store:
        store.enqueue([JobSpec("sleep_train", {"index": i, "seed": 0}, f"smoke/{i}")
                       for i in range(jobs)])
        for i in range(jobs):
            job = store.claim("bench", "cpu")
            rd.job(job.id).mkdir(parents=True)
            (rd.job(job.id) / "checkpoint.json").write_text('{"step": 20}')
            err, macs = fake_error(0, i)
            made = [PointSpec(key=f"smoke/{i}/point", val_error=err, macs=macs,
                              params=macs // 100, stage="smoke", budget=20, ordinal=i)]
            store.complete(job.id, job.lease, {"val_error": err, "macs": macs, "steps": 20},
                           made if i < points else [], [])
        store.set_meta(done=1, daemon_state="done")


def quiet(fn):
    """`fn` with its output swallowed (the terminal's drawing is not what is measured)."""
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            fn()
    return run


def cli(*args):
    from petri.cli.main import main

    def run():
        code = main(list(map(str, args)))
        assert code == 0, f"petri {' '.join(map(str, args))} exited {code}"
    return quiet(run)


def watch_refresh(run: Path):
    """One tick of the live view: a snapshot, the check whether it changed, and the frame
    drawn to a terminal-sized console."""
    from rich.console import Console

    from petri.cli.live import _signature, frame
    from petri.status import snapshot, with_cpu_percent

    console = Console(file=io.StringIO(), width=160, height=50)
    before = snapshot(run)

    def run_once():
        snap = with_cpu_percent(snapshot(run), before)
        _signature(snap)
        console.print(frame(snap, 160, 50))
    return run_once


def timed(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up: imports and the page cache
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.fmean(times), statistics.stdev(times) if repeat > 1 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--points", type=int, default=5_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--run", type=Path, help="build (or reuse) the run here")
    args = ap.parse_args()
    run = args.run or Path(tempfile.mkdtemp(prefix="petri-scale-")) / "run"
    if not run.exists():
        t = time.perf_counter()
        build(run, args.jobs, args.points)
        print(f"built {run}: {args.jobs} jobs, {args.points} points in "
              f"{time.perf_counter() - t:.1f}s")
    cases = {"status": cli("status", run), "status --json": cli("status", run, "--json"),
             "watch refresh": watch_refresh(run), "ls": cli("ls", run.parent),
             "compare": cli("compare", run)}
    for name, fn in cases.items():
        mean, sd = timed(fn, args.repeat)
        print(f"{name:<15} {mean:6.3f}s ± {sd:.3f} (n={args.repeat})", flush=True)


if __name__ == "__main__":
    main()
