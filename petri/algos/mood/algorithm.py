"""MOOD: a frontier from PC-DARTS searches under a sweep of complexity-regularisation weights.

Search ν trains the supernet's weights on (1-ν)·CE + ν·R(θ), R the L1 or L2 norm of the
weights (α/β untouched), and ends at one objective pair f = (R, CE): R of the final weights
and the supernet's cross-entropy on the validation split (the reference logged one noisy
minibatch instead). Which ν to try next is MOOD's adaptive weighted-sum rule: among the
adjacent pairs of the non-dominated searches (sorted by CE) not yet split, the pair farthest
apart — each objective divided by its largest value on the front — gets the weight normal to
its segment, ν = ΔCE / (ΔCE − ΔR); the sweep ends when no unsplit pair is farther apart than
`delta`.

To use several slots, the sweep runs in rounds: round 0 is `mood.initial` (0.2 and 0, as in
the reference); each later round splits up to `mood.parallel` of the farthest pairs, and
starts once every search of the round before has finished, so the sweep is the same whatever
order searches finish in. Every distinct derived genotype is trained with the same recipe
and becomes a point.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from petri.algos.base import Algorithm, Outcome
from petri.algos.darts.algorithm import (DartsSearchResult, DartsSearchSpec, Regulariser,
                                         SupernetSearches)
from petri.algos.registry import algo_info
from petri.config import from_mapping, setting
from petri.errors import ConfigError
from petri.store.records import Job, JobSpec
from petri.store.view import RunView
from petri.train.job import TrainJobResult


@dataclass(frozen=True)
class MoodCfg:
    regulariser: str = setting("l1", choices=("l1", "l2"), help="R(θ), the norm of the "
                                                                "weights the sweep weighs by ν.")
    weight_decay: float = setting(3e-4, ge=0, help="The searches' fixed L2 weight decay (0 "
                                                   "for the pure L1 / L2 fronts).")
    initial: tuple[float, ...] = setting((0.2, 0.0), ge=0, lt=1, help="The ν values of "
                                                                      "round 0.")
    delta: float = setting(0.15, ge=0, extendable=True,
                           help="Stop when no unsplit front pair is farther apart than this "
                                "(objectives normalised).")
    parallel: int = setting(2, ge=1, help="Front pairs split per round.")
    max_searches: int = setting(20, ge=1, le=10_000, extendable=True,
                                help="Most supernet searches of the sweep.")


@dataclass(frozen=True)
class Search:
    nu: float
    reg: float
    ce: float


def placed(job: Job) -> Search:
    """A finished search by its ν and its objectives."""
    result = DartsSearchResult.from_dict(job.result)
    return Search(DartsSearchSpec.from_dict(job.spec).regulariser.nu, result.reg, result.val_loss)


def front(searches: list[Search]) -> list[Search]:
    """Searches no other beats in both R and CE, sorted by CE (then R)."""
    keep = [s for s in searches
            if not any(o.reg <= s.reg and o.ce <= s.ce and (o.reg, o.ce) != (s.reg, s.ce)
                       for o in searches)]
    unique = {(s.reg, s.ce): s for s in sorted(keep, key=lambda s: s.nu)}
    return sorted(unique.values(), key=lambda s: (s.ce, s.reg))


def split_weight(a: Search, b: Search) -> float:
    """ν with ν·ΔR + (1-ν)·ΔCE = 0: the weighted sum that rates a and b equal."""
    d_reg, d_ce = b.reg - a.reg, b.ce - a.ce
    return d_ce / (d_ce - d_reg) if d_ce != d_reg else math.nan


def next_weights(searches: list[Search], split: set[tuple[float, float]], delta: float,
                 limit: int) -> list[tuple[float, tuple[float, float]]]:
    """(ν, pair split) for up to `limit` unsplit front pairs farther apart than `delta`."""
    f = front(searches)
    if len(f) < 2 or limit < 1:
        return []
    top_reg = max(abs(s.reg) for s in f) or 1.0
    top_ce = max(abs(s.ce) for s in f) or 1.0
    tried = {s.nu for s in searches}
    gaps = []
    for a, b in zip(f, f[1:]):
        pair = (a.nu, b.nu)
        if pair in split:
            continue
        dist = math.hypot((b.reg - a.reg) / top_reg, (b.ce - a.ce) / top_ce)
        nu = split_weight(a, b)
        if dist > delta and 0.0 < nu < 1.0 and nu not in tried:
            gaps.append((dist, nu, pair))
    gaps.sort(key=lambda g: (-g[0], g[1]))
    out, seen = [], set()
    for _, nu, pair in gaps:
        if nu not in seen:
            out.append((nu, pair))
            seen.add(nu)
    return out[:limit]


class Mood(Algorithm):
    name = "mood"
    settings = {"mood": MoodCfg, **SupernetSearches.settings}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        # MOOD's searches are PC-DARTS searches: its row holds PC-DARTS' defaults.
        self.searches = SupernetSearches(cfg, self.name, algo_info(cfg["algo"]).defaults)
        self.mood = from_mapping(MoodCfg, self.cfg.get("mood"), "mood")
        if not self.mood.initial:
            raise ConfigError("mood.initial must list at least one weight in [0, 1)")
        if self.mood.max_searches < len(self.mood.initial):
            raise ConfigError("mood.max_searches must be at least the number of initial weights")
        if self.searches.data.get("val_size", 0) == 0:
            raise ConfigError("mood places searches by their validation cross-entropy; set "
                              "data.val_size above 0")

    def _search(self, n: int, rnd: int, nu: float, pair=None) -> JobSpec:
        # Every search starts from the same seed, as in the reference: ν alone differs.
        trainer = {"weight_decay": self.mood.weight_decay,
                   "seed": self.searches.search_trainer["seed"] + self.seed}
        return self.searches.job(f"mood/{n}", n, Regulariser(self.mood.regulariser, nu), trainer,
                                 round=rnd, pair=list(pair) if pair else None)

    def _plan(self, view: RunView) -> tuple[list[Job], list[tuple[float, tuple]]]:
        """The search jobs so far, and the next round's (ν, pair) once this one is done."""
        jobs = view.jobs(kind="darts_search")
        if any(j.state in ("queued", "running") for j in jobs):
            return jobs, []
        done = [placed(j) for j in jobs if j.state == "done"]
        split = {tuple(j.spec["pair"]) for j in jobs if j.spec.get("pair")}
        room = self.mood.max_searches - len(jobs)
        return jobs, next_weights(done, split, self.mood.delta, min(self.mood.parallel, room))

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        if not view.job_count():
            return [self._search(i, 0, nu) for i, nu in enumerate(self.mood.initial)]
        jobs, plan = self._plan(view)
        rnd = 1 + max((j.spec["round"] for j in jobs), default=0)
        return self.searches.released(view) + [self._search(len(jobs) + i, rnd, nu, pair)
                                              for i, (nu, pair) in enumerate(plan)]

    def on_result(self, job: Job, result: DartsSearchResult | TrainJobResult,
                  view: RunView) -> Outcome:
        return self.searches.on_result(job, result, view)

    def point_ordinal(self, job: Job) -> int | None:
        return self.searches.point_ordinal(job)

    def stop_reason(self, view: RunView) -> str | None:
        if not view.job_count() or self.searches.waiting(view):
            return None
        jobs, plan = self._plan(view)
        if plan or any(j.state in ("queued", "running") for j in jobs):
            return None
        if len(jobs) >= self.mood.max_searches:
            return f"mood.max_searches ({self.mood.max_searches}) reached"
        return f"front filled: no unsplit pair farther apart than delta {self.mood.delta:g}"
