"""DARTS, PC-DARTS and MOOD as algorithms, against a real store with made-up results."""
import copy
import json
import math

import pytest

from petri.algos.registry import algo_info, create_algo
from petri.algos.mood.algorithm import Search, front, next_weights, split_weight
from petri.errors import ConfigError
from petri.space.desc import PRIMITIVES
from petri.space.genotypes import genotype
from tests.algo_driver import drive
from tests.conftest import FAKE_RUN, as_result

BASE = {"algo": "darts", "seed": 5, "data": {"dataset": "fashion-mnist"},
        "supernet": {"channels": 4, "cells": 3, "nodes": 2},
        "derived": {"channels": 4, "cells": 5}, "search": {"epochs": 1},
        "trainer": {"epochs": 2}}


def cfg(algo="darts", **sections):
    c = copy.deepcopy(BASE)
    c["algo"] = algo
    for k, v in sections.items():
        c[k] = {**c.get(k, {}), **v} if isinstance(v, dict) else v
    return c


DESC = genotype("DARTS_V2", channels=4, cells=3, in_channels=1).to_dict()


def desc_with(op_index: int) -> dict:
    d = copy.deepcopy(DESC)
    d["normal"]["nodes"][0]["edges"][0]["op"] = PRIMITIVES[1 + op_index % 7]
    return d


def objectives(nu: float) -> tuple[float, float]:
    """A convex trade-off: more regularisation, smaller weights, higher loss."""
    return 1000.0 * (1 - nu) ** 6 + 50.0, 0.3 + 2.0 * math.sqrt(nu)


def fake_result(job, rng):
    if job.kind == "darts_search":
        nu = job.spec["regulariser"]["nu"]
        reg, ce = objectives(nu)
        return {"desc": desc_with(int(nu * 1e4)), "val_error": 0.5, "val_loss": ce, "reg": reg,
                "epochs": 1, "wall_s": 1.0, "train_loss": 1.0, "reg_kind": "l1", "nu": nu,
                "alphas": {}, "arch_steps": 10, "form": "eager", "checkpoint": "ckpt.pt",
                **FAKE_RUN}
    return {"val_error": round(rng.uniform(0.1, 0.5), 4), "params": rng.randint(100, 10000),
            "macs": 1000, "activation_bytes": 10, "epochs": 2, "checkpoint": "ckpt.pt",
            "wall_s": 2.0, "val_loss": 1.0, "train_loss": 1.0, "test_error": None, **FAKE_RUN}


def test_darts_runs_its_searches_then_trains_each_distinct_genotype(tmp_path):
    algo = create_algo(cfg(darts={"searches": 3}))
    same = desc_with(0)

    def result(job, rng):
        r = fake_result(job, rng)
        if job.kind == "darts_search":  # searches 0 and 2 find the same cells
            r["desc"] = same if job.spec["index"] != 1 else desc_with(3)
        return r

    _, view, _ = drive(tmp_path, algo, result, slots=1)
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
    from petri.store.store import RunStore

    store, algo = RunStore.memory(), create_algo(cfg(darts={"searches": 3}))
    store.enqueue(algo.propose(store.view, 3))
    first, second, third = (store.claim("w", "cpu") for _ in range(3))
    same = {**fake_result(second, None), "desc": desc_with(0)}
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
    mood = create_algo(mood_cfg()).searches
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


def test_front_and_the_weight_normal_to_a_segment():
    s = [Search(0.0, 100.0, 0.3), Search(0.5, 10.0, 1.0), Search(0.1, 120.0, 0.4)]
    assert front(s) == [s[0], s[1]]  # (120, 0.4) is beaten by (100, 0.3)
    nu = split_weight(s[0], s[1])
    # The weighted sums of both ends are equal at that ν.
    assert nu * 100 + (1 - nu) * 0.3 == pytest.approx(nu * 10 + (1 - nu) * 1.0)
    assert 0 < nu < 1


def test_next_weights_split_the_farthest_unsplit_pairs_above_delta():
    s = [Search(nu, *objectives(nu)) for nu in (0.0, 0.2)]
    (nu, pair), = next_weights(s, set(), 0.15, 2)
    assert pair == (0.0, 0.2) and 0 < nu < 0.2
    assert next_weights(s, {(0.0, 0.2)}, 0.15, 2) == []  # already split
    assert next_weights(s, set(), 10.0, 2) == []  # closer than delta
    s.append(Search(nu, *objectives(nu)))
    assert len(next_weights(s, {(0.0, 0.2)}, 0.0, 1)) == 1  # at most `limit`


def mood_cfg(**mood):
    return cfg("mood", supernet={"channels": 8}, data={"dataset": "fashion-mnist"},
               mood={"parallel": 2, "max_searches": 8, **mood})


def test_mood_fills_the_front_in_rounds_the_same_in_any_finishing_order(tmp_path):
    runs = []
    for order_seed, slots in ((0, 1), (1, 3), (2, 2)):
        _, view, algo = drive(tmp_path / str(order_seed), create_algo(mood_cfg()), fake_result,
                              slots=slots, order_seed=order_seed)
        searches = view.jobs(kind="darts_search")
        runs.append([(j.key, j.spec["round"], j.spec["regulariser"]["nu"]) for j in searches])
        assert algo.stop_reason(view) is not None
    assert runs[0] == runs[1] == runs[2]
    nus = [nu for _, _, nu in runs[0]]
    assert nus[:2] == [0.2, 0.0] and len(nus) > 2 and len(set(nus)) == len(nus)
    assert all(0 < nu < 0.2 for nu in nus[2:])
    rounds = [r for _, r, _ in runs[0]]
    assert rounds == sorted(rounds) and max(rounds) >= 2
    assert all(rounds.count(r) <= 2 for r in set(rounds) - {0})  # mood.parallel
    search = view.jobs(kind="darts_search")[0]
    assert search.spec["regulariser"] == {"kind": "l1", "nu": 0.2}
    assert search.spec["trainer"]["weight_decay"] == 3e-4
    assert {j.spec["trainer"]["seed"] for j in view.jobs(kind="darts_search")} == {5}
    assert {p.lineage["regulariser"] for p in view.points()} == {"l1"}
    assert len(view.points()) == len({json.dumps(p.desc["normal"]) for p in view.points()})


def test_mood_stops_at_max_searches_or_when_the_front_is_filled(tmp_path):
    _, view, algo = drive(tmp_path / "a", create_algo(mood_cfg(max_searches=3)), fake_result)
    assert len(view.jobs(kind="darts_search")) == 3
    assert "max_searches" in algo.stop_reason(view)
    _, view, algo = drive(tmp_path / "b", create_algo(mood_cfg(delta=5.0)), fake_result)
    assert len(view.jobs(kind="darts_search")) == 2
    assert "front filled" in algo.stop_reason(view)


@pytest.mark.parametrize("mood,match", [
    ({"regulariser": "l3"}, "one of l1, l2"), ({"initial": [1.5]}, "less than 1"),
    ({"max_searches": 1}, "max_searches")])
def test_mood_bad_settings(mood, match):
    with pytest.raises(ConfigError, match=match):
        create_algo(mood_cfg(**mood))
    with pytest.raises(ConfigError, match="multiple of supernet.partial"):
        create_algo(cfg("mood", supernet={"channels": 6}))
    with pytest.raises(ConfigError, match="val_size"):
        create_algo(cfg("mood", supernet={"channels": 8},
                        data={"dataset": "fashion-mnist", "val_size": 0}))
