"""The contract every registered algorithm passes, run against a real store (no training).

Each case is an algorithm with a small config and a stand-in for its workers' results (a
result depends only on the job's key). A new algorithm adds one row to CASES.
"""
import json
import random
import subprocess
import sys

import pytest

from petri.algos.registry import create_algo, registry
from petri.errors import ConfigError
from petri.launch import check
from petri.daemon.life import extendable_keys, extended
from petri.store.store import RunStore
from tests import test_darts_algo as darts_tests
from tests import test_petridish_algo as petridish_tests
from tests.conftest import as_result


def smoke_result(job, rng):
    return {"val_error": round(rng.uniform(0.1, 0.5), 4), "macs": 1000, "params": 10,
            "steps": job.spec["steps"]}


def random_result(job, rng):
    from petri.algos.random.job import RandomTrainSpec, draw

    spec = RandomTrainSpec.from_dict(job.spec)
    desc = draw(spec.sampler, spec.index, 1, 10, (1, 28, 28))
    return {**petridish_tests.fake_result(job, rng), "desc": desc.to_dict()}


RANDOM = {"algo": "random", "seed": 2, "data": {"dataset": "fashion-mnist"},
          "pareto": {"min_reductions": 0, "max_reductions": 1, "min_cells": 1, "max_cells": 3,
                     "min_nodes": 1, "max_nodes": 2},
          "random": {"samples": 6, "channels": 4}, "trainer": {"epochs": 1}}
EVOLUTION = {"algo": "evolution", "seed": 4, "data": {"dataset": "fashion-mnist"},
             "pareto": {"min_reductions": 0, "max_reductions": 1, "min_cells": 1,
                        "max_cells": 3, "min_nodes": 1, "max_nodes": 3},
             "evolution": {"population": 4, "sample": 2, "cycles": 5, "parallel": 2,
                           "channels": 4}, "trainer": {"epochs": 1}}
CASES = {
    "smoke": ({"algo": "smoke", "smoke": {"jobs": 5}}, smoke_result),
    "petridish": (petridish_tests.cfg(), petridish_tests.fake_result),
    "random": (RANDOM, random_result),
    "darts": (darts_tests.cfg("darts", darts={"searches": 3}), darts_tests.fake_result),
    "darts2": (darts_tests.cfg("darts2", darts={"searches": 2}), darts_tests.fake_result),
    "pc-darts": (darts_tests.cfg("pc-darts", supernet={"channels": 8}),
                 darts_tests.fake_result),
    "mood": (darts_tests.mood_cfg(max_searches=4), darts_tests.fake_result),
    "evolution": (EVOLUTION, petridish_tests.fake_result),
}
# `eval` needs a gallery to exist; tests/daemon/test_petridish_run.py runs it on an export.
NAMES = sorted(n for n in registry() if n != "eval")


def test_every_registered_algorithm_has_a_case():
    assert set(NAMES) <= set(CASES)


def run(config, fake_result, slots=2, order_seed=0, restart_at=None, limit=300,
        on_claim=lambda algo, job: None, then=None):
    """Finish jobs in a shuffled order, as the daemon would; at step `restart_at` throw the
    algorithm away, put running jobs back, and build a new one from the config (a restart).
    `on_claim(algo, job)` sees each job as a worker would be given it. Once the search is
    done, `then` (an extended config) makes it go on, as `petri resume --set` does."""
    store = RunStore.memory()
    algo = create_algo(config)
    order = random.Random(order_seed)
    running = []
    for step in range(limit):
        if step == restart_at:
            for job in running:
                store.release(job.id, job.lease, "restart")
            running, algo = [], create_algo(config)
        if not store.view.counts()["queued"]:
            store.enqueue(algo.propose(store.view, slots - len(running)))
        while len(running) < slots and (job := store.claim("w", "cpu")) is not None:
            on_claim(algo, job)
            running.append(job)
        if not running:
            if then is None:
                break
            assert algo.is_done(store.view), "the run to extend never finished"
            config, then = then, None
            algo = create_algo(config)
            continue
        job = running.pop(order.randrange(len(running)))
        result = fake_result(job, random.Random(job.key))
        out = algo.on_result(job, as_result(job, result), store.view)
        assert store.complete(job.id, job.lease, result, out.points, out.jobs)
    assert algo.is_done(store.view), "the algorithm never finished"
    # Ids and parents too: an id names a point in status, plot and the gallery.
    points = sorted((p.id, p.key, p.parent, p.val_error, p.params, p.macs)
                    for p in store.view.points())
    store.close()
    return points


@pytest.mark.parametrize("name", NAMES)
def test_finishing_order_and_slot_count_never_change_the_points(name):
    config, fake = CASES[name]
    first = run(config, fake)
    assert first, "no points"
    for slots, order_seed in ((1, 0), (3, 1), (2, 7)):
        assert run(config, fake, slots=slots, order_seed=order_seed) == first


@pytest.mark.parametrize("name", NAMES)
def test_state_is_rebuilt_from_the_store_after_a_restart(name):
    config, fake = CASES[name]
    whole = run(config, fake)
    for step in (1, 3, 6):
        assert run(config, fake, restart_at=step) == whole


