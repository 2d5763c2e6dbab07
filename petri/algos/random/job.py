"""`random_train`: draw architecture i of a random search, then train it like `train`.

The draw is reproducible from (seed, i); with a cost range it redraws until the
architecture's cost falls inside (the same rejection rule every time)."""
from __future__ import annotations

import random

from petri.job import JobContext, JobFailed

MAX_DRAWS = 2000


def draw(sampler: dict, index: int, in_channels: int, num_classes: int, shape):
    from petri.cost import count_cost
    from petri.space.sample import CellSpace

    space = CellSpace.from_dict(sampler, in_channels, num_classes)
    rng = random.Random(f"{sampler['seed']}/random/{index}")
    lo = sampler.get("min_cost") or 0
    hi = sampler.get("max_cost") or float("inf")
    for _ in range(MAX_DRAWS):
        desc = space.sample_each(rng, f"random-{index}")
        cost = getattr(count_cost(desc, shape), sampler["metric"])
        if lo <= cost <= hi:
            return desc
    raise JobFailed(f"no architecture within cost [{lo:g}, {hi:g}] in {MAX_DRAWS} draws; "
                    f"widen random.min_cost/max_cost or the pareto ranges")


def run(spec: dict, ctx: JobContext) -> dict:
    from petri.train import job as train_job
    from petri.data.info import dataset_info

    info = dataset_info(spec["data"]["dataset"])
    with ctx.busy("drawing the architecture"):  # up to MAX_DRAWS costed candidates
        desc = draw(spec["sampler"], spec["index"], info.shape[0], info.num_classes, info.shape)
    result = train_job.run({**spec, "desc": desc.to_dict()}, ctx)
    return {**result, "desc": desc.to_dict()}
