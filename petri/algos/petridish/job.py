"""`search`: Petridish's candidate search on one parent, ending in a warm-started child.

The spec is a `SearchSpec`, the result a `SearchResult`. The candidates train beside the
frozen parent (resumable like any training job); then k per cell type (the top k by |α|, or
k at random with `select: random`) are merged into the child desc, and the child's
warm-start weights are written to `child_init.pt` in the job directory for the `post_train`
job that follows. With `constraints`, a candidate is offered only if the child with it stays
inside them (exact counts; the latency predicted, as the child is not yet measured), taken
in the rule's order until k per cell type.
"""
from __future__ import annotations

import random
import sys
from dataclasses import dataclass

from petri.constraints import Costing
from petri.job import JobContext, JobFailed, JobResult, JobSpecData

CHILD_INIT = "child_init.pt"
SELECT_RULES = ("alpha", "random")  # how a search picks its k candidates


@dataclass(frozen=True)
class GrowSpec:
    """How the child grows; no defaults here: the algorithm's config is the one place."""

    k: int  # candidates merged per cell type
    l1: float  # L1 on the candidates' α
    grow_existing: bool  # also offer candidates to existing nodes
    select: str  # one of SELECT_RULES
    # A new node's candidate ops: pareto.ops (None, as in runs made before it existed: the
    # built-in ones).
    ops: tuple[str, ...] | None = None
    costing: Costing | None = None  # the run's limits (None: a spec made before them)


@dataclass(frozen=True)
class SearchSpec(JobSpecData):
    parent_desc: dict  # ModelDesc fields
    parent_checkpoint: str  # run-relative
    data: dict  # DataCfg fields
    trainer: dict  # TrainCfg fields of the search phase
    grow: GrowSpec


@dataclass(frozen=True)
class SearchResult(JobResult):
    child_desc: dict  # ModelDesc fields
    picks: list[dict]  # the candidates merged (`Pick` fields)
    init: str  # run-relative: the child's warm-start weights
    batch_size: int
    epochs: int
    steps: int
    wall_s: float
    images_per_s: float
    params: int  # the child's cost
    macs: int
    activation_bytes: int
    skipped: int = 0  # candidates not offered: their child would leave the constraints


def search_hooks(search):
    """The candidate search trains with no weight decay on α and the L1 on α as its loss."""
    from petri.train.loop import ModelHooks

    return ModelHooks(param_groups=search.param_groups, extra_loss=search.extra_loss)


def run(spec: SearchSpec, ctx: JobContext) -> SearchResult:
    import torch

    from petri.cost import count_cost
    from petri.train.job import fit, load_splits
    from petri.io import atomic_write
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.algos.petridish.grow import GrowthNet, grow_child
    from petri.train import checkpoint
    from petri.train.config import TrainCfg

    grow = spec.grow
    parent_desc = ModelDesc.from_dict(spec.parent_desc).validate()
    cfg = TrainCfg.from_dict(spec.trainer)
    if grow.select not in SELECT_RULES:
        raise JobFailed(f"unknown grow.select {grow.select!r}; choose "
                        f"{' or '.join(SELECT_RULES)}")
    splits = load_splits(spec.data, ctx)
    ckpt = ctx.run_dir / spec.parent_checkpoint
    state = checkpoint.load(ckpt)
    if state is None:
        raise JobFailed(f"the parent's checkpoint {ckpt} is missing or unreadable")
    parent_weights = state["model"]

    def make_model():
        parent = build_model(parent_desc)
        parent.load_state_dict(parent_weights)
        return GrowthNet(parent, grow.grow_existing, grow.l1, seed=cfg.seed, ops=grow.ops)

    search, result, batch = fit(make_model, splits, cfg, ctx, model_hooks=search_hooks)
    search.to("cpu")
    with ctx.busy("choosing the candidates"):
        picks, skipped = choose(search, grow, parent_desc, random.Random(f"{cfg.seed}/select"))
    with ctx.busy("growing the child"):
        child_desc, child = grow_child(search, picks)
        init = ctx.job_dir / CHILD_INIT
        weights = child.state_dict()
        atomic_write(init, lambda f: torch.save(weights, f))
        cost = count_cost(child_desc, splits.info.shape)
    return SearchResult(child_desc=child_desc.to_dict(), picks=[p.to_dict() for p in picks],
                        init=ctx.relative(init), batch_size=batch, epochs=result.epochs,
                        steps=result.steps, wall_s=result.wall_s,
                        images_per_s=result.images_per_s, skipped=skipped, **cost.to_dict())


def choose(search, grow: GrowSpec, parent_desc, rng: random.Random) -> tuple[list, int]:
    """The candidates merged into the child (k per cell type by the rule: top |α|, or at
    random from `rng`, the job's, so a rerun picks the same), and how many were skipped
    because the child with them would leave the constraints."""
    from petri.algos.petridish.grow import grow_desc

    costing = grow.costing
    if costing is None or not costing.limited:
        picks = search.select(grow.k) if grow.select == "alpha" else \
            search.select_random(grow.k, rng)
        return picks, 0
    ranked = search.select(k=sys.maxsize)  # every candidate, best first
    if grow.select == "random":
        rng.shuffle(ranked)
    chosen, skipped = [], 0
    for p in ranked:
        if sum(q.cell == p.cell for q in chosen) >= grow.k:
            continue
        if costing.violation(grow_desc(parent_desc, chosen + [p])) is None:
            chosen.append(p)
        else:
            skipped += 1
    if not chosen:
        raise JobFailed(f"no candidate's child stays inside the constraints ({skipped} "
                        f"skipped); this parent cannot grow")
    return chosen, skipped
