"""`random_train`: draw architecture i of a random search, then train it like `train`.

The draw is reproducible from (seed, i); with a cost range or `constraints` it redraws until
the architecture falls inside (the same rejection rule every time): exact counts, and the
latency predicted from the target's per-op table (`petri.constraints.Costing`)."""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from petri.constraints import MAX_DRAWS, Costing, too_tight
from petri.job import JobContext, JobFailed, JobSpecData
from petri.train.job import TrainJobResult, TrainSpec


@dataclass(frozen=True)
class Sampler:
    """Where architecture i is drawn from; no defaults here: the `pareto` and `random`
    sections hold them."""

    min_reductions: int
    max_reductions: int
    min_cells: int
    max_cells: int
    min_nodes: int
    max_nodes: int  # random.max_nodes, else pareto's
    ops: tuple[str, ...] | None
    channels: int
    stem_multiplier: int
    edges_per_node: int
    min_cost: float | None  # of the run's hull.cost metric
    max_cost: float | None
    metric: str
    seed: int  # the run's


@dataclass(frozen=True)
class RandomTrainSpec(JobSpecData):
    index: int  # which draw
    sampler: Sampler
    data: dict  # DataCfg fields
    trainer: dict  # TrainCfg fields
    costing: Costing | None = None  # None: a spec made before constraints (no limits)


@dataclass(frozen=True)
class RandomTrainResult(TrainJobResult):
    desc: dict  # ModelDesc fields of the architecture drawn
    skipped: int = 0  # draws outside the constraints before it


def draw(sampler: Sampler, index: int, in_channels: int, num_classes: int, shape,
         costing: Costing | None = None):
    """Architecture `index` of the random search."""
    return draw_counted(sampler, index, in_channels, num_classes, shape, costing)[0]


def draw_counted(sampler: Sampler, index: int, in_channels: int, num_classes: int, shape,
                 costing: Costing | None = None):
    """Architecture `index`, and how many draws before it fell outside the constraints."""
    from petri.space.sample import CellSpace

    space = CellSpace.from_dict(asdict(sampler), in_channels, num_classes)
    rng = random.Random(f"{sampler.seed}/random/{index}")
    costing = costing or Costing(tuple(shape), "")
    lo = sampler.min_cost or 0
    hi = sampler.max_cost or float("inf")
    in_range = 0
    skipped = 0
    for _ in range(MAX_DRAWS):
        desc = space.sample_each(rng, f"random-{index}")
        costs = costing.costs(desc, sampler.metric == "latency_ms")
        if lo <= costs[sampler.metric] <= hi:
            in_range += 1
            if costing.constraints.violation(costs) is None:
                return desc, skipped
            skipped += 1
    if not in_range:
        raise JobFailed(f"no architecture within cost [{lo:g}, {hi:g}] in {MAX_DRAWS} draws; "
                        f"widen random.min_cost/max_cost or the pareto ranges")
    raise JobFailed(too_tight("architecture"))


def run(spec: RandomTrainSpec, ctx: JobContext) -> RandomTrainResult:
    from petri.train import job as train_job
    from petri.data.info import dataset_info

    info = dataset_info(spec.data["dataset"])
    with ctx.busy("drawing the architecture"):  # up to MAX_DRAWS costed candidates
        desc, skipped = draw_counted(spec.sampler, spec.index, info.shape[0], info.num_classes,
                             info.shape, spec.costing)
    trained = train_job.run(TrainSpec(desc=desc.to_dict(), data=spec.data, trainer=spec.trainer),
                            ctx)
    return RandomTrainResult(**trained.to_dict(), desc=desc.to_dict(), skipped=skipped)
