"""MOOD as an algorithm: its front, the weights it splits, its rounds of PC-DARTS searches,
against a real store with made-up results."""
import json

import pytest

from petri.algos.mood.algorithm import Search, front, next_weights, split_weight
from petri.algos.registry import create_algo
from petri.errors import ConfigError
from tests.helpers.algos import darts_objectives, drive, tiny_config, with_sections


def cfg(**sections):
    return with_sections(tiny_config("mood"), **sections)


def mood_cfg(**mood):
    return cfg(mood={"max_searches": 8, **mood})


def test_front_and_the_weight_normal_to_a_segment():
    s = [Search(0.0, 100.0, 0.3), Search(0.5, 10.0, 1.0), Search(0.1, 120.0, 0.4)]
    assert front(s) == [s[0], s[1]]  # (120, 0.4) is beaten by (100, 0.3)
    nu = split_weight(s[0], s[1])
    # The weighted sums of both ends are equal at that ν.
    assert nu * 100 + (1 - nu) * 0.3 == pytest.approx(nu * 10 + (1 - nu) * 1.0)
    assert 0 < nu < 1


def test_next_weights_split_the_farthest_unsplit_pairs_above_delta():
    s = [Search(nu, *darts_objectives(nu)) for nu in (0.0, 0.2)]
    (nu, pair), = next_weights(s, set(), 0.15, 2)
    assert pair == (0.0, 0.2) and 0 < nu < 0.2
    assert next_weights(s, {(0.0, 0.2)}, 0.15, 2) == []  # already split
    assert next_weights(s, set(), 10.0, 2) == []  # closer than delta
    s.append(Search(nu, *darts_objectives(nu)))
    assert len(next_weights(s, {(0.0, 0.2)}, 0.0, 1)) == 1  # at most `limit`


def test_mood_fills_the_front_in_rounds_the_same_in_any_finishing_order(tmp_path):
    runs = []
    for order_seed, slots in ((0, 1), (1, 3), (2, 2)):
        _, view, algo = drive(mood_cfg(), run_dir=tmp_path / str(order_seed), slots=slots,
                              order_seed=order_seed)
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
    _, view, algo = drive(mood_cfg(max_searches=3), run_dir=tmp_path / "a")
    assert len(view.jobs(kind="darts_search")) == 3
    assert "max_searches" in algo.stop_reason(view)
    _, view, algo = drive(mood_cfg(delta=5.0), run_dir=tmp_path / "b")
    assert len(view.jobs(kind="darts_search")) == 2
    assert "front filled" in algo.stop_reason(view)


@pytest.mark.parametrize("mood,match", [
    ({"regulariser": "l3"}, "one of l1, l2"), ({"initial": [1.5]}, "less than 1"),
    ({"max_searches": 1}, "max_searches")])
def test_mood_bad_settings(mood, match):
    with pytest.raises(ConfigError, match=match):
        create_algo(mood_cfg(**mood))
    with pytest.raises(ConfigError, match="multiple of supernet.partial"):
        create_algo(cfg(supernet={"channels": 6}))
    with pytest.raises(ConfigError, match="val_size"):
        create_algo(cfg(data={"val_size": 0}))
