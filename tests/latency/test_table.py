"""The per-op table: the walk of a desc agrees with the network torch runs, the space's
table covers every desc of the space, it round-trips through the data dir, and the
prediction ranks a tiny and a large desc as they are."""
import random
import sys
from dataclasses import replace

import pytest
import torch

from petri.errors import PetriError
from petri.latency.build_table import load_table, measure_table
from petri.latency.measure import Protocol
from petri.latency.table import (GLUE, Layer, Overhead, Table, fit_overhead, layer_sum, layers,
                                 predict_latency, space_layers, table_pareto)
from petri.latency.target import Target, describe_target
from petri.space.build import build_model
from petri.space.desc import PRIMITIVES
from petri.space.sample import ParetoCfg, random_desc
from tests.conftest import random_desc as any_desc

FAST = Protocol(max_warmup_s=0.5, min_runs=5, max_runs=50, budget_s=0.02)


def _run_layers(desc, hw) -> list[tuple]:
    """(channels, height, width) of the input of each stem, preprocessing, edge op and
    head the real network runs, in order."""
    net = build_model(desc).eval()
    seen = []

    def hook(module, inputs):
        seen.append(tuple(inputs[0].shape[1:]))

    units = [net.stem]
    for cell in net.cells:
        units += [cell.pre0, cell.pre1] + [op for edges in cell.nodes for op in edges]
    units.append(net.pool)
    for unit in units:
        unit.register_forward_pre_hook(hook)
    with torch.no_grad():
        net(torch.zeros(1, desc.in_channels, *hw))
    return seen


@pytest.mark.parametrize("seed", range(12))
def test_the_walk_of_a_desc_is_the_network_torch_runs(seed):
    rng = random.Random(seed)
    desc = any_desc(rng, stem=rng.choice(["cifar", "cifar", "imagenet"]))
    hw = (rng.choice([7, 16, 28, 33] if desc.stem == "cifar" else [45, 56]),) * 2
    walked = [(x.c_in, x.h, x.w) for x in layers(desc, hw) if x.kind not in GLUE]
    assert walked == _run_layers(desc, hw)
    ops = [x for x in layers(desc, hw) if x.kind in PRIMITIVES]
    assert len(ops) == sum(len(c.nodes[j].edges) for i, c in enumerate(
        desc.reduce if i in desc.reduction_indices() else desc.normal
        for i in range(desc.cells)) for j in c.live_nodes())


def test_the_space_table_covers_every_desc_of_the_space():
    # The table's default ranges hold the toys' (from 0 reductions and 1 cell) and the
    # searches' (up to 3 reductions and 8 cells).
    pareto = ParetoCfg(min_reductions=0, max_reductions=3, min_cells=1, max_cells=8)
    wanted = set(space_layers((1, 28, 28), 10, (8, 16), table_pareto()))
    rng = random.Random(0)
    for _ in range(40):
        r, cells, _ = rng.choice(pareto.macros())
        n_normal, n_reduce = rng.randint(1, 3), rng.randint(1, 3)
        d = random_desc(rng, n_normal, channels=rng.choice([8, 16]), cells=cells,
                        reductions=r, in_channels=1)
        d = replace(d.scaled(reduce=random_desc(rng, n_reduce).reduce),
                    stem_multiplier=rng.choice([2, 3]))  # the toys' and the searches'
        assert set(layers(d, (28, 28))) <= wanted


def test_predict_ranks_a_tiny_and_a_large_desc_and_the_table_round_trips(tmp_path):
    rng = random.Random(3)
    tiny = random_desc(rng, 1, ops=("skip_connect",), channels=4, cells=3, reductions=1,
                       in_channels=1)
    large = random_desc(rng, 3, ops=("sep_conv_5x5",), channels=16, cells=6, reductions=1,
                        in_channels=1)
    wanted = sorted(set(layers(tiny, (16, 16)) + layers(large, (16, 16))))
    steps = []
    table = measure_table(Target(), (1, 16, 16), "mnist", wanted, FAST, tmp_path,
                          lambda done, total: steps.append((done, total)),
                          calibrate=[tiny, large])
    assert set(table.entries) == set(wanted) and steps[-1] == (len(wanted), len(wanted))
    assert table.overhead.networks == 2 and min(table.overhead.scale,
                                                table.overhead.per_layer_ms) >= 0
    assert predict_latency(tiny, table) < predict_latency(large, table)
    kept = load_table(table.info, (1, 16, 16), "mnist", tmp_path)
    assert kept == table and Table.from_dict(table.to_dict()) == table
    steps.clear()  # measured before: nothing measured again, the fitted overhead kept
    assert measure_table(Target(), (1, 16, 16), "mnist", wanted, FAST, tmp_path,
                         lambda done, total: steps.append((done, total))) == table
    assert steps == [(0, 0)]


