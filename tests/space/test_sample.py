"""The cell space's verbs: what they draw stays inside the space, and a seed fixes it."""
import random

import pytest

from petri.space.desc import SEARCH_OPS
from petri.space.sample import CellSpace, ParetoCfg

PARETO = ParetoCfg(min_reductions=0, max_reductions=2, min_cells=1, max_cells=4, min_nodes=1,
                   max_nodes=3)
SPACE = CellSpace(PARETO, channels=4, stem_multiplier=2, edges_per_node=2, in_channels=1,
                  num_classes=10)


def macro(desc):
    return desc.reductions, desc.cells, desc.normal.n_nodes


@pytest.mark.parametrize("seed", range(20))
def test_sample_draws_a_macro_of_the_ranges_with_the_space_settings(seed):
    desc = SPACE.sample(random.Random(seed), "x")
    assert macro(desc) in PARETO.macros() and desc.reduce.n_nodes == desc.normal.n_nodes
    assert (desc.channels, desc.stem_multiplier, desc.in_channels, desc.num_classes,
            desc.name) == (4, 2, 1, 10, "x")
    assert {e.op for cell in (desc.normal, desc.reduce) for n in cell.nodes
            for e in n.edges} <= set(SEARCH_OPS)
    assert SPACE.sample(random.Random(seed), "x") == desc


def test_sample_each_gives_every_reduction_count_the_same_chance():
    # sample weighs a reduction count by how many (cells, nodes) it allows; sample_each not.
    draws = [SPACE.sample_each(random.Random(s)).reductions for s in range(600)]
    assert all(150 <= draws.count(r) <= 250 for r in range(3))
    assert all(d.cells >= 2 * d.reductions + 1 for d in
               (SPACE.sample_each(random.Random(s)) for s in range(50)))


def test_mutate_uses_the_space_ops():
    space = CellSpace(ParetoCfg(ops=("skip_connect", "max_pool_3x3")), 4, 3, 2, 1, 10)
    desc = space.sample(random.Random(0))
    for s in range(20):
        child = space.mutate(desc, random.Random(s))
        assert {e.op for n in child.normal.nodes + child.reduce.nodes for e in n.edges} <= \
            {"skip_connect", "max_pool_3x3"}
