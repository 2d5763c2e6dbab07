"""`random_train`: draw architecture i of a random search, then train it like `train`.

The draw is reproducible from (seed, i); with a cost range it redraws until the
architecture's cost falls inside (the same rejection rule every time)."""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from petri.job import JobContext, JobFailed, JobSpecData
from petri.train.job import TrainJobResult, TrainSpec

MAX_DRAWS = 2000


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


@dataclass(frozen=True)
class RandomTrainResult(TrainJobResult):
    desc: dict  # ModelDesc fields of the architecture drawn


def draw(sampler: Sampler, index: int, in_channels: int, num_classes: int, shape):
    from petri.cost import count_cost
    from petri.space.sample import CellSpace

    space = CellSpace.from_dict(asdict(sampler), in_channels, num_classes)
    rng = random.Random(f"{sampler.seed}/random/{index}")
    lo = sampler.min_cost or 0
    hi = sampler.max_cost or float("inf")
    for _ in range(MAX_DRAWS):
        desc = space.sample_each(rng, f"random-{index}")
        cost = getattr(count_cost(desc, shape), sampler.metric)
        if lo <= cost <= hi:
            return desc
    raise JobFailed(f"no architecture within cost [{lo:g}, {hi:g}] in {MAX_DRAWS} draws; "
                    f"widen random.min_cost/max_cost or the pareto ranges")


def run(spec: RandomTrainSpec, ctx: JobContext) -> RandomTrainResult:
    from petri.train import job as train_job
    from petri.data.info import dataset_info

    info = dataset_info(spec.data["dataset"])
    with ctx.busy("drawing the architecture"):  # up to MAX_DRAWS costed candidates
        desc = draw(spec.sampler, spec.index, info.shape[0], info.num_classes, info.shape)
    trained = train_job.run(TrainSpec(desc=desc.to_dict(), data=spec.data, trainer=spec.trainer),
                            ctx)
    return RandomTrainResult(**trained.to_dict(), desc=desc.to_dict())
