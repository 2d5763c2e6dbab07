"""Regularized evolution: one-edge mutations, generations, tournaments and aging."""
import copy
import json
import random

import pytest

from petri.algos.evolution.algorithm import front_ranks
from petri.algos.registry import create_algo
from petri.errors import ConfigError
from petri.space.desc import SEARCH_OPS, ModelDesc
from petri.space.sample import mutate, random_desc
from tests.conftest import ROOT, needs_fashion, run_petri
from tests.helpers.algos import as_result, drive, fake_result

CFG = {"algo": "evolution", "seed": 1, "data": {"dataset": "fashion-mnist"},
       "pareto": {"min_reductions": 0, "max_reductions": 1, "min_cells": 1, "max_cells": 3,
                  "min_nodes": 2, "max_nodes": 3},
       "hull": {"cost": "params"},
       "evolution": {"population": 4, "sample": 4, "cycles": 7, "parallel": 2, "channels": 4},
       "trainer": {"epochs": 1}}


def edges(desc: ModelDesc) -> list:
    return [(kind, j, k, e.op, e.input) for kind in ("normal", "reduce")
            for j, node in enumerate(getattr(desc, kind).nodes) for k, e in enumerate(node.edges)]


@pytest.mark.parametrize("seed", range(30))
def test_a_mutation_changes_one_edge_and_stays_valid(seed):
    rng = random.Random(seed)
    parent = random_desc(rng, 3, 2, channels=4, cells=3, reductions=1, in_channels=1)
    child = mutate(parent, rng, SEARCH_OPS)
    changed = [(a, b) for a, b in zip(edges(parent), edges(child)) if a != b]
    assert len(changed) == 1
    (kind, j, k, op, inp), (_, _, _, op2, inp2) = changed[0]
    assert (op != op2) != (inp != inp2)  # the op or the input, not both
    node = getattr(child, kind).nodes[j]
    assert len({e.input for e in node.edges}) == len(node.edges)  # inputs stay distinct
    assert (child.channels, child.cells, child.reductions) == (4, 3, 1)


def test_a_mutation_with_nothing_to_change_returns_the_parent():
    desc = random_desc(random.Random(0), 1, 2, ops=("skip_connect",), channels=4, cells=1,
                       reductions=0, in_channels=1)
    assert mutate(desc, random.Random(0), ("skip_connect",)) == desc


def test_front_ranks_peel_pareto_fronts():
    from petri.store.records import Point

    def pt(i, params, err):
        return Point(i, f"k{i}", None, None, params, None, None, err, None, None, {}, None,
                     None, None, 0.0)

    pts = [pt(1, 10, 0.5), pt(2, 20, 0.3), pt(3, 20, 0.6), pt(4, 30, 0.4), pt(5, 40, 0.2)]
    assert front_ranks(pts, "params") == {1: 0, 2: 0, 5: 0, 3: 1, 4: 1}


def test_children_come_in_generations_from_the_youngest_population(tmp_path):
    _, view, algo = drive(CFG, run_dir=tmp_path, slots=3)
    jobs = sorted(view.jobs(kind="train"), key=lambda j: j.spec["index"])
    assert [j.spec["index"] for j in jobs] == list(range(4 + 7))
    assert all("parent" not in j.spec for j in jobs[:4])
    points = {p.lineage["index"]: p for p in view.points()}
    assert len(points) == 11 and {p.id for p in points.values()} == set(range(1, 12))
    for job in jobs[4:]:
        n = job.spec["index"]
        # Generation of child n: children come `parallel` at a time after the population.
        first = 4 + (n - 4) // 2 * 2
        alive = [points[i] for i in range(first - 4, first)]  # the youngest four
        # With sample == population the tournament is the whole population, whose best
        # front holds its lowest error: that point is the parent.
        best = min(alive, key=lambda p: (p.val_error, p.lineage["index"]))
        assert job.spec["parent"] == best.id, n
        parent_desc = ModelDesc.from_dict(points[best.lineage["index"]].desc)
        changed = [a for a, b in zip(edges(parent_desc), edges(ModelDesc.from_dict(
            job.spec["desc"]))) if a != b]
        assert len(changed) <= 1
    assert algo.stop_reason(view) == "all 7 children proposed"
    assert algo.planned_points() == 11


def test_a_generation_waits_for_the_one_before(tmp_path):
    from petri.store.store import RunStore

    store = RunStore.memory()
    algo = create_algo(copy.deepcopy(CFG))
    store.enqueue(algo.propose(store.view, 8))
    assert store.view.counts()["queued"] == 4
    job = store.claim("w", "cpu")
    result = fake_result(job, random.Random(0))
    out = algo.on_result(job, as_result(job, result), store.view)
    assert store.complete(job.id, job.lease, result, out.points, out.jobs)
    assert algo.propose(store.view, 8) == []  # three members still training
    assert algo.stop_reason(store.view) is None


@pytest.mark.parametrize("section,match", [
    ({"sample": 5}, "evolution.sample \\(5\\) must be at most evolution.population \\(4\\)"),
    ({"population": 1}, "evolution.population"),
    ({"cycles": "many"}, "evolution.cycles"),
])
def test_bad_settings_are_one_line(section, match):
    cfg = copy.deepcopy(CFG)
    cfg["evolution"] |= section
    with pytest.raises(ConfigError, match=match):
        create_algo(cfg)


@pytest.mark.slow
@needs_fashion
def test_the_toy_config_runs_on_the_daemon(tmp_path):
    run = tmp_path / "run"
    sets = ["evolution.population=3", "evolution.cycles=2", "evolution.sample=2",
            "data.subset=256", "data.val_subset=256", "trainer.epochs=1"]
    res = run_petri("start", ROOT / "configs" / "evolution_toy.yaml", "--run-dir", run,
                    "--foreground", *[a for s in sets for a in ("--set", s)], timeout=300)
    assert res.returncode == 0, res.stderr
    snap = json.loads(run_petri("status", run, "--json").stdout)
    assert snap["done"] and [p["id"] for p in snap["points"]] == [1, 2, 3, 4, 5]
    assert all(p["parent"] in (1, 2, 3) for p in snap["points"][3:])
