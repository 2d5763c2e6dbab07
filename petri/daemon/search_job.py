"""`search`: Petridish's candidate search on one parent, ending in a warm-started child.

Spec: {"parent_desc": ModelDesc dict, "parent_checkpoint": run-relative path, "data": DataCfg
fields, "trainer": TrainCfg fields of the search phase, "grow": {"k", "l1", "grow_existing",
"select"}}. The candidates train beside the frozen parent (resumable like any training job);
then k per cell type (the top k by |α|, or k at random with `select: random`) are merged
into the child desc, and the child's warm-start weights are written to
`child_init.pt` in the job directory for the `post_train` job that follows.
"""
from __future__ import annotations

import random

from petri.algos.petridish import SELECT_RULES
from petri.daemon.context import JobContext, JobFailed

CHILD_INIT = "child_init.pt"


def run(spec: dict, ctx: JobContext) -> dict:
    import torch

    from petri.cost import count_cost
    from petri.daemon.train_job import MIN_BATCH, fit
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.io import atomic_write
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.space.grow import GrowthNet, grow_child
    from petri.train import checkpoint
    from petri.train.config import TrainCfg

    parent_desc = ModelDesc.from_dict(spec["parent_desc"]).validate()
    cfg = TrainCfg.from_dict(spec.get("trainer", {}))
    grow = spec.get("grow", {})
    k, rule = int(grow.get("k", 3)), grow.get("select", "alpha")
    if rule not in SELECT_RULES:
        raise JobFailed(f"unknown grow.select {rule!r}; choose {' or '.join(SELECT_RULES)}")
    splits = make_splits(DataCfg(**spec.get("data", {})), torch.device(ctx.device))
    ckpt = ctx.run_dir / spec["parent_checkpoint"]
    state = checkpoint.load(ckpt)
    if state is None:
        raise JobFailed(f"the parent's checkpoint {ckpt} is missing or unreadable")
    parent_weights = state["model"]

    def make_model():
        parent = build_model(parent_desc)
        parent.load_state_dict(parent_weights)
        return GrowthNet(parent, bool(grow.get("grow_existing", False)),
                         float(grow.get("l1", 0.0)), seed=cfg.seed)

    search, result, batch = fit(make_model, splits, cfg, ctx,
                                int(spec.get("min_batch_size", MIN_BATCH)))
    search.to("cpu")
    if rule == "alpha":
        picks = search.select(k)
    else:  # from the job's seed, so a rerun picks the same candidates
        picks = search.select_random(k, random.Random(f"{cfg.seed}/select"))
    child_desc, child = grow_child(search, picks)
    init = ctx.job_dir / CHILD_INIT
    weights = child.state_dict()
    atomic_write(init, lambda f: torch.save(weights, f))
    cost = count_cost(child_desc, splits.info.shape)
    return {"child_desc": child_desc.to_dict(), "picks": [p.to_dict() for p in picks],
            "init": ctx.relative(init), "batch_size": batch, "epochs": result.epochs,
            "steps": result.steps, "wall_s": result.wall_s,
            "images_per_s": result.images_per_s, **cost.to_dict()}
