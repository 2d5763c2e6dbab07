"""`constraints` are honoured before training by every registered algorithm: driven like the
contract suite (a real store, stand-in results), no point's network breaks them, and what was
kept from training is reported as events."""
import statistics

import pytest

from petri.algos.random.job import RandomTrainSpec, draw_counted
from petri.algos.registry import create_algo, registry
from petri.constraints import EVENT, ConstraintsCfg, Costing, skipped_count
from petri.cost import count_cost
from petri.data.info import dataset_info
from petri.errors import ConfigError
from petri.launch import check
from petri.space.desc import ModelDesc
from tests.helpers.algos import drive, fake_result, fake_train, tiny_config

# `eval` trains the models a user chose: it has no proposals to constrain.
NAMES = sorted(n for n in registry() if n != "eval")


def random_result(job, rng):
    """The worker's draw, with the spec's costing (as `random_train` runs it)."""
    spec = RandomTrainSpec.from_dict(job.spec)
    desc, skipped = draw_counted(spec.sampler, spec.index, 1, 10, (1, 28, 28), spec.costing)
    return {**fake_train(job, rng).to_dict(), "desc": desc.to_dict(), "skipped": skipped}


def fake_for(name):
    return random_result if name == "random" else fake_result


def recording_events(algo) -> list[tuple[str, str]]:
    """The events the algorithm's results ask the daemon to log, as they come."""
    events, on_result = [], algo.on_result

    def recorded(*args):
        outcome = on_result(*args)
        events.extend(outcome.events)
        return outcome
    algo.on_result = recorded
    return events


def trained_params(view, config) -> list[int]:
    shape = dataset_info((config.get("data") or {}).get("dataset", "fashion-mnist")).shape
    return [count_cost(ModelDesc.from_dict(p.desc), shape).params
            for p in view.points() if p.desc is not None]


@pytest.mark.parametrize("name", NAMES)
def test_no_point_breaks_the_constraints(name, tmp_path):
    config = tiny_config(name)
    store, view, _ = drive(config, fake_for(name), run_dir=tmp_path / "free")
    free = trained_params(view, config)
    store.close()
    if not free:
        pytest.skip(f"{name} trains no network of its own")
    # A limit half the unconstrained runs' networks break.
    limit = statistics.median(sorted(set(free)))
    limited = {**config, "constraints": {"max_params": limit}}
    algo = create_algo(limited)
    events = recording_events(algo)
    store, view, _ = drive(limited, fake_for(name), run_dir=tmp_path / "limited", algo=algo)
    params = trained_params(view, limited)
    store.close()
    skipped = sum(skipped_count(message) for kind, message in events if kind == EVENT)
    assert params and max(params) <= limit
    if max(free) > limit and name != "petridish":  # its stand-in children are their parents
        assert skipped, "networks were kept from training without an event saying so"


def test_a_limit_is_a_bound_on_each_named_cost():
    c = ConstraintsCfg(max_params=100, min_macs=10)
    assert c.violation({"params": 100, "macs": 10}) is None
    assert "above max_params" in c.violation({"params": 101, "macs": 10})
    assert "below min_macs" in c.violation({"params": 1, "macs": 9})


@pytest.mark.parametrize("section, fix", [
    ({"constraints": {"max_params": -1}}, "constraints.max_params must be at least 0"),
    ({"constraints": {"min_macs": 5, "max_macs": 2}}, "lower min_macs or raise max_macs"),
    ({"constraints": {"max_params": 10}}, "below the smallest model of the space"),
    ({"constraints": {"max_latency_ms": 1}}, "no `latency` section"),
    ({"hull": {"cost": "latency"}}, "no `latency` section"),
    ({"latency": {"target": "tpu"}}, "latency.target must be one of cpu, cuda, onnxruntime"),
])
def test_bad_limits_are_one_line_naming_the_fix(section, fix):
    config = {**tiny_config("random"), **section}
    with pytest.raises(ConfigError) as info:
        check(config)
    assert fix in str(info.value) and "\n" not in str(info.value)


def test_a_cuda_latency_target_without_a_gpu_is_refused():
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
        check({**tiny_config("random"), "latency": {"target": "cuda"}})


def test_costing_crosses_a_job_as_json():
    costing = Costing.from_cfg({**tiny_config("random"), "constraints": {"max_params": 5000}})
    spec = RandomTrainSpec.from_dict(create_algo(
        {**tiny_config("random"), "constraints": {"max_params": 5000}}).propose(
            _empty_view(), 1)[0].spec)
    assert spec.costing == costing


def _empty_view():
    from petri.store.store import RunStore

    return RunStore.memory().view


@pytest.mark.parametrize("select", ["alpha", "random"])
def test_petridish_offers_only_candidates_whose_child_stays_inside(select):
    import random

    from petri.algos.petridish.grow import GrowthNet, grow_desc
    from petri.algos.petridish.job import GrowSpec, choose
    from petri.space.build import build_model
    from tests.conftest import small_desc

    parent = small_desc(1)
    shape = (1, 12, 12)
    limit = count_cost(parent, shape).params + 150  # no room for a convolution
    costing = Costing(shape, "", ConstraintsCfg(max_params=limit))
    search = GrowthNet(build_model(parent), grow_existing=True, seed=0)
    grow = GrowSpec(k=3, l1=0.0, grow_existing=True, select=select, costing=costing)
    picks, skipped = choose(search, grow, parent, random.Random(0))
    assert picks and skipped
    assert count_cost(grow_desc(parent, picks), shape).params <= limit
    free, _ = choose(search, GrowSpec(k=3, l1=0.0, grow_existing=True, select=select),
                     parent, random.Random(0))
    assert count_cost(grow_desc(parent, free), shape).params > limit  # the limit bit


def test_a_latency_limit_is_honoured_by_the_predictor_before_training(tmp_path, monkeypatch):
    from petri import constraints
    from petri.io import atomic_write_json
    from petri.latency.table import Table, predict_latency, space_layers, table_path
    from petri.latency.target import Target, describe_target
    from petri.space.sample import ParetoCfg

    monkeypatch.setenv("PETRI_DATA", str(tmp_path))
    constraints._table.cache_clear()
    config = tiny_config("random")
    shape = (1, 28, 28)
    layers = space_layers(shape, 10, (config["random"]["channels"],),
                          ParetoCfg(**config["pareto"]))
    # Made-up figures: a layer costs its output channels, so bigger networks are slower.
    table = Table(describe_target(Target()), shape, "fashion-mnist",
                  {layer: layer.c_out / 100 for layer in layers})
    atomic_write_json(table_path(table.info, shape), table.to_dict())
    free = create_algo(config)
    specs = [RandomTrainSpec.from_dict(s.spec) for s in free.propose(_empty_view(), 1)]
    predicted = sorted(predict_latency(draw_counted(s.sampler, s.index, 1, 10, shape)[0], table)
                       for s in specs)
    limit = predicted[len(predicted) // 2]
    limited = create_algo({**config, "latency": {"target": "cpu"},
                           "constraints": {"max_latency_ms": limit}})
    drawn = [draw_counted(s.sampler, s.index, 1, 10, shape, s.costing) for s in
             (RandomTrainSpec.from_dict(j.spec) for j in limited.propose(_empty_view(), 1))]
    assert all(predict_latency(desc, table) <= limit for desc, _ in drawn)
    assert sum(skipped for _, skipped in drawn)
    constraints._table.cache_clear()
