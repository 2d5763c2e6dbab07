"""Costs of a desc before it is trained, and the `constraints` every algorithm honours then.

`constraints:` sets upper (and optional lower) limits on `params`, `macs`, `memory` (peak
activation bytes) and `latency_ms`. A search spends no compute outside them: random and
evolution redraw (bounded), Petridish offers only growth candidates whose child stays inside,
and a DARTS derivation outside them is reported (an event) and not trained. `Costing` counts
an untrained desc: params, MACs and memory exactly (`petri.cost`, on the meta device, so
checking imports torch: a run with constraints plans with it), latency by the predictor
(`petri.latency.table.predict_latency`, from the target's per-op table), as latency is
measured only after a point trains.
"""
from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass, field

from petri.config import from_mapping, setting
from petri.errors import ConfigError
from petri.hull import HullCfg
from petri.latency.config import LatencyCfg
from petri.space.desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc

# The names a constraint may limit, and the cost each one reads.
LIMITED = {"params": "params", "macs": "macs", "memory": "activation_bytes",
           "latency_ms": "latency_ms"}
EVENT = "constraint"  # the event kind of a proposal skipped for its constraints
MAX_DRAWS = 2000  # draws a search makes for one proposal before it gives up
_COUNTED: dict[tuple, dict] = {}  # (Costing, desc key, with latency) -> costs


@dataclass(frozen=True)
class ConstraintsCfg:
    """The `constraints` section; None: no limit."""

    max_params: float | None = setting(None, ge=0, help="Most parameters a model may have.")
    min_params: float | None = setting(None, ge=0, help="Fewest parameters a model may have.")
    max_macs: float | None = setting(None, ge=0, help="Most multiply-accumulates of one "
                                                      "image's forward pass.")
    min_macs: float | None = setting(None, ge=0, help="Fewest multiply-accumulates of one "
                                                      "image's forward pass.")
    max_memory: float | None = setting(None, ge=0, help="Most peak activation bytes.")
    min_memory: float | None = setting(None, ge=0, help="Fewest peak activation bytes.")
    max_latency_ms: float | None = setting(
        None, ge=0, help="Most milliseconds on the `latency` target, as its per-op table "
                         "predicts before training.")
    min_latency_ms: float | None = setting(
        None, ge=0, help="Fewest predicted milliseconds on the `latency` target.")

    def __post_init__(self):
        for name, (lo, hi) in self.bounds().items():
            if lo > hi:
                raise ConfigError(f"constraints.min_{name} ({lo:g}) is above constraints."
                                  f"max_{name} ({hi:g}); lower min_{name} or raise max_{name}")

    def bounds(self) -> dict[str, tuple[float, float]]:
        """(lower, upper) of every limited cost, by its constraint name."""
        out = {}
        for name in LIMITED:
            lo, hi = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            if lo is not None or hi is not None:
                out[name] = (lo or 0.0, float("inf") if hi is None else hi)
        return out

    def violation(self, costs: dict) -> str | None:
        """Which limit `costs` (point field -> value, as `Costing.costs`) break, None where
        all hold."""
        for name, (lo, hi) in self.bounds().items():
            value = costs.get(LIMITED[name])
            if value is not None and not lo <= value <= hi:
                side = (f"above max_{name} {hi:,.4g}" if value > hi
                        else f"below min_{name} {lo:,.4g}")
                return f"{name} {value:,.4g} {side}"
        return None