def test_the_overhead_fit_finds_what_whole_networks_add_and_never_subtracts():
    sums, counts = [1.0, 2.0, 4.0, 3.0, 0.5], [10, 12, 30, 40, 8]
    whole = [s * 1.2 + 0.03 * c for s, c in zip(sums, counts)]
    fit = fit_overhead(sums, counts, whole)
    assert fit.scale == pytest.approx(0.2) and fit.per_layer_ms == pytest.approx(0.03)
    assert fit.networks == 5
    per_layer = fit_overhead(sums, counts, [s + 0.05 * c for s, c in zip(sums, counts)])
    assert per_layer.scale == pytest.approx(0, abs=1e-9)
    assert per_layer.per_layer_ms == pytest.approx(0.05)
    # Networks faster than their layers' sum (noise): nothing added, nothing taken away.
    assert fit_overhead(sums, counts, [0.9 * s for s in sums]) == Overhead(0.0, 0.0, 5)


def test_the_prediction_is_the_sum_with_the_overhead_and_an_old_table_adds_none():
    desc = random_desc(random.Random(2), 2, channels=4, cells=3, reductions=1, in_channels=1)
    walked = layers(desc, (16, 16))
    entries = {layer: 0.01 * (i + 1) for i, layer in enumerate(sorted(set(walked)))}
    table = Table(describe_target(Target()), (1, 16, 16), "mnist", entries,
                  Overhead(scale=0.25, per_layer_ms=0.002, networks=8))
    total, n = layer_sum(desc, table)
    assert (total, n) == (pytest.approx(sum(entries[x] for x in walked)), len(walked))
    assert predict_latency(desc, table) == pytest.approx(total * 1.25 + 0.002 * n)
    old = table.to_dict()
    del old["overhead"]  # kept before overheads were fitted
    assert predict_latency(desc, Table.from_dict(old)) == pytest.approx(total)


def test_a_missing_table_or_entry_names_the_command_that_measures_it(tmp_path):
    desc = random_desc(random.Random(0), 2, channels=8, cells=3, reductions=1, in_channels=1)
    info = describe_target(Target(threads=2))
    with pytest.raises(PetriError, match="no latency table .* `petri latency table --target "
                                         "cpu --threads 2 --batch 1 --dataset mnist`"):
        load_table(info, (1, 28, 28), "mnist", tmp_path)
    table = Table(info, (1, 28, 28), "mnist", {layers(desc, (28, 28))[0]: 1.0})
    with pytest.raises(PetriError, match="no entry for relu_conv_bn .*--channels 8 "
                                         "--max-nodes 3 --max-reductions 3 --stem-multiplier 3"):
        predict_latency(desc, table)


def test_the_command_a_missing_entry_names_covers_the_desc():
    # A config's stem_multiplier outside the default table's: the named command must cover it.
    desc = replace(random_desc(random.Random(1), 2, channels=12, cells=3, reductions=1,
                               in_channels=1), stem_multiplier=5)
    assert not set(layers(desc, (28, 28))) <= set(space_layers((1, 28, 28), 10))
    table = Table(describe_target(Target()), (1, 28, 28), "mnist", {})
    with pytest.raises(PetriError) as e:
        predict_latency(desc, table)
    assert "--channels 12 --max-nodes 3 --max-reductions 3 --stem-multiplier 5" in str(e.value)
    assert set(layers(desc, (28, 28))) <= set(space_layers((1, 28, 28), 10, (12,),
                                                           stem_multipliers=(5,)))


def test_the_onnxruntime_target_has_no_table(tmp_path):
    with pytest.raises(PetriError, match="measured with torch: use --target cpu"):
        measure_table(Target("onnxruntime"), (1, 8, 8), "mnist",
                      [Layer("add", 2, 2, 1, 8, 8)], FAST, tmp_path)


def test_the_predictor_imports_no_torch():
    import subprocess

    code = ("import sys; import petri.latency.table, petri.latency.measure, "
            "petri.latency.target; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
