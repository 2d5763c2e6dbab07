"""A per-op latency table and the predictor that sums it (no torch: an algorithm can predict
a desc's latency before anything is built).

A network is a sum of layers (`Layer`): the stem, each live edge's op, each cell's two
input preprocessings, the additions of a node's edges and the concatenation of its output,
and the head (pooling and classifier). Each is keyed by what decides its time: its kind,
input and output channels, stride and input size. `layers(desc, hw)` walks a desc as
`petri.space.build.Network` builds it; `space_layers` lists every layer a desc of the search
space can hold, which `petri latency table` measures once per target and keeps in the data
dir; `predict_latency` sums the entries of a desc's layers and adds the table's `Overhead`,
what whole networks measured at the table's build spend beyond the sum of their layers.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path

from petri.errors import PetriError
from petri.latency.target import TargetInfo
from petri.space.desc import SEARCH_OPS, CellDesc, EdgeDesc, ModelDesc, NodeDesc
from petri.space.sample import ParetoCfg, random_desc

# The toy configs' 8 channels, the published searches' 16 and evaluations' 36.
TABLE_CHANNELS = (8, 16, 36)
# The stem's width over the first cell's (`stem_multiplier`): the toy configs' 2 and the
# published searches' 3. It sets the stem's and the first cell's preprocessing layers.
TABLE_STEM_MULTIPLIERS = (2, 3)
TABLE_FORMAT = "petri-latency-table-1"
GLUE = ("add", "cat")  # no module: tensor additions and the cell's concatenation


@dataclass(frozen=True, order=True)
class Layer:
    """One timed unit: `kind` is an op name, relu_conv_bn, factorized_reduce, add, cat (of
    c_out/c_in states), head, or stem:<stem>; h and w are its input's size."""

    kind: str
    c_in: int
    c_out: int
    stride: int
    h: int
    w: int

    def text(self) -> str:
        return (f"{self.kind} {self.c_in}->{self.c_out} channels, stride {self.stride}, "
                f"at {self.h}x{self.w}")


def half(hw: tuple[int, int]) -> tuple[int, int]:
    """The size after a stride-2 op (every stride-2 op of petri pads to ceil(n/2))."""
    return (hw[0] + 1) // 2, (hw[1] + 1) // 2


def _stem(desc: ModelDesc, hw: tuple[int, int]) -> tuple[Layer, int, tuple, tuple, bool]:
    """The stem's layer and what the first cell sees: channels, s0's and s1's size, and
    whether s0 is at twice s1's resolution."""
    if desc.stem == "cifar":
        c_stem = desc.stem_multiplier * desc.channels
        return Layer("stem:cifar", desc.in_channels, c_stem, 1, *hw), c_stem, hw, hw, False
    s0 = half(half(hw))
    return (Layer("stem:imagenet", desc.in_channels, desc.channels, 8, *hw), desc.channels,
            s0, half(s0), True)


def _cell(cell: CellDesc, c: int, reduction: bool, hw_in: tuple, hw_out: tuple) -> list[Layer]:
    """The edges, additions and concatenation of one cell of `c` channels per state."""
    out = []
    for j in sorted(cell.live_nodes()):
        edges = cell.nodes[j].edges
        for e in edges:
            stride = 2 if reduction and e.input < 2 else 1
            out.append(Layer(e.op, c, c, stride, *(hw_in if e.input < 2 else hw_out)))
        out += [Layer("add", c, c, 1, *hw_out)] * (len(edges) - 1)
    if len(cell.concat) > 1:
        out.append(Layer("cat", c, c * len(cell.concat), 1, *hw_out))
    return out


def layers(desc: ModelDesc, hw: tuple[int, int]) -> list[Layer]:
    """Every layer an inference pass of `desc` on (in_channels, *hw) images runs, in order."""
    stem, c_stem, hw_pp, hw_p, reduction_prev = _stem(desc, tuple(hw))
    out = [stem]
    c_pp = c_p = c_stem
    c = desc.channels
    reductions = set(desc.reduction_indices())
    for i in range(desc.cells):
        reduction = i in reductions
        c = 2 * c if reduction else c
        cell = desc.reduce if reduction else desc.normal
        out.append(Layer("factorized_reduce", c_pp, c, 2, *hw_pp) if reduction_prev
                   else Layer("relu_conv_bn", c_pp, c, 1, *hw_pp))
        out.append(Layer("relu_conv_bn", c_p, c, 1, *hw_p))
        hw_out = half(hw_p) if reduction else hw_p
        out += _cell(cell, c, reduction, hw_p, hw_out)
        c_pp, c_p = c_p, c * len(cell.concat)
        hw_pp, hw_p, reduction_prev = hw_p, hw_out, reduction
    out.append(Layer("head", c_p, desc.num_classes, 1, *hw_p))
    return out


