"""The Petridish algorithm against a real store, with made-up results (no training)."""
import random

import pytest

from petri.algos.petridish.algorithm import Petridish, seed_descs, PetridishCfg, ParetoCfg
from petri.errors import PetriError
from petri.store.store import RunStore
from tests.helpers.algos import (as_result, assert_planned_totals_kept, drive, fake_result,
                                 tiny_config, with_sections)


def cfg(**sections):
    return with_sections(tiny_config("petridish"), **sections)


def test_seed_enumeration_matches_the_published_setting():
    seeds = seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 0)
    assert len(seeds) == 36  # reductions 1-3, cells 3-8 (>= 2r+1), nodes 1-3
    assert seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 0) == seeds  # deterministic
    other = seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 1)
    assert any(other[k].normal != seeds[k].normal for k in seeds)
    d = seeds["r2c5n3"]
    assert (d.reductions, d.cells, d.normal.n_nodes, d.in_channels) == (2, 5, 3, 3)
    assert all(e.op != "none" for n in d.normal.nodes for e in n.edges)


def test_a_search_runs_to_max_points_with_lineage(tmp_path):
    _, view, algo = drive(cfg(), run_dir=tmp_path)
    points = view.points()
    assert len(points) == 8  # max_points: 2 seeds + 6 children, every one exactly once
    assert len({p.key for p in points}) == 8
    seeds = [p for p in points if p.stage == "seed"]
    grown = [p for p in points if p.stage == "grown"]
    assert len(seeds) == 2 and len(grown) == 6
    ids = {p.id for p in points}
    assert all(p.parent in ids and p.lineage["picks"] for p in grown)
    assert algo.stop_reason(view).startswith("max_points")
    searches = view.jobs(kind="search")
    assert [j.spec["index"] for j in searches] == list(range(6))
    assert all(j.spec["parent_checkpoint"].startswith("jobs/") for j in searches)


def test_search_n_waits_for_the_pool_it_samples_from(tmp_path):
    store = RunStore.open(tmp_path, create=True)
    view = store.view
    algo = Petridish(cfg(petridish={"parallel": 1}))
    store.enqueue(algo.propose(view, 4))
    rng = random.Random(0)
    for _ in range(2):  # both seeds
        j = store.claim("w", "cpu")
        out = algo.on_result(j, as_result(j, fake_result(j, rng)), view)
        store.complete(j.id, j.lease, fake_result(j, rng), out.points, out.jobs, 3)
    first = algo.propose(view, 4)
    assert [s.key for s in first] == ["search/0"]  # parallel 1: search/1 needs its result
    store.enqueue(first)
    assert algo.propose(view, 4) == []


@pytest.mark.parametrize("setting,reason", [
    ({"max_cost": 1}, "max_cost"),
    ({"budget_epochs": 4}, "epochs"),
    ({"budget_hours": 1e-9}, "device-hours"),
])
def test_termination_rules(tmp_path, setting, reason):
    _, view, algo = drive(cfg(petridish={"max_points": 50, **setting}), run_dir=tmp_path)
    assert reason in algo.stop_reason(view)
    assert len(view.jobs(kind="search")) == len(view.jobs(kind="post_train"))  # drained


def test_patience_stops_when_children_add_no_hypervolume(tmp_path):
    def worse_children(job, rng):
        r = fake_result(job, rng)
        if job.kind == "post_train":  # every child is dominated: no hypervolume gain
            r.update(val_error=0.9, macs=2_000_000)
        return r

    _, view, algo = drive(cfg(petridish={"max_points": 50, "patience": 3}), worse_children,
                          run_dir=tmp_path)
    assert "hypervolume" in algo.stop_reason(view)
    assert len([p for p in view.points() if p.stage == "grown"]) < 10


def test_parents_come_from_the_eps_band_and_are_spread(tmp_path):
    _, view, _ = drive(cfg(petridish={"max_points": 30}, pareto={"max_cells": 5, "max_nodes": 2}),
                      run_dir=tmp_path)
    parents = [j.spec["parent"] for j in view.jobs(kind="search")]
    assert len(set(parents)) > 1


@pytest.mark.parametrize("section,value,words", [
    ("hull", {"cost": "flops"}, "hull.cost"),
    ("hull", {"axis": "sqrt"}, "hull.axis"),
    ("petridish", {"k": 0}, "petridish.k"),
    ("petridish", {"kk": 3}, "unknown petridish setting"),
    ("pareto", {"min_cells": 9}, "pareto"),
    ("data", {"dataset": "svhn"}, "svhn"),
    ("search", {"epochs": 0}, "epochs"),
])
def test_bad_settings_are_named(section, value, words):
    with pytest.raises(PetriError, match=words):
        Petridish(cfg(**{section: value}))


def test_every_seed_draws_its_own_cells_reproducibly_from_the_run_seed():
    seeds = seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 0)
    for n in (1, 3):
        same_n = [d for k, d in seeds.items() if k.endswith(f"n{n}")]
        assert len({(d.normal, d.reduce) for d in same_n}) == len(same_n) == 12
    assert seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 0) == seeds
    other = seed_descs(PetridishCfg(), ParetoCfg(), "cifar10", 1)
    assert all(other[k].normal != seeds[k].normal for k in seeds if k.endswith("n3"))


def test_trainer_seeds_follow_the_run_seed_and_the_job_key(tmp_path):
    def seeds(run_seed, where):
        _, view, _ = drive(cfg(seed=run_seed), run_dir=tmp_path / where)
        return {j.key: j.spec["trainer"]["seed"] for j in view.jobs()}

    a, again, b = seeds(3, "a"), seeds(3, "again"), seeds(4, "b")
    assert a == again
    assert len(set(a.values())) == len(a)  # every job its own noise
    common = set(a) & set(b)
    assert {"seed/r1c3n1", "search/0", "post/0"} <= common
    assert all(a[k] != b[k] for k in common)


@pytest.mark.parametrize("select", ["alpha", "random"])
def test_the_select_rule_reaches_every_search_job(tmp_path, select):
    _, view, _ = drive(cfg(petridish={"select": select}), run_dir=tmp_path)
    assert {j.spec["grow"]["select"] for j in view.jobs(kind="search")} == {select}


def test_an_unknown_select_rule_is_named():
    with pytest.raises(PetriError, match="petridish.select"):
        Petridish(cfg(petridish={"select": "best"}))


def test_a_budget_run_makes_the_points_it_plans():
    # budget_epochs, not max_points, ends this run: its plan must still be kept.
    assert_planned_totals_kept(cfg(petridish={"budget_epochs": 9}))
