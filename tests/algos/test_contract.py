"""The contract every registered algorithm passes, run against a real store (no training).

Each algorithm folder ships a tiny config (`AlgoInfo.test_config`); the workers' results are
stood in for per job kind (tests/helpers/algos.py), so a new algorithm is tested here for
free. A result depends only on the job's key.
"""
import json
import subprocess
import sys

import pytest

from petri.algos.registry import create_algo, registry
from petri.errors import ConfigError
from petri.launch import check
from petri.daemon.life import extendable_keys, extended
from tests.helpers.algos import (assert_planned_totals_kept, drive, tiny_config,
                                 write_tiny_gallery)

NAMES = sorted(registry())


@pytest.fixture(params=NAMES)
def config(request, tmp_path):
    """The algorithm's tiny config; an evaluation also reads the gallery it evaluates."""
    config = tiny_config(request.param)
    if request.param == "eval":
        config["eval"]["gallery"] = str(write_tiny_gallery(tmp_path / "gallery.h5"))
    return config


def run(config, **kw):
    """The points a driven run made. Ids and parents too: an id names a point in status,
    plot and the gallery."""
    store, view, _ = drive(config, **kw)
    points = sorted((p.id, p.key, p.parent, p.val_error, p.params, p.macs)
                    for p in view.points())
    store.close()
    return points


def test_every_registered_algorithm_ships_a_tiny_config_of_its_own():
    for name, info in registry().items():
        assert info.test_config_path() and info.test_config_path().exists(), name
        assert tiny_config(name)["algo"] == name


def test_finishing_order_and_slot_count_never_change_the_points(config):
    first = run(config)
    assert first, "no points"
    for slots, order_seed in ((1, 0), (3, 1), (2, 7)):
        assert run(config, slots=slots, order_seed=order_seed) == first


def test_state_is_rebuilt_from_the_store_after_a_restart(config):
    whole = run(config)
    for step in (1, 3, 6):
        assert run(config, restart_at=step) == whole


def test_a_job_knows_the_point_it_makes_before_it_runs(config):
    # TensorBoard names a job by that point (p15-post_train) when it is handed out.
    planned = {}
    points = run(config, on_claim=lambda algo, job: planned.setdefault(
        job.key, algo.point_ordinal(job)))
    for point_id, key, *_ in points:
        assert planned[key.removesuffix("/point")] == point_id - 1, key
    # A job that makes none (a Petridish search, a DARTS search) names the one it leads to.
    ids = {point_id for point_id, *_ in points}
    assert all(o + 1 in ids for o in planned.values() if o is not None)


def test_a_bad_setting_in_its_own_section_is_one_line(config):
    section = registry()[config["algo"]].sections[0]
    bad = {**config, section: {**(config.get(section) or {}), "no_such_setting": 1}}
    with pytest.raises(ConfigError) as info:
        check(bad)
    assert "no_such_setting" in str(info.value) and "\n" not in str(info.value)


def test_planning_imports_no_torch(config):
    # The daemon plans in a process that never needs torch; only workers pay for it.
    code = ("import json, sys\n"
            "from petri.algos.registry import create_algo\n"
            "from petri.store.store import RunStore\n"
            "algo = create_algo(json.loads(sys.argv[1]))\n"
            "store = RunStore.memory()\n"
            "assert algo.propose(store.view, 2), 'nothing proposed'\n"
            "assert 'torch' not in sys.modules, 'planning imported torch'\n")
    res = subprocess.run([sys.executable, "-c", code, json.dumps(config)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_a_planned_total_is_the_number_of_points_the_run_makes(config):
    # `status` shows "13 of 20 points" from it; these configs stop on nothing else.
    if create_algo(config).planned_points() is None:
        pytest.skip(f"{config['algo']} cannot know its total before its jobs finish")
    assert_planned_totals_kept(config)


# A budget each algorithm stops at part-way, and the `petri resume --set` that extends it to
# its tiny config's own. Evolution stops inside a generation (parallel 2); DARTS adds
# searches. MOOD's sweep is left out: a round cut short by max_searches is not re-planned whole.
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
    config = tiny_config(name)
    key, smaller = EXTENDED[name]
    section, field = key.split(".")
    larger = (config.get(section) or {}).get(field, 1)
    short, _, _ = extended(config, (f"{key}={smaller}",))
    grown, changes, _ = extended(short, (f"{key}={larger}",))
    assert changes == {key: [smaller, larger]} and grown == config
    alone, jobs, whole_jobs = [], [], []
    run(short, on_claim=lambda a, job: alone.append(job))
    points = run(short, then=grown, on_claim=lambda a, job: jobs.append(job))
    whole = run(config, on_claim=lambda a, job: whole_jobs.append(job))
    assert len(alone) < len(whole_jobs) and points == whole
    assert sorted((j.key, json.dumps(j.spec, sort_keys=True)) for j in jobs) == \
        sorted((j.key, json.dumps(j.spec, sort_keys=True)) for j in whole_jobs)


def test_every_extendable_key_is_checked_and_others_are_refused_in_one_line():
    config = tiny_config("petridish")
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
