"""DARTS and its variants (second order, PC-DARTS) as algorithms, against a real store with
made-up results."""
import pytest

from petri.algos.registry import algo_info, create_algo
from petri.errors import ConfigError
from petri.store.store import RunStore
from tests.helpers.algos import (as_result, darts_desc, drive, fake_result, tiny_config,
                                 with_sections)


def cfg(algo="darts", **sections):
    return with_sections(tiny_config(algo), **sections)


def test_darts_runs_its_searches_then_trains_each_distinct_genotype(tmp_path):
    config = cfg(darts={"searches": 3})
    same = darts_desc(0)

    def result(job, rng):
        r = fake_result(job, rng)
        if job.kind == "darts_search":  # searches 0 and 2 find the same cells
            r["desc"] = same if job.spec["index"] != 1 else darts_desc(3)
        return r

    _, view, algo = drive(config, result, run_dir=tmp_path, slots=1)
    searches = view.jobs(kind="darts_search")
    assert [j.spec["trainer"]["seed"] for j in searches] == [5, 6, 7]
    assert all(j.spec["data"]["cutout"] == 0 for j in searches)
    assert searches[0].spec["trainer"]["lr"] == 0.025  # DARTS' search recipe by default
    assert searches[0].spec["trainer"]["epochs"] == 1  # ... under the config's `search`
    trains = view.jobs(kind="train")
    assert len(trains) == 2 and trains[0].spec["trainer"]["epochs"] == 2
    points = view.points()
    assert len(points) == 2 and {p.stage for p in points} == {"darts"}
    assert {p.lineage["search"] for p in points} == {"darts/0", "darts/1"}
    assert algo.stop_reason(view) == "all 3 searches proposed"


def test_the_first_search_by_index_names_a_shared_network_and_a_failed_one_holds_none_back():
    store, algo = RunStore.memory(), create_algo(cfg(darts={"searches": 3}))
    store.enqueue(algo.propose(store.view, 3))
    first, second, third = (store.claim("w", "cpu") for _ in range(3))
    same = {**fake_result(second, None), "desc": darts_desc(0)}
    # Search 2 finishes first, but search 1 (same cells) is still in flight: nothing yet.
    out = algo.on_result(third, as_result(third, same), store.view)
    assert out.jobs == [] and store.complete(third.id, third.lease, same, [], out.jobs)
    assert store.fail(first.id, first.lease, "deterministic", "boom") == "failed"
    out = algo.on_result(second, as_result(second, same), store.view)
    assert [j.spec["lineage"]["search"] for j in out.jobs] == ["darts/1", "darts/2"]
    store.complete(second.id, second.lease, same, [], out.jobs)
    trains = store.view.jobs(kind="train")  # one network, named by search 1
    assert [j.spec["lineage"]["search"] for j in trains] == ["darts/1"]
    assert not algo.is_done(store.view)  # its train job is still to run
    # A failure releases later searches only at the next proposal; until then, not done.
    store2, algo2 = RunStore.memory(), create_algo(cfg(darts={"searches": 2}))
    store2.enqueue(algo2.propose(store2.view, 2))
    a, b = store2.claim("w", "cpu"), store2.claim("w", "cpu")
    out = algo2.on_result(b, as_result(b, same), store2.view)
    store2.complete(b.id, b.lease, same, [], out.jobs)
    store2.fail(a.id, a.lease, "deterministic", "boom")
    assert algo2.stop_reason(store2.view) is None and not algo2.is_done(store2.view)
    assert [j.kind for j in algo2.propose(store2.view, 1)] == ["train"]


def test_variants_differ_only_in_defaults_the_config_can_override():
    d2 = create_algo(cfg("darts2")).searches
    assert d2.arch.second_order and d2.supernet.partial is None
    pc = create_algo(cfg("pc-darts", supernet={"channels": 8})).searches
    assert (pc.supernet.partial, pc.arch.lr, pc.arch.warmup_epochs) == (4, 6e-4, 15)
    assert pc.search_trainer["batch_size"] == 256 and not pc.arch.second_order
    pc2 = create_algo(cfg("pc-darts", supernet={"channels": 8, "partial": 2},
                          arch={"warmup_epochs": 1})).searches
    assert (pc2.supernet.partial, pc2.arch.warmup_epochs, pc2.arch.lr) == (2, 1, 6e-4)
    # MOOD composes the same searches with PC-DARTS' defaults.
    mood = create_algo(tiny_config("mood")).searches
    assert (mood.supernet.partial, mood.arch.lr, mood.search_trainer["batch_size"]) == \
        (4, 6e-4, 256)
    # One class; a variant is its registry row's name and defaults.
    assert {algo_info(n).algorithm for n in ("darts", "darts2", "pc-darts")} == \
        {"petri.algos.darts.algorithm:Darts"}
    assert algo_info("mood").defaults == algo_info("pc-darts").defaults
    assert [create_algo(cfg(n)).name for n in ("darts", "darts2")] == ["darts", "darts2"]


@pytest.mark.parametrize("sections,match", [
    ({"supernet": {"channels": 6, "partial": 4}}, "multiple of supernet.partial"),
    ({"arch": {"train_portion": 1.0}}, "train_portion"),
    ({"darts": {"searches": 0}}, "searches"),
    ({"arch": {"momentum": 0.9}}, "unknown arch setting"),
])
def test_bad_settings_fail_with_a_clear_message(sections, match):
    with pytest.raises(ConfigError, match=match):
        create_algo(cfg(**sections))
