"""The per-op latency table's prediction against the measurement, on random descs of the
search space: Spearman's rank correlation and the median relative error.

    python bench/latency_predictor.py [--n 50] [--dataset fashion-mnist] [--channels 8 16]
                                      [--threads 1] [--quick]

The table is the one `petri latency table` keeps (measured first where it lacks entries), with
its overhead fitted on the whole networks `petri latency table --channels ...` measures (none
of them among the descs scored here).
Goal (issue 26): Spearman's rho at least 0.9 on at least 50 descs. --quick uses 8 descs,
one channel count and short protocols, to check that the script runs.
"""
from __future__ import annotations

import argparse
import random
import statistics

from petri.data.info import dataset_info
from petri.latency.build_table import measure_table
from petri.latency.measure import Protocol
from petri.latency.run import measure_desc
from petri.latency.table import (TABLE_CHANNELS, calibration_descs, layers, predict_latency,
                                 table_pareto)
from petri.latency.target import Target
from petri.space.sample import ParetoCfg, random_desc
from petri.stats import _doubled_ranks

QUICK = Protocol(max_warmup_s=0.5, min_runs=10, budget_s=0.1)


def spearman(a: list[float], b: list[float]) -> float:
    """Pearson's correlation of the ranks (doubled ranks correlate alike)."""
    return statistics.correlation(_doubled_ranks(a), _doubled_ranks(b))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--channels", type=int, nargs="+", default=list(TABLE_CHANNELS[:2]))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    info = dataset_info(args.dataset)
    target = Target("cpu", args.threads, args.batch)
    rng, pareto = random.Random(args.seed), ParetoCfg()
    n, channels = (8, args.channels[:1]) if args.quick else (args.n, args.channels)
    descs = []
    for _ in range(n):
        r, cells, nodes = rng.choice(pareto.macros())
        descs.append(random_desc(rng, nodes, channels=rng.choice(channels), cells=cells,
                                 reductions=r, in_channels=info.shape[0],
                                 num_classes=info.num_classes))
    wanted = sorted({x for d in descs for x in layers(d, info.shape[1:])})
    kw = {"protocol": Protocol(max_warmup_s=0.5, min_runs=10, budget_s=0.02)} if args.quick else {}
    calibrate = calibration_descs(info.shape, info.num_classes, tuple(channels), table_pareto())
    assert not {d.key() for d in descs} & {d.key() for d in calibrate}, "a scored desc was fitted"
    table = measure_table(target, info.shape, info.name, wanted, calibrate=calibrate, **kw)
    measured, predicted = [], []
    print(f"{'#':>3} {'cells':>5} {'red.':>4} {'C':>3} {'nodes':>5} {'measured ms':>11} "
          f"{'predicted ms':>12} {'error':>7}")
    for i, d in enumerate(descs):
        m = measure_desc(d, target, info.shape, QUICK if args.quick else Protocol(),
                         cache=False).timings.median_ms
        p = predict_latency(d, table)
        measured.append(m)
        predicted.append(p)
        print(f"{i:>3} {d.cells:>5} {d.reductions:>4} {d.channels:>3} {d.normal.n_nodes:>5} "
              f"{m:>11.3f} {p:>12.3f} {100 * (p / m - 1):>+6.0f}%")
    errors = [abs(p / m - 1) for p, m in zip(predicted, measured)]
    o = table.overhead
    print(f"{n} descs on {table.info.line()}: Spearman rho {spearman(predicted, measured):.3f}, "
          f"median relative error {100 * statistics.median(errors):.1f}% (overhead: "
          f"{100 * o.scale:.0f}% and {1000 * o.per_layer_ms:.1f} us per layer, fitted on "
          f"{o.networks} networks)")


if __name__ == "__main__":
    main()
