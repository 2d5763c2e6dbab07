"""How repeatable `petri latency` is: the coefficient of variation of the reported median
over repeated measurements (no cache) of models from ~10k to ~1M parameters.

    python bench/latency_stability.py [--repeats 5] [--threads 1] [--batch 1] [--quick]

Goal (issue 26): at most 3% on an idle 2-core machine. --quick measures the two smallest
models with a short protocol, to check that the script runs.
"""
from __future__ import annotations

import argparse
import statistics

from petri.cost import count_cost
from petri.data.info import dataset_info
from petri.latency.measure import Protocol
from petri.latency.run import measure_desc
from petri.latency.target import Target
from petri.space.genotypes import genotype

# DARTS_V2 cells on CIFAR-10 at (channels, cells): about 10k, 50k, 200k and 1M parameters.
SIZES = [(4, 5), (8, 8), (16, 8), (36, 8)]
QUICK = Protocol(max_warmup_s=1.0, min_runs=10, budget_s=0.3)


def stability(target: Target, dataset: str, protocol: Protocol, repeats: int,
              sizes=SIZES) -> list[tuple[int, int, int, float, float, float]]:
    """(channels, cells, params, median ms, CV of the median, CV of runs) of each size:
    `repeats` uncached measurements of DARTS_V2 cells on `dataset`'s input."""
    info = dataset_info(dataset)
    rows = []
    for channels, cells in sizes:
        desc = genotype("DARTS_V2", channels=channels, cells=cells,
                        in_channels=info.shape[0], num_classes=info.num_classes)
        runs = [measure_desc(desc, target, info.shape, protocol, cache=False).timings
                for _ in range(repeats)]
        medians = [t.median_ms for t in runs]
        rows.append((channels, cells, count_cost(desc, info.shape).params,
                     statistics.median(medians),
                     statistics.stdev(medians) / statistics.fmean(medians),
                     statistics.median(t.cv for t in runs)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    target = Target("cpu", args.threads, args.batch)
    protocol = QUICK if args.quick else Protocol()
    print(f"{args.repeats} measurements each, {args.dataset}, {target}, {protocol}")
    print(f"{'channels':>8} {'cells':>5} {'params':>9} {'median ms':>10} {'CV of median':>13} "
          f"{'CV of runs':>11}")
    rows = stability(target, args.dataset, protocol, args.repeats,
                     SIZES[:2] if args.quick else SIZES)
    for channels, cells, params, median, cv, cv_runs in rows:
        print(f"{channels:>8} {cells:>5} {params:>9,} {median:>10.3f} {100 * cv:>12.2f}% "
              f"{100 * cv_runs:>10.1f}%")


if __name__ == "__main__":
    main()