@dataclass(frozen=True)
class Costing:
    """How a run counts an untrained desc, and its limits; it crosses into jobs as data."""

    input_shape: tuple[int, int, int]
    dataset: str
    constraints: ConstraintsCfg = field(default_factory=ConstraintsCfg)
    latency: LatencyCfg | None = None

    def __post_init__(self):  # read back from a job's JSON, the shape is a list
        object.__setattr__(self, "input_shape", tuple(self.input_shape))

    @classmethod
    def from_cfg(cls, cfg: dict) -> "Costing":
        """The run's costing, every rule between `hull`, `latency` and `constraints` checked."""
        from petri.data.config import DataCfg
        from petri.data.info import dataset_info

        latency = LatencyCfg.from_cfg(cfg)
        constraints = from_mapping(ConstraintsCfg, cfg.get("constraints"), "constraints")
        hull = from_mapping(HullCfg, cfg.get("hull"), "hull")
        if latency is None and (hull.cost == "latency" or "latency_ms" in constraints.bounds()):
            why = ("hull.cost is latency" if hull.cost == "latency"
                   else "constraints limit latency_ms")
            raise ConfigError(f"{why} but the config has no `latency` section; add one "
                              f"(e.g. --set latency.target=cpu)")
        dataset = DataCfg.from_dict(cfg.get("data")).dataset
        return cls(tuple(dataset_info(dataset).shape), dataset, constraints, latency)

    @property
    def limited(self) -> bool:
        return bool(self.constraints.bounds())

    def costs(self, desc: ModelDesc, latency: bool = False) -> dict:
        """Point field -> value of `desc` (params, macs, activation_bytes): exact counts, and
        latency_ms predicted where `latency` or a constraint limits it."""
        latency = latency or "latency_ms" in self.constraints.bounds()
        key = (self, desc.key(), latency)
        if key not in _COUNTED:  # a search re-checks the same descs at every proposal
            from petri.cost import count_cost

            out = count_cost(desc, self.input_shape).to_dict()
            if latency:
                from petri.latency.table import predict_latency

                out["latency_ms"] = predict_latency(desc, _table(self.latency, self.input_shape,
                                                                  self.dataset))
            _COUNTED[key] = out
        return _COUNTED[key]

    def violation(self, desc: ModelDesc) -> str | None:
        """Which limit `desc` breaks, None where it is inside (or nothing is limited)."""
        return self.constraints.violation(self.costs(desc)) if self.limited else None

    def check_reachable(self, space) -> None:
        """Refuse upper limits below the smallest model of `space` (a `CellSpace`): its
        fewest reductions, cells and nodes, each edge the op cheapest on that cost."""
        if not self.limited:
            return
        p = space.pareto
        macro = (p.min_reductions, max(p.min_cells, 2 * p.min_reductions + 1), p.min_nodes)
        smallest: dict[str, float] = {}
        for op in space.ops:
            costs = self.costs(_uniform(space, macro, op))
            smallest = {k: min(v, smallest.get(k, v)) for k, v in costs.items()}
        for name, (_, hi) in self.constraints.bounds().items():
            value = smallest.get(LIMITED[name], 0)
            if value > hi:
                raise ConfigError(f"constraints.max_{name} ({hi:,.4g}) is below the smallest "
                                  f"model of the space ({value:,.4g}); raise it, or lower the "
                                  f"channels or the pareto minimums")

    def to_dict(self) -> dict:
        return asdict(self)


def _uniform(space, macro: tuple[int, int, int], op: str) -> ModelDesc:
    reductions, cells, nodes = macro
    # Every node on the two cell inputs: the first node can read no more, and a model with
    # more edges per node costs at least as much, so this bounds the space from below.
    edges = min(space.edges_per_node, 2)
    cell = CellDesc(tuple(NodeDesc(tuple(EdgeDesc(op, i) for i in range(edges)))
                          for _ in range(nodes)), tuple(range(2, nodes + 2)))
    return ModelDesc(cell, cell, channels=space.channels, cells=cells, reductions=reductions,
                     in_channels=space.in_channels, num_classes=space.num_classes,
                     stem_multiplier=space.stem_multiplier)


@functools.cache
def _table(latency: LatencyCfg, input_shape: tuple, dataset: str):
    """The predictor's table of the run's target (kept in the data dir by `petri latency
    table`; none is a PetriError naming that command)."""
    from petri.latency.build_table import load_table
    from petri.latency.target import describe_target

    return load_table(describe_target(latency.to_target()), input_shape, dataset)


def redraw(draw, costing: Costing) -> tuple[ModelDesc | None, int]:
    """`draw(i)` for i = 0, 1, ... until a desc inside the limits: (desc, draws skipped).
    None after MAX_DRAWS draws: the limits are too tight for the space."""
    for i in range(MAX_DRAWS):
        desc = draw(i)
        if costing.violation(desc) is None:
            return desc, i
    return None, MAX_DRAWS


def too_tight(what: str) -> str:
    return (f"no {what} inside the constraints in {MAX_DRAWS} draws; widen the constraints or "
            f"the pareto ranges")


def skipped_event(what: str, n: int) -> tuple[str, str]:
    """The event that reports `n` proposals of `what` skipped for the constraints."""
    return EVENT, f"{what}: {n} proposal(s) outside the constraints skipped"


def skipped_count(message: str) -> int:
    """How many proposals a constraint event reports (a derivation not trained: one)."""
    found = re.search(r": (\d+) proposal\(s\) outside", message)
    return int(found.group(1)) if found else 1