@pytest.mark.parametrize("name", NAMES)
def test_a_job_knows_the_point_it_makes_before_it_runs(name):
    # TensorBoard names a job by that point (p15-post_train) when it is handed out.
    config, fake = CASES[name]
    planned = {}
    points = run(config, fake, on_claim=lambda algo, job: planned.setdefault(
        job.key, algo.point_ordinal(job)))
    for point_id, key, *_ in points:
        assert planned[key.removesuffix("/point")] == point_id - 1, key
    # A job that makes none (a Petridish search, a DARTS search) names the one it leads to.
    ids = {point_id for point_id, *_ in points}
    assert all(o + 1 in ids for o in planned.values() if o is not None)


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_setting_in_its_own_section_is_one_line(name):
    config, _ = CASES[name]
    section = registry()[name].sections[0]
    bad = {**config, section: {**(config.get(section) or {}), "no_such_setting": 1}}
    with pytest.raises(ConfigError) as info:
        check(bad)
    assert "no_such_setting" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_planning_imports_no_torch(name):
    # The daemon plans in a process that never needs torch; only workers pay for it.
    code = ("import json, sys\n"
            "from petri.algos.registry import create_algo\n"
            "from petri.store.store import RunStore\n"
            "algo = create_algo(json.loads(sys.argv[1]))\n"
            "store = RunStore.memory()\n"
            "assert algo.propose(store.view, 2), 'nothing proposed'\n"
            "assert 'torch' not in sys.modules, 'planning imported torch'\n")
    import json

    res = subprocess.run([sys.executable, "-c", code, json.dumps(CASES[name][0])],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


PLANNED = {**CASES, "petridish-budget": (petridish_tests.cfg(petridish={"budget_epochs": 9}),
                                         petridish_tests.fake_result)}


@pytest.mark.parametrize("name", sorted(PLANNED))
def test_a_planned_total_is_the_number_of_points_the_run_makes(name):
    # `status` shows "13 of 20 points" from it; these configs stop on nothing else.
    config, fake = PLANNED[name]
    algo = create_algo(config)
    planned = algo.planned_points()
    if planned is None:
        pytest.skip(f"{name} cannot know its total before its jobs finish")
    keys = set()
    assert len(run(config, fake, on_claim=lambda algo, job: keys.add(job.key))) == planned
    assert len(keys) == algo.planned_jobs()  # the ETA counts the jobs left


# A budget each algorithm stops at part-way, and the `petri resume --set` that extends it to
# its case's own. Evolution stops inside a generation (parallel 2); DARTS adds searches.
# MOOD's sweep is left out: a round cut short by max_searches is not re-planned whole.
EXTENDED = {
    "smoke": ("smoke.jobs", 2),
    "petridish": ("petridish.max_points", 5),
    "random": ("random.samples", 3),
    "evolution": ("evolution.cycles", 3),
    "darts": ("darts.searches", 1),
    "darts2": ("darts.searches", 1),
}


@pytest.mark.parametrize("name", sorted(EXTENDED))
def test_a_finished_run_extended_equals_one_started_with_the_larger_budget(name):
    config, fake = CASES[name]
    key, smaller = EXTENDED[name]
    section, field = key.split(".")
    larger = (config.get(section) or {}).get(field, 1)
    short, _, _ = extended(config, (f"{key}={smaller}",))
    grown, changes, _ = extended(short, (f"{key}={larger}",))
    assert changes == {key: [smaller, larger]} and grown == config
    alone, jobs, whole_jobs = [], [], []
    run(short, fake, on_claim=lambda a, job: alone.append(job))
    points = run(short, fake, then=grown, on_claim=lambda a, job: jobs.append(job))
    whole = run(config, fake, on_claim=lambda a, job: whole_jobs.append(job))
    assert len(alone) < len(whole_jobs) and points == whole
    assert sorted((j.key, json.dumps(j.spec, sort_keys=True)) for j in jobs) == \
        sorted((j.key, json.dumps(j.spec, sort_keys=True)) for j in whole_jobs)


def test_every_extendable_key_is_checked_and_others_are_refused_in_one_line():
    config, _ = CASES["petridish"]
    assert extendable_keys(config) == ["petridish.max_points", "petridish.max_cost",
                                       "petridish.budget_epochs", "petridish.budget_hours",
                                       "petridish.patience"]
    for sets, match in ((("petridish.k=5",), "--set petridish.k: .* only petridish.max_points,"
                                              " petridish.max_cost,"),
                        (("seed=4",), "--set seed:"),
                        (("petridish.max_points=0",), "max_points must be at least 1"),
                        (("petridish.max_points=lots",), "max_points must be an integer")):
        with pytest.raises(ConfigError, match=match) as info:
            extended(config, sets)
        assert "\n" not in str(info.value)
    assert extended(config, ("petridish.max_points=8",))[1] == {}  # as it was: no change
    assert extended(config, ("petridish.patience=3",))[1] == {"petridish.patience": [None, 3]}
    with pytest.raises(ConfigError, match="of a eval run none may change"):
        extended({"algo": "eval"}, ("eval.ids=[1]",))
