"""Two figures behind code limits, measured on CPU:

(a) building a random desc on the meta device, per operation (why `petri.cost.MAX_OPS`);
(b) one training step (forward, backward, SGD) of Petridish's candidate search (`GrowthNet`
    around a seed) against the seed's own step, on the toy config's seeds (Fashion-MNIST,
    8 channels, batch 64): why `petridish.search_subset` exists.

    python bench/build_and_search_step.py

Warm-up excluded: (a) mean ± std of the builds after the first; (b) the median of 8 steps
after 2.
"""
from __future__ import annotations

import random
import statistics
import time

import torch

from petri.algos.petridish.algorithm import ParetoCfg, PetridishCfg, seed_descs
from petri.algos.petridish.grow import GrowthNet
from petri.space.build import build_model
from petri.space.sample import random_desc


def build_per_op() -> None:
    for cells in (20, 100, 250):
        desc = random_desc(random.Random(0), 4, 2, channels=16, cells=cells, reductions=2,
                           in_channels=3)
        ops = cells * 8
        times = []
        for _ in range(5):
            t = time.perf_counter()
            with torch.device("meta"):
                build_model(desc)
            times.append(time.perf_counter() - t)
        mean, sd = statistics.fmean(times[1:]), statistics.stdev(times[1:])
        print(f"build on meta: {cells} cells, {ops} ops: {mean * 1e3:.0f} ± {sd * 1e3:.0f} ms, "
              f"{mean / ops * 1e3:.2f} ms per op")


def step_time(model: torch.nn.Module, x, y, reps: int = 8) -> float:
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01,
                          momentum=0.9)
    times = []
    for i in range(reps + 2):
        t = time.perf_counter()
        out = model(x)
        loss = torch.nn.functional.cross_entropy(out[0] if isinstance(out, tuple) else out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def search_against_parent() -> None:
    torch.manual_seed(0)
    pareto = ParetoCfg(min_reductions=0, max_reductions=2, min_cells=1, max_cells=5,
                       min_nodes=1, max_nodes=1)
    seeds = seed_descs(PetridishCfg(channels=8), pareto, "fashion-mnist", 0)
    x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
    for key in ("r0c1n1", "r1c3n1", "r2c5n1"):
        parent = step_time(build_model(seeds[key]).train(), x, y)
        search = step_time(GrowthNet(build_model(seeds[key]), seed=0).train(), x, y)
        print(f"seed {key}: parent step {parent * 1e3:.0f} ms, search step "
              f"{search * 1e3:.0f} ms, {search / parent:.1f}x")


if __name__ == "__main__":
    build_per_op()
    search_against_parent()
