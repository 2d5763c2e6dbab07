"""Latency as a search cost (issue 26): how wide a latency frontier the Petridish toy finds,
and whether a measurement taken while training runs on the other core agrees with an idle one.

    python bench/latency_cost.py contention [--repeats 3] [--quick]
    python bench/latency_cost.py toy [--run-dir DIR] [--quick]

`contention`: the median of a DARTS_V2 network measured on core 0 while idle, then while a
training loop runs on core 1, then idle again; the goal is agreement within the idle
repeats' own spread. `toy`: runs `petri run petridish --set hull.cost=latency` (the daemon
measures every point alone) and prints the frontier's latencies; the goal is a span of at
least 5x. --quick shrinks both to check that the script runs. Take figures on a quiet
machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TRAIN_LOOP = """
import torch
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 32, 3))
opt = torch.optim.SGD(net.parameters(), lr=0.01)
x = torch.randn(32, 3, 32, 32)
while True:
    opt.zero_grad(); net(x).square().mean().backward(); opt.step()
"""
QUICK_TOY = ["pareto.max_reductions=1", "pareto.max_cells=3", "petridish.max_points=4",
             "petridish.search_subset=128", "seed_train.epochs=1", "search.epochs=1",
             "post_train.epochs=1", "data.subset=256", "data.val_subset=128"]


def contention(repeats: int, quick: bool) -> None:
    from petri.data.info import dataset_info
    from petri.latency.measure import Protocol
    from petri.latency.run import measure_desc
    from petri.latency.target import Target
    from petri.space.genotypes import genotype

    info = dataset_info("cifar10")
    desc = genotype("DARTS_V2", channels=8, cells=8, in_channels=3, num_classes=10)
    protocol = Protocol(max_warmup_s=1.0, min_runs=10, budget_s=0.3) if quick else Protocol()
    os.sched_setaffinity(0, {0})

    def medians() -> list[float]:
        return [measure_desc(desc, Target("cpu", 1, 1), info.shape, protocol,
                             cache=False).timings.median_ms for _ in range(repeats)]

    idle = medians()
    trainer = subprocess.Popen([sys.executable, "-c", TRAIN_LOOP],
                               preexec_fn=lambda: os.sched_setaffinity(0, {1}))
    try:
        time.sleep(2.0)  # past the trainer's imports: it computes while we measure
        busy = medians()
    finally:
        trainer.kill()
        trainer.wait()
    idle += medians()
    spread = (max(idle) - min(idle)) / statistics.median(idle)
    shift = statistics.median(busy) / statistics.median(idle) - 1
    print(f"DARTS_V2 8x8 on CIFAR-10 shapes, 1 thread, {protocol}")
    print(f"idle medians (ms): {', '.join(f'{m:.3f}' for m in idle)} (spread {100 * spread:.1f}%)")
    print(f"training on core 1: {', '.join(f'{m:.3f}' for m in busy)} "
          f"(median {100 * shift:+.1f}% from idle)")


def toy(run_dir: Path | None, quick: bool) -> None:
    from petri.status import snapshot

    run_dir = run_dir or Path(tempfile.mkdtemp(prefix="latency-toy-")) / "run"
    sets = ["hull.cost=latency", "latency.target=cpu", *(QUICK_TOY if quick else [])]
    cmd = [sys.executable, "-m", "petri.cli.main", "run", "petridish", "--run-dir", str(run_dir),
           *[a for s in sets for a in ("--set", s)]]
    t0 = time.time()
    subprocess.run(cmd, check=True)
    while not snapshot(run_dir)["done"]:
        time.sleep(5)
    snap = snapshot(run_dir)
    front = [p for p in snap["points"] if p["id"] in snap["frontier"]]
    lat = sorted(p["latency_ms"] for p in front)
    print(f"{len(snap['points'])} points in {time.time() - t0:.0f} s; "
          f"measured on {snap['latency_target']}")
    print(f"frontier latencies (ms): {', '.join(f'{v:.3f}' for v in lat)}; "
          f"span {lat[-1] / lat[0]:.1f}x (goal: at least 5x)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("contention", "toy"))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--run-dir", type=Path)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.what == "contention":
        contention(args.repeats, args.quick)
    else:
        toy(args.run_dir, args.quick)


if __name__ == "__main__":
    main()