def _covering_cell(n_nodes: int, ops: tuple[str, ...]) -> CellDesc:
    """A cell of `n_nodes` nodes holding every op on a cell input and on the node before."""
    nodes = [NodeDesc(tuple(EdgeDesc(op, 0) for op in ops)
                      + tuple(EdgeDesc(op, j + 1) for op in ops if j > 0))
             for j in range(n_nodes)]
    return CellDesc(tuple(nodes), tuple(range(2, n_nodes + 2)))


def table_pareto(max_nodes: int = ParetoCfg().max_nodes,
                 max_reductions: int = ParetoCfg().max_reductions) -> ParetoCfg:
    """The macro ranges `petri latency table` covers: from no reduction and one cell up, so a
    config's own ranges (the toys start at 0 reductions) fall inside. More cells than these
    repeat layers of the same sizes; more reductions or nodes add layers."""
    return ParetoCfg(min_reductions=0, max_reductions=max_reductions, min_cells=1,
                     max_cells=max(ParetoCfg().max_cells, 2 * max_reductions + 1), min_nodes=1,
                     max_nodes=max_nodes)


def space_layers(input_shape: tuple[int, int, int], num_classes: int,
                 channels: tuple[int, ...] = TABLE_CHANNELS, pareto: ParetoCfg = ParetoCfg(),
                 stem: str = "cifar",
                 stem_multipliers: tuple[int, ...] = TABLE_STEM_MULTIPLIERS) -> list[Layer]:
    """Every layer a desc of the space (the `pareto` ranges, nodes of each cell type drawn
    independently, `channels` at the first cell, each of `stem_multipliers`) can hold on
    `input_shape` images."""
    ops = pareto.ops or SEARCH_OPS
    nodes = range(pareto.min_nodes, pareto.max_nodes + 1)
    found: set[Layer] = set()
    for reductions, cells, _ in pareto.macros():
        for c, m, n_normal, n_reduce in itertools.product(channels, stem_multipliers, nodes,
                                                          nodes):
            desc = ModelDesc(_covering_cell(n_normal, ops), _covering_cell(n_reduce, ops),
                             channels=c, cells=cells, reductions=reductions,
                             in_channels=input_shape[0], num_classes=num_classes, stem=stem,
                             stem_multiplier=m)
            found.update(layers(desc, input_shape[1:]))
    return sorted(found)


def calibration_descs(input_shape: tuple[int, int, int], num_classes: int,
                      channels: tuple[int, ...] = TABLE_CHANNELS,
                      pareto: ParetoCfg = ParetoCfg(), stem: str = "cifar",
                      stem_multipliers: tuple[int, ...] = TABLE_STEM_MULTIPLIERS,
                      n: int = 8, seed: int = 0) -> list[ModelDesc]:
    """`n` random descs of the table's space, from the smallest macro to the largest, that
    `petri latency table` measures whole to fit the table's `Overhead`."""
    rng = random.Random(seed)
    macros = sorted(pareto.macros())
    out = []
    for i in range(n):
        reductions, cells, nodes = macros[round(i * (len(macros) - 1) / max(n - 1, 1))]
        out.append(random_desc(rng, nodes, ops=pareto.ops, channels=rng.choice(channels),
                               cells=cells, reductions=reductions, in_channels=input_shape[0],
                               num_classes=num_classes, stem=stem,
                               stem_multiplier=rng.choice(stem_multipliers)))
    return out


@dataclass(frozen=True)
class Overhead:
    """What a whole network spends beyond the sum of its layers' entries: `scale` times the
    sum (a layer timed alone, again and again on one input, keeps its data in cache; in a
    network each layer reads what the one before wrote) plus `per_layer_ms` for each layer
    (the network's own Python between layers). Fitted on whole networks measured at the
    table's build; none fitted: nothing added."""

    scale: float = 0.0
    per_layer_ms: float = 0.0
    networks: int = 0  # how many whole networks it was fitted on

    def apply(self, layer_sum: float, n_layers: int) -> float:
        return layer_sum * (1 + self.scale) + self.per_layer_ms * n_layers


