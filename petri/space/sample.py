"""The cell search space and its verbs: random descs, samples and one-edge mutations, each
drawn reproducibly from a `random.Random`. The discrete searches (Petridish's seeds, random,
evolution) call these verbs rather than assembling descs themselves, as NASLib's optimizers
call their search space's."""
from __future__ import annotations

import random
from dataclasses import dataclass, fields, replace

from petri.config import setting
from petri.errors import ConfigError, DescError
from petri.space.desc import SEARCH_OPS, CellDesc, EdgeDesc, ModelDesc, NodeDesc, known_ops
MAX_SEEDS = 2000  # more seed models than any search trains; bounded before anything is built


@dataclass(frozen=True)
class ParetoCfg:
    """The `pareto` section: macro ranges of the space (inclusive) that seeds enumerate and
    random architectures are drawn from."""

    min_reductions: int = setting(1, ge=0, le=8, help="Fewest reduction cells of a model.")
    max_reductions: int = setting(3, ge=0, le=8, help="Most reduction cells of a model.")
    min_cells: int = setting(3, ge=1, le=128, help="Fewest cells of a model, reductions "
                                                   "included.")
    max_cells: int = setting(8, ge=1, le=128, help="Most cells of a model, reductions "
                                                   "included.")
    min_nodes: int = setting(1, ge=1, le=16, help="Fewest nodes of a cell.")
    max_nodes: int = setting(3, ge=1, le=16, help="Most nodes of a cell.")
    ops: tuple[str, ...] | None = setting(
        None, help="The ops of random cells and of Petridish's new nodes, `petri.ops` "
                   "plug-ins by name (null: every built-in primitive but none).")

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


def mutate(desc: ModelDesc, rng: random.Random, ops: tuple[str, ...]) -> ModelDesc:
    """`desc` with one edge changed: its op (to another of `ops`) or its input (to an
    earlier state no other edge of its node reads); the op when no such input exists."""
    kind = rng.choice(("normal", "reduce"))
    cell = getattr(desc, kind)
    j = rng.randrange(cell.n_nodes)
    node = cell.nodes[j]
    k = rng.randrange(len(node.edges))
    edge = node.edges[k]
    free = [i for i in range(j + 2) if i not in {e.input for e in node.edges}]
    other_ops = [op for op in ops if op != edge.op]
    if free and (not other_ops or rng.random() < 0.5):
        new = EdgeDesc(edge.op, rng.choice(free))
    elif other_ops:
        new = EdgeDesc(rng.choice(other_ops), edge.input)
    else:
        return desc  # one op and every input taken: nothing can change
    edges = node.edges[:k] + (new,) + node.edges[k + 1:]
    nodes = cell.nodes[:j] + (replace(node, edges=edges),) + cell.nodes[j + 1:]
    return replace(desc, **{kind: replace(cell, nodes=nodes)}).validate()


# The macro settings of a discrete search's own section (random, evolution, petridish), which
# `CellSpace` takes, and of DARTS' supernet: one default, range and help for every section
# that has them.
CELL_SETTINGS = {
    "channels": (16, {"ge": 1, "le": 1024}, "Channels of the first cell; doubled at every "
                                             "reduction."),
    "stem_multiplier": (3, {"ge": 1, "le": 16}, "The stem has stem_multiplier * channels "
                                                "channels."),
    "edges_per_node": (2, {"ge": 1, "le": 16}, "Inputs each node of a random cell takes."),
}


def cell_setting(name: str):
    """The config field of macro setting `name` (a key of `CELL_SETTINGS`)."""
    default, bounds, help = CELL_SETTINGS[name]
    return setting(default, help=help, **bounds)


@dataclass(frozen=True)
class CellSpace:
    """The models a discrete search draws: the `pareto` ranges and ops, and the macro settings
    every model of the run shares (its algorithm section's channels, stem multiplier and edges
    per node; the dataset's input channels and classes)."""

    pareto: ParetoCfg
    channels: int
    stem_multiplier: int
    edges_per_node: int
    in_channels: int
    num_classes: int

    @classmethod
    def from_dict(cls, d: dict, in_channels: int, num_classes: int) -> "CellSpace":
        """The space of a flat mapping of the `pareto` fields and the three macro settings
        (what a `random_train` job carries)."""
        ranges = {f.name: d[f.name] for f in fields(ParetoCfg)}
        pareto = ParetoCfg(**{**ranges, "ops": tuple(d["ops"]) if d["ops"] else None})
        return cls(pareto, d["channels"], d["stem_multiplier"], d["edges_per_node"],
                   in_channels, num_classes)

    @property
    def ops(self) -> tuple[str, ...]:
        return self.pareto.ops or SEARCH_OPS

    def random_desc(self, rng: random.Random, macro: tuple[int, int, int],
                    name: str = "") -> ModelDesc:
        """Random cells in the model of `macro` (reductions, cells, nodes)."""
        reductions, cells, nodes = macro
        return random_desc(rng, nodes, self.edges_per_node, self.pareto.ops,
                           channels=self.channels, cells=cells, reductions=reductions,
                           in_channels=self.in_channels, num_classes=self.num_classes,
                           stem_multiplier=self.stem_multiplier, name=name)

    def sample(self, rng: random.Random, name: str = "") -> ModelDesc:
        """A model of a macro drawn uniformly from every one of the ranges."""
        return self.random_desc(rng, rng.choice(self.pareto.macros()), name)

    def sample_each(self, rng: random.Random, name: str = "") -> ModelDesc:
        """A model whose reductions, cells (at least 2·reductions+1) and nodes are each drawn
        uniformly from its own range: random search's rule. Unlike `sample` it gives every
        reduction count the same chance, however few cell counts that count allows."""
        p = self.pareto
        r = rng.randint(p.min_reductions, p.max_reductions)
        c = rng.randint(max(p.min_cells, 2 * r + 1), max(p.max_cells, 2 * r + 1))
        n = rng.randint(p.min_nodes, p.max_nodes)
        return self.random_desc(rng, (r, c, n), name)

    def mutate(self, desc: ModelDesc, rng: random.Random) -> ModelDesc:
        return mutate(desc, rng, self.ops)
