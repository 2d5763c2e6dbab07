"""`petri compare`'s statistics on synthetic runs, and the random baseline's sampler."""
import math
import random

import pytest

from petri.compare import bootstrap_ci, compare, frame_of


def snap(name, pts, compute=100.0):
    return {"run_dir": name, "compute_s": compute, "cost_metric": "macs",
            "points": [{"id": i, "cost": c, "error": e} for i, (c, e) in enumerate(pts, 1)]}


def runs(algo, n, err, rng):
    out = []
    for s in range(n):
        pts = [(c, err * (1 + 0.05 * rng.random()) - 0.02 * math.log10(c / 1e5))
               for c in (1e5, 3e5, 1e6)]
        out.append((snap(f"{algo}{s}", pts), {"algo": algo, "seed": s}))
    return out


def test_frame_is_fixed_from_all_runs_and_hypervolume_is_normalised():
    a = snap("a", [(1e5, 0.5), (1e6, 0.2)])
    b = snap("b", [(2e5, 0.4), (4e6, 0.1)])
    f = frame_of([a, b])
    assert f["min_cost"] == 1e5 and f["ref_cost"] == pytest.approx(4e6, rel=1e-3)
    out = compare([a, b], [{"algo": "x"}, {"algo": "y"}], [1e6])
    hv = {r["run_dir"]: r["hypervolume"] for r in out["runs"]}
    assert 0 < hv["a"] < 1 and 0 < hv["b"] < 1
    assert {r["run_dir"]: r["best_error"][1e6] for r in out["runs"]} == {"a": 0.2, "b": 0.4}


def test_verdict_against_random():
    rng = random.Random(0)
    data = runs("petridish", 4, 0.20, rng) + runs("random", 4, 0.30, rng)
    out = compare([s for s, _ in data], [c for _, c in data], [1e6])
    groups = {g["algo"]: g for g in out["groups"]}
    assert groups["petridish"]["hv_mean"] > groups["random"]["hv_mean"]
    assert groups["petridish"]["verdict"].startswith("beats random")
    lo, hi = groups["petridish"]["hv_ci"]
    assert lo <= groups["petridish"]["hv_mean"] <= hi
    same = runs("petridish", 3, 0.3, random.Random(1)) + runs("random", 3, 0.3, random.Random(1))
    out = compare([s for s, _ in same], [c for _, c in same], [1e6])
    verdict = next(g["verdict"] for g in out["groups"] if g["algo"] == "petridish")
    assert verdict.startswith("no clear difference")


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_more_runs():
    rng = random.Random(0)
    few = [rng.gauss(0.5, 0.1) for _ in range(4)]
    many = [rng.gauss(0.5, 0.1) for _ in range(64)]
    lo1, hi1 = bootstrap_ci(few, random.Random(1))
    lo2, hi2 = bootstrap_ci(many, random.Random(1))
    assert lo1 <= sum(few) / 4 <= hi1 and (hi2 - lo2) < (hi1 - lo1)
    assert bootstrap_ci([0.3], random.Random(0)) == (0.3, 0.3)


def test_random_draws_are_reproducible_and_respect_the_cost_range():
    from petri.cost import count_cost
    from petri.daemon.random_job import draw

    sampler = {"seed": 0, "min_reductions": 0, "max_reductions": 2, "min_cells": 1,
               "max_cells": 5, "min_nodes": 1, "max_nodes": 3, "edges_per_node": 2,
               "channels": 4, "stem_multiplier": 2, "metric": "macs",
               "min_cost": 300_000, "max_cost": 600_000}
    descs = [draw(sampler, i, 1, 10, (1, 28, 28)) for i in range(5)]
    assert [d.key() for d in descs] == [draw(sampler, i, 1, 10, (1, 28, 28)).key()
                                        for i in range(5)]
    assert len({d.key() for d in descs}) == 5
    assert all(300_000 <= count_cost(d, (1, 28, 28)).macs <= 600_000 for d in descs)


def test_random_algorithm_proposes_its_samples_once(tmp_path):
    from petri.algos.random_search import RandomSearch
    from petri.store import db, jobs
    from petri.store.view import RunView

    algo = RandomSearch({"algo": "random", "random": {"samples": 3},
                         "data": {"dataset": "fashion-mnist"}, "trainer": {"epochs": 1}})
    conn = db.connect(tmp_path, create=True)
    view = RunView(conn)
    specs = algo.propose(view, 2)
    assert [s.key for s in specs] == ["random/0", "random/1", "random/2"]
    jobs.enqueue(conn, specs)
    assert algo.propose(view, 2) == [] and algo.stop_reason(view)
