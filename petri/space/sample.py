"""Random cells and seed models, drawn reproducibly from a `random.Random`."""
from __future__ import annotations

import random

from petri.space.desc import PRIMITIVES, CellDesc, EdgeDesc, ModelDesc, NodeDesc

OPS_NO_NONE = tuple(op for op in PRIMITIVES if op != "none")


def random_cell(rng: random.Random, n_nodes: int, edges_per_node: int = 2) -> CellDesc:
    """Each node: `edges_per_node` random non-`none` ops on distinct earlier states (as many
    as there are); the output concatenates every node."""
    nodes = []
    for j in range(n_nodes):
        inputs = rng.sample(range(j + 2), min(edges_per_node, j + 2))
        nodes.append(NodeDesc(tuple(EdgeDesc(rng.choice(OPS_NO_NONE), i) for i in inputs)))
    return CellDesc(tuple(nodes), tuple(range(2, n_nodes + 2)))


def random_desc(rng: random.Random, n_nodes: int, edges_per_node: int = 2, **macro) -> ModelDesc:
    """A model whose normal and reduction cells are drawn independently."""
    return ModelDesc(normal=random_cell(rng, n_nodes, edges_per_node),
                     reduce=random_cell(rng, n_nodes, edges_per_node), **macro).validate()
