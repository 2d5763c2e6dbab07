"""`evolution`: regularized (aging) evolution (Real et al., 2019) aimed at a frontier.

A population of `evolution.population` random architectures from the `pareto` space is
trained; then each child is a mutation of the winner of a tournament among `sample` members
drawn from the youngest `population` points (older ones age out, the paper's
regularisation). The paper's tournament picks the most accurate member; petri's searches a
frontier, so the winner is the member on the best Pareto front of (cost, validation error)
within the population, then the one with the lower error. A mutation changes the op or the
input of one edge of the normal or the reduction cell.

Children come in generations of `parallel`, each proposed once the one before has
finished, and every draw is seeded by (run seed, child index), so a run is the same in any
finishing order and after any restart. Every model trains once with the run's `trainer`
recipe (the generic `train` job) and becomes a point. With `constraints`, a draw or mutation
outside them is redrawn from the same generator (bounded), before anything trains.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.config import from_mapping, setting
from petri.constraints import Costing, redraw, skipped_event, too_tight
from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.errors import ConfigError
from petri.hull import HullCfg, pareto_front, priced
from petri.space.desc import ModelDesc
from petri.space.sample import CellSpace, ParetoCfg, cell_setting
from petri.store.records import Job, JobSpec, Point
from petri.store.view import RunView
from petri.train.config import TrainCfg
from petri.train.job import TrainJobResult, TrainSpec


@dataclass(frozen=True)
class EvolutionCfg:
    population: int = setting(10, ge=2, le=10_000, help="Members alive at a time (the "
                                                         "youngest points).")
    sample: int = setting(3, ge=1, le=10_000, help="Tournament size: members drawn to pick "
                                                   "each parent from.")
    cycles: int = setting(20, ge=1, le=1_000_000, extendable=True,
                          help="Children trained after the population.")
    parallel: int = setting(2, ge=1, le=1024, help="Children per generation.")
    channels: int = cell_setting("channels")
    stem_multiplier: int = cell_setting("stem_multiplier")
    edges_per_node: int = cell_setting("edges_per_node")


def front_ranks(points: list[Point], metric: str) -> dict[int, int]:
    """Point id -> its Pareto front (0 = non-dominated) within `points` (priced ones)."""
    left = priced(points, metric)
    ranks, rank = {}, 0
    while left:
        front = set(pareto_front(left))
        ranks |= {i: rank for i in front}
        left = [p for p in left if p[0] not in front]
        rank += 1
    return ranks


class Evolution(Algorithm):
    name = "evolution"
    settings = {"evolution": EvolutionCfg, "pareto": ParetoCfg, "hull": HullCfg}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.evolution = from_mapping(EvolutionCfg, cfg.get("evolution"), "evolution")
        if self.evolution.sample > self.evolution.population:
            raise ConfigError(f"evolution.sample ({self.evolution.sample}) must be at most "
                              f"evolution.population ({self.evolution.population})")
        pareto = from_mapping(ParetoCfg, cfg.get("pareto"), "pareto")
        pareto.macros()  # the ranges are sane and bounded
        self.metric = from_mapping(HullCfg, cfg.get("hull"), "hull").metric
        self.data = DataCfg.from_dict(cfg.get("data")).to_dict()
        self.trainer = TrainCfg.from_dict(cfg.get("trainer") or {}).to_dict()
        info = dataset_info(self.data["dataset"])
        self.space = CellSpace(pareto, self.evolution.channels, self.evolution.stem_multiplier,
                               self.evolution.edges_per_node, info.shape[0], info.num_classes)
        self.total = self.evolution.population + self.evolution.cycles
        self.costing = Costing.from_cfg(cfg)
        self.costing.check_reachable(self.space)

    def _job(self, n: int, draw, **extra) -> JobSpec:
        """Job `n` trains the first of `draw(i)` inside the constraints."""
        key = f"evolution/{n}"
        desc, skipped = redraw(draw, self.costing)
        if desc is None:
            raise ConfigError(too_tight(f"architecture for {key}"))
        if skipped:
            extra["skipped"] = skipped
        spec = TrainSpec(desc=replace(desc, name=f"evolution-{n}").to_dict(), data=self.data,
                         trainer=self.trainer_for(self.trainer, key),
                         extra={"index": n, **extra})
        return JobSpec("train", spec.to_dict(), key)

    def _initial(self, n: int) -> JobSpec:
        rng = random.Random(f"{self.seed}/evolution/{n}")
        return self._job(n, lambda i: self.space.sample(rng))

    def _members(self, view: RunView, before: int | None = None) -> list[Point]:
        """The youngest `population` trained models (by index: the order they were made)
        among those made before child `before`."""
        ours = {p.id: p for p in view.points() if p.stage == self.name
                and (before is None or p.lineage["index"] < before)}
        # Only a priced model has a place to rank.
        points = sorted((ours[i] for i, _, _ in priced(ours.values(), self.metric)),
                        key=lambda p: p.lineage["index"])
        return points[-self.evolution.population:]

    def _child(self, n: int, members: list[Point]) -> JobSpec:
        rng = random.Random(f"{self.seed}/evolution/{n}")
        ranks = front_ranks(members, self.metric)
        contestants = rng.sample(members, min(self.evolution.sample, len(members)))
        parent = min(contestants, key=lambda p: (ranks[p.id], p.val_error, p.lineage["index"]))
        desc = ModelDesc.from_dict(parent.desc)
        return self._job(n, lambda i: self.space.mutate(desc, rng), parent=parent.id)

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        n = view.job_count()
        if n == 0:
            return [self._initial(i) for i in range(self.evolution.population)]
        c = view.counts()
        if c["queued"] or c["running"] or n >= self.total:
            return []  # a generation starts once the one before has finished
        # Generations are fixed by index, so a run whose `cycles` ended one part-way and was
        # then extended breeds the rest of it from the same members as an unbroken run.
        start = n - (n - self.evolution.population) % self.evolution.parallel
        members = self._members(view, before=start)
        if not members:
            return []
        return [self._child(i, members)
                for i in range(n, min(start + self.evolution.parallel, self.total))]

    def on_result(self, job: Job, result: TrainJobResult, view: RunView) -> Outcome:
        return Outcome(points=[trained_point(job, result, self.name,
                                             {"index": job.spec["index"]},
                                             parent=job.spec.get("parent"),
                                             ordinal=self.point_ordinal(job))],
                       events=[skipped_event(job.key, n)] if (n := job.spec.get("skipped"))
                       else [])

    def point_ordinal(self, job: Job) -> int:
        return job.spec["index"]

    def stop_reason(self, view: RunView) -> str | None:
        n = view.job_count()
        if n >= self.total:
            return f"all {self.evolution.cycles} children proposed"
        c = view.counts()
        if n and not c["queued"] and not c["running"] and not self._members(view):
            return "no member of the population trained (see the failed jobs)"
        return None

    def planned_points(self) -> int:
        return self.total