def fit_overhead(sums: list[float], counts: list[int], measured: list[float]) -> Overhead:
    """The least-squares `Overhead` of networks whose layers' entries sum to `sums` over
    `counts` layers and which measured `measured` ms whole, with neither term below zero."""
    gaps = [m - s for m, s in zip(measured, sums)]

    def one(xs: list[float]) -> float:  # the best non-negative k in gap = k * x
        return max(0.0, sum(x * g for x, g in zip(xs, gaps)) / max(sum(x * x for x in xs),
                                                                    1e-12))

    def error(scale: float, per_layer: float) -> float:
        return sum((g - scale * s - per_layer * c) ** 2 for g, s, c in zip(gaps, sums, counts))

    ss = sum(s * s for s in sums)
    cc = sum(c * c for c in counts)
    sc = sum(s * c for s, c in zip(sums, counts))
    sg = sum(s * g for s, g in zip(sums, gaps))
    cg = sum(c * g for c, g in zip(counts, gaps))
    det = ss * cc - sc * sc
    candidates = [(one(sums), 0.0), (0.0, one([float(c) for c in counts]))]
    if abs(det) > 1e-12:
        both = ((sg * cc - cg * sc) / det, (cg * ss - sg * sc) / det)
        if min(both) >= 0:
            candidates.append(both)
    scale, per_layer = min(candidates, key=lambda sp: error(*sp))
    return Overhead(scale, per_layer, len(sums))


@dataclass(frozen=True)
class Table:
    """Milliseconds per layer on one target at one input size, and what whole networks add."""

    info: TargetInfo
    input_shape: tuple[int, int, int]
    dataset: str  # the dataset it was measured for (any of the same image size shares it)
    entries: dict[Layer, float] = field(default_factory=dict)
    overhead: Overhead = field(default_factory=Overhead)

    def to_dict(self) -> dict:
        return {"format": TABLE_FORMAT, "info": self.info.to_dict(),
                "input_shape": list(self.input_shape), "dataset": self.dataset,
                "entries": [[*vars(k).values(), ms] for k, ms in sorted(self.entries.items())],
                "overhead": asdict(self.overhead)}

    @classmethod
    def from_dict(cls, d: dict) -> "Table":
        if d.get("format") != TABLE_FORMAT:
            raise ValueError(f"not a {TABLE_FORMAT} file")
        # A table kept before overheads were fitted has none: its sums stand as they were.
        return cls(TargetInfo.from_dict(d["info"]), tuple(d["input_shape"]), d["dataset"],
                   {Layer(*row[:-1]): float(row[-1]) for row in d["entries"]},
                   Overhead(**d.get("overhead", {})))


def table_path(info: TargetInfo, input_shape: tuple[int, int, int],
               data_dir: Path | None = None) -> Path:
    """Where the table of this target at this input size is kept: the data dir."""
    from petri.data.datasets import default_data_dir

    key = json.dumps([info.to_dict(), list(input_shape)], sort_keys=True)
    name = f"table-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"
    return Path(data_dir or default_data_dir()) / "latency" / name


def table_command(info: TargetInfo, dataset: str, desc: ModelDesc | None = None) -> str:
    """The `petri latency table` command that measures this target's table (with the
    channels and nodes `desc` needs)."""
    t = info.target
    cmd = (f"petri latency table --target {t.kind} --threads {t.threads} --batch {t.batch} "
           f"--dataset {dataset}")
    if desc is not None:
        default = table_pareto()
        nodes = max(desc.normal.n_nodes, desc.reduce.n_nodes, default.max_nodes)
        reductions = max(desc.reductions, default.max_reductions)
        cmd += (f" --channels {desc.channels} --max-nodes {nodes} --max-reductions "
                f"{reductions} --stem-multiplier {desc.stem_multiplier}")
    return cmd


def layer_sum(desc: ModelDesc, table: Table) -> tuple[float, int]:
    """(the sum of `desc`'s layers' entries, how many layers). A layer the table lacks is a
    PetriError naming the command that measures it."""
    walked = layers(desc, table.input_shape[1:])
    total = 0.0
    for layer in walked:
        ms = table.entries.get(layer)
        if ms is None:
            raise PetriError(f"the latency table has no entry for {layer.text()} (in "
                             f"{desc.name or 'the desc'}); measure it with "
                             f"`{table_command(table.info, table.dataset, desc)}`")
        total += ms
    return total, len(walked)


def predict_latency(desc: ModelDesc, table: Table) -> float:
    """The predicted milliseconds of one run of `desc` on the table's target: the sum of
    its layers' entries with the table's overhead."""
    return table.overhead.apply(*layer_sum(desc, table))
