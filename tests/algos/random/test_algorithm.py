"""Random search, the baseline: its samples, its sampler and the seeds of its jobs."""
from dataclasses import asdict

import pytest

from petri.algos.random.algorithm import RandomSearch
from petri.algos.random.job import RandomTrainSpec, Sampler, draw
from petri.errors import ConfigError
from petri.launch import load_config
from petri.space.sample import CellSpace, ParetoCfg
from petri.store.store import RunStore
from tests.conftest import ROOT


@pytest.mark.slow
def test_random_draws_are_reproducible_and_respect_the_cost_range():
    from petri.cost import count_cost

    sampler = Sampler(seed=0, min_reductions=0, max_reductions=2, min_cells=1, max_cells=5,
                      min_nodes=1, max_nodes=3, ops=None, edges_per_node=2, channels=4,
                      stem_multiplier=2, metric="macs", min_cost=300_000, max_cost=600_000)
    descs = [draw(sampler, i, 1, 10, (1, 28, 28)) for i in range(5)]
    assert [d.key() for d in descs] == [draw(sampler, i, 1, 10, (1, 28, 28)).key()
                                        for i in range(5)]
    assert len({d.key() for d in descs}) == 5
    assert all(300_000 <= count_cost(d, (1, 28, 28)).macs <= 600_000 for d in descs)


def test_random_algorithm_proposes_its_samples_once(tmp_path):
    algo = RandomSearch({"algo": "random", "random": {"samples": 3},
                         "data": {"dataset": "fashion-mnist"}, "trainer": {"epochs": 1}})
    store = RunStore.open(tmp_path, create=True)
    view = store.view
    specs = algo.propose(view, 2)
    assert [s.key for s in specs] == ["random/0", "random/1", "random/2"]
    store.enqueue(specs)
    assert algo.propose(view, 2) == [] and algo.stop_reason(view)


def test_random_max_nodes_is_not_replaced_by_the_seeds_node_count(tmp_path):
    """random_toy.yaml asks for up to 3 nodes while its pareto section (the seeds') says 1."""
    cfg = load_config(ROOT / "configs" / "random_toy.yaml")
    assert cfg["pareto"]["max_nodes"] == 1 and cfg["random"]["max_nodes"] == 3
    specs = RandomSearch(cfg).propose(RunStore.open(tmp_path, create=True).view, 1)
    sampler = RandomTrainSpec.from_dict(specs[0].spec).sampler
    assert sampler.max_nodes == 3
    nodes = {draw(sampler, i, 1, 10, (1, 28, 28)).normal.n_nodes for i in range(12)}
    assert nodes == {1, 2, 3}
    with pytest.raises(ConfigError, match="random.max_nodes"):
        RandomSearch({**cfg, "pareto": {**cfg["pareto"], "min_nodes": 2, "max_nodes": 2},
                      "random": {**cfg["random"], "max_nodes": 1}})


def test_trainer_seeds_follow_the_run_seed_and_the_job_key(tmp_path):
    def seeds(run_seed, where):
        algo = RandomSearch({"algo": "random", "seed": run_seed, "random": {"samples": 4},
                             "data": {"dataset": "fashion-mnist"}})
        specs = algo.propose(RunStore.open(tmp_path / where, create=True).view, 1)
        return [s.spec["trainer"]["seed"] for s in specs]

    a, again, b = seeds(0, "a"), seeds(0, "again"), seeds(1, "b")
    assert a == again and len(set(a)) == 4
    assert all(x != y for x, y in zip(a, b))


def test_a_random_train_sampler_is_the_random_search_space():
    algo = RandomSearch({"algo": "random", "data": {"dataset": "fashion-mnist"},
                         "pareto": {"ops": ["skip_connect"], "max_nodes": 2},
                         "random": {"channels": 6, "max_nodes": 4}})
    space = CellSpace.from_dict(asdict(algo.sampler), 1, 10)
    assert space.pareto == ParetoCfg(ops=("skip_connect",), max_nodes=4)
    assert (space.channels, space.stem_multiplier, space.edges_per_node) == (6, 3, 2)
