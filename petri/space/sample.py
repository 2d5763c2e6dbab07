"""Random cells and seed models, drawn reproducibly from a `random.Random`."""
from __future__ import annotations

import random
from dataclasses import dataclass

from petri.config import setting
from petri.errors import ConfigError, DescError
from petri.space.desc import SEARCH_OPS, CellDesc, EdgeDesc, ModelDesc, NodeDesc, known_ops
MAX_SEEDS = 2000  # more seed models than any search trains; bounded before anything is built


@dataclass(frozen=True)
class ParetoCfg:
    """The `pareto` section: macro ranges of the space (inclusive) that seeds enumerate and
    random architectures are drawn from."""

    min_reductions: int = setting(1, ge=0, le=8)
    max_reductions: int = setting(3, ge=0, le=8)
    min_cells: int = setting(3, ge=1, le=128)
    max_cells: int = setting(8, ge=1, le=128)
    min_nodes: int = setting(1, ge=1, le=16)
    max_nodes: int = setting(3, ge=1, le=16)
    # The ops of random cells and of Petridish's new nodes (None: every built-in primitive but
    # none); `petri.ops` plug-ins by their names.
    ops: tuple[str, ...] | None = None

    def __post_init__(self):
        if self.ops is None:
            return
        try:
            known = known_ops()
        except DescError as e:
            raise ConfigError(f"pareto.ops: {e}") from None
        bad = [op for op in self.ops if op not in known or op == "none"]
        if bad or not self.ops:
            raise ConfigError(f"pareto.ops must list ops from {', '.join(known[1:])}, got "
                              f"{list(self.ops)!r}")

    def macros(self) -> list[tuple[int, int, int]]:
        """Every (reductions, cells, nodes) of the ranges; a model needs 2·reductions+1 cells
        (a normal cell before, between and after the reductions)."""
        if not (self.min_reductions <= self.max_reductions and self.min_cells <= self.max_cells
                and self.min_nodes <= self.max_nodes):
            raise ConfigError("pareto: every min_* must be at most its max_*")
        out = [(r, c, n) for r in range(self.min_reductions, self.max_reductions + 1)
               for c in range(max(self.min_cells, 2 * r + 1), self.max_cells + 1)
               for n in range(self.min_nodes, self.max_nodes + 1)]
        if not out:
            raise ConfigError("pareto: the ranges give no model (cells must be at least "
                              "2*reductions+1)")
        if len(out) > MAX_SEEDS:
            raise ConfigError(f"pareto: the ranges give {len(out)} (reductions, cells, nodes) "
                              f"combinations, more than {MAX_SEEDS}; narrow them")
        return out


def random_cell(rng: random.Random, n_nodes: int, edges_per_node: int = 2,
                ops: tuple[str, ...] | None = None) -> CellDesc:
    """Each node: `edges_per_node` random ops (`ops`, None: SEARCH_OPS) on distinct earlier
    states (as many as there are); the output concatenates every node."""
    ops = tuple(ops or SEARCH_OPS)
    nodes = []
    for j in range(n_nodes):
        inputs = rng.sample(range(j + 2), min(edges_per_node, j + 2))
        nodes.append(NodeDesc(tuple(EdgeDesc(rng.choice(ops), i) for i in inputs)))
    return CellDesc(tuple(nodes), tuple(range(2, n_nodes + 2)))


def random_desc(rng: random.Random, n_nodes: int, edges_per_node: int = 2,
                ops: tuple[str, ...] | None = None, **macro) -> ModelDesc:
    """A model whose normal and reduction cells are drawn independently."""
    return ModelDesc(normal=random_cell(rng, n_nodes, edges_per_node, ops),
                     reduce=random_cell(rng, n_nodes, edges_per_node, ops), **macro).validate()
