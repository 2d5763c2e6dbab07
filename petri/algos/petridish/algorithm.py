"""Petridish: forward search that grows models near the lower convex hull of error vs cost.

Jobs: one `seed_train` per seed model; then, repeatedly, a `search` on a parent sampled from
the hull's eps band, followed by the `post_train` of the child it grew. Every trained model is
a point.

Reproducible under any number of workers: search job n sees a fixed pool, the seeds plus the
children of search jobs 0 .. n-parallel, and waits until that pool is complete. Its parent is
then drawn with a generator seeded by (run seed, n), and every job's trainer seed comes from
(run seed, job key). Which worker finishes first never changes what is searched, so the same
config and seed give the same points.

With `hull.cost: latency` the pool also waits for its points' measured latencies (a failed
measurement leaves its point out). Growth happens before a child is measured: a search
offers only candidates whose child stays inside the `constraints`, its latency predicted
(`petri.constraints.Costing`). Seeds outside them are not trained.

Seeds may also come from your own networks (`petridish.seeds_from`, see
`petri.algos.petridish.seeds`): a gallery model of the same data brings its weights through a
`seed_import` job instead of a `seed_train`.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.algos.petridish.job import SELECT_RULES, GrowSpec, SearchResult, SearchSpec
from petri.algos.petridish.seeds import Seed, sourced_seeds
from petri.config import from_mapping, setting
from petri.constraints import Costing, skipped_event
from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.errors import ConfigError
from petri.hull import HullCfg, eps_band, hypervolume, pareto_front, priced, sampling_weights
from petri.latency.job import awaiting
from petri.space.sample import CellSpace, ParetoCfg, cell_setting
from petri.store.records import Job, JobSpec, Point
from petri.store.view import RunView
from petri.train.job import TrainJobResult, TrainSpec
from petri.train.config import TrainCfg

STAGES = ("seed_train", "search", "post_train")
SEED_KINDS = ("seed_train", "seed_import")


@dataclass(frozen=True)
class PetridishCfg:
    channels: int = cell_setting("channels")
    stem_multiplier: int = cell_setting("stem_multiplier")
    edges_per_node: int = cell_setting("edges_per_node")
    # petri.algos.petridish.seeds says what each kind of source keeps and which train.
    seeds_from: tuple[str, ...] = setting(
        (), paths=True, help="Seeds of your own: galleries (GALLERY.h5: every model; "
                             "GALLERY.h5:ID: one), desc files and genotype names.")
    enumerate_seeds: bool = setting(True, help="Also seed with random models, one per macro "
                                               "of the pareto ranges, before seeds_from's.")
    k: int = setting(3, ge=1, le=64, help="Candidates merged per growth step and cell type.")
    # random is the control that tells whether selecting by α helps.
    select: str = setting("alpha", choices=SELECT_RULES,
                          help="How the k candidates are chosen: alpha, the top k by |α| "
                               "(Petridish); random, k at random (seeded by the search job).")
    l1: float = setting(1e-3, ge=0, help="Weight of the L1 penalty on the candidates' α.")
    grow_existing: bool = setting(False, help="Also offer candidates as inputs to a cell's "
                                              "existing nodes, not only as new nodes.")
    search_subset: int | None = setting(None, ge=1, help="Training images of the candidate "
                                                         "search (null: all).")
    parallel: int = setting(2, ge=1, help="Search jobs in flight beyond the pool they "
                                          "sampled their parents from.")
    max_points: int = setting(100, ge=1, le=1_000_000, extendable=True,
                              help="Stop after this many points, seeds and children.")
    max_cost: float | None = setting(None, gt=0, extendable=True,
                                     help="Stop once a frontier point costs more than this.")
    budget_epochs: float | None = setting(None, gt=0, extendable=True,
                                          help="Stop after this many training epochs over "
                                               "all jobs.")
    budget_hours: float | None = setting(None, gt=0, extendable=True,
                                         help="Stop after this many device-hours of finished "
                                              "jobs (not reproducible).")
    patience: int | None = setting(None, ge=1, extendable=True,
                                   help="Stop when the last this-many children add no "
                                        "hypervolume.")


def run_settings(cfg: dict) -> tuple[PetridishCfg, ParetoCfg, HullCfg, dict, dict]:
    """Validated settings of a Petridish run: (petridish, pareto, hull, data, trainers)."""
    petridish = from_mapping(PetridishCfg, cfg.get("petridish"), "petridish")
    pareto = from_mapping(ParetoCfg, cfg.get("pareto"), "pareto")
    hull = from_mapping(HullCfg, cfg.get("hull"), "hull")
    pareto.macros()  # the ranges are sane and bounded before any seed is built
    data = DataCfg.from_dict(cfg.get("data")).to_dict()
    base = dict(cfg.get("trainer") or {})
    trainers = {}
    for stage in STAGES:
        merged = {**base, **(cfg.get(stage) or {})}
        trainers[stage] = TrainCfg.from_dict(merged).to_dict()
    return petridish, pareto, hull, data, trainers


def seed_descs(cfg: PetridishCfg, pareto: ParetoCfg, dataset: str, seed: int) -> dict:
    """Seed models by key `r{reductions}c{cells}n{nodes}`, one per macro of the `pareto`
    ranges, deterministic from `seed`. Every seed draws its own cells: shared cells made a
    whole run ride on one draw per node count.
    """
    info = dataset_info(dataset)
    space = CellSpace(pareto, cfg.channels, cfg.stem_multiplier, cfg.edges_per_node,
                      info.shape[0], info.num_classes)
    keys = {f"r{r}c{c}n{n}": (r, c, n) for r, c, n in pareto.macros()}
    return {key: space.random_desc(random.Random(f"{seed}/seed-cells/{key}"), macro,
                                   f"seed-{key}") for key, macro in keys.items()}


@dataclass
class _Search:
    job: Job
    post: Job | None
    point: Point | None

    @property
    def resolved(self) -> bool:
        if self.job.state == "failed":
            return True
        return self.job.state == "done" and self.post is not None and \
            self.post.state in ("done", "failed")


class Petridish(Algorithm):
    name = "petridish"
    settings = {"petridish": PetridishCfg, "pareto": ParetoCfg, "hull": HullCfg,
                **dict.fromkeys(STAGES, TrainCfg)}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.petridish, self.pareto, self.hull, self.data, self.trainers = run_settings(cfg)
        self.costing = Costing.from_cfg(cfg)
        cfg = self.petridish
        seeds = {k: Seed(d, None) for k, d in seed_descs(
            cfg, self.pareto, self.data["dataset"], self.seed).items()} \
            if cfg.enumerate_seeds else {}
        seeds.update(sourced_seeds(cfg.seeds_from, self.data, cfg.channels,
                                   cfg.stem_multiplier))
        if not seeds:
            raise ConfigError("petridish.enumerate_seeds is false and petridish.seeds_from "
                              "is empty: name seeds in seeds_from or enumerate them")
        kept = {k: s for k, s in seeds.items() if self.costing.violation(s.desc) is None}
        if not kept:
            raise ConfigError(f"none of the {len(seeds)} seed models is inside the "
                              f"constraints; widen them or the pareto ranges")
        self.seeds = {k: s.desc for k, s in kept.items()}
        self.imports = {k: s.weights for k, s in kept.items() if s.weights is not None}
        self.skipped_seeds = len(seeds) - len(self.seeds)
        self.trained_seeds = len(self.seeds) - len(self.imports)

    # ---- the state, rebuilt from the store on every call ------------------------------
    def _read(self, view: RunView):
        jobs = {j.key: j for j in view.jobs()}
        points = {p.job_id: p for p in view.points()}
        seeds = [(jobs.get(f"seed/{k}"), points.get(getattr(jobs.get(f"seed/{k}"), "id", None)))
                 for k in self.seeds]
        searches = []
        n = 0
        while f"search/{n}" in jobs:
            post = jobs.get(f"post/{n}")
            searches.append(_Search(jobs[f"search/{n}"], post,
                                    points.get(post.id) if post is not None else None))
            n += 1
        return seeds, searches

    def _pool(self, view: RunView, seeds, searches, n: int) -> list[Point] | None:
        """The points search job n samples from, or None while some are still training."""
        if any(j is None or j.state not in ("done", "failed") for j, _ in seeds):
            return None
        upto = max(0, n - self.petridish.parallel + 1)
        if upto > len(searches) or any(not s.resolved for s in searches[:upto]):
            return None  # a search it depends on is in flight (or not even proposed yet)
        pool = [pt for _, pt in seeds if pt is not None]
        pool += [s.point for s in searches[:upto] if s.point is not None]
        if self.hull.metric == "latency_ms" and awaiting(pool, view):
            return None
        return [pt for pt in pool if pt.val_error is not None and pt.checkpoint]

    def _stop(self, view: RunView, pool: list[Point], n: int) -> str | None:
        """Why search job n must not start, or None. Depends only on the pool and n, except
        the device-hours budget, which depends on measured time."""
        cfg = self.petridish
        if not pool:
            return "no seed model trained; see `petri status` for the failures"
        if len(self.seeds) + n >= cfg.max_points:
            return f"max_points ({cfg.max_points}) reached"
        priced_pool = priced(pool, self.hull.metric)
        if cfg.max_cost is not None:
            costs = {i: c for i, c, _ in priced_pool}
            front = pareto_front(priced_pool)
            if any(costs[i] > cfg.max_cost for i in front):
                return f"a frontier point costs more than max_cost ({cfg.max_cost:g})"
        if cfg.budget_epochs is not None:
            epochs = (self.trained_seeds * self.trainers["seed_train"]["epochs"]
                      + n * (self.trainers["search"]["epochs"]
                             + self.trainers["post_train"]["epochs"]))
            if epochs >= cfg.budget_epochs:
                return f"budget of {cfg.budget_epochs:g} epochs spent"
        if cfg.budget_hours is not None:
            hours = view.compute_spent() / 3600
            if hours >= cfg.budget_hours:
                return f"budget of {cfg.budget_hours:g} device-hours spent"
        grown = [pt for pt in pool if pt.stage == "grown"]
        if cfg.patience and len(grown) >= cfg.patience:
            recent = {pt.id for pt in grown[-cfg.patience:]}
            ref = 2 * max(c for _, c, _ in priced_pool)
            lo = min(c for _, c, _ in priced_pool)
            before = [q for q in priced_pool if q[0] not in recent]
            if hypervolume(priced_pool, ref, 1.0, self.hull.log, lo) <= \
                    hypervolume(before, ref, 1.0, self.hull.log, lo) + 1e-12:
                return f"no hypervolume gain over the last {cfg.patience} points"
        return None

    # ---- the Algorithm interface --------------------------------------------------------
    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        if view.job_count() == 0:
            return [self._seed_spec(k, d) for k, d in self.seeds.items()]
        seeds, searches = self._read(view)
        # Parents of every earlier search, those proposed in this call included, so a search's
        # sampling counts never depend on whether it was proposed with others or alone.
        parents = [s.job.spec["parent"] for s in searches]
        specs = []
        n = len(searches)
        while len(specs) < free_slots:
            pool = self._pool(view, seeds, searches, n)
            if pool is None or self._stop(view, pool, n):
                break
            specs.append(self._search_spec(pool, parents, n))
            parents.append(specs[-1].spec["parent"])
            n += 1
        return specs

    def _seed_spec(self, key: str, desc) -> JobSpec:
        if key in self.imports:
            return JobSpec("seed_import", self.imports[key].to_dict(), f"seed/{key}")
        return JobSpec("seed_train", TrainSpec(
            desc=desc.to_dict(), data=self.data,
            trainer=self.trainer_for(self.trainers["seed_train"], f"seed/{key}")).to_dict(),
            f"seed/{key}")

    def _search_spec(self, pool: list[Point], parents: list[int], n: int) -> JobSpec:
        priced_pool = priced(pool, self.hull.metric)
        keys = {pt.id: pt.key for pt in pool}
        # Ordered by key, not by id: ids follow the order in which jobs happened to finish.
        band = sorted(eps_band(priced_pool, self.hull.eps, self.hull.log), key=keys.get)
        costs = {i: c for i, c, _ in priced_pool}
        sampled = {}
        for parent in parents:
            sampled[parent] = sampled.get(parent, 0) + 1
        weights = sampling_weights([(i, costs[i], sampled.get(i, 0)) for i in band])
        parent_id = random.Random(f"{self.seed}/parent/{n}").choices(band, weights)[0]
        parent = next(pt for pt in pool if pt.id == parent_id)
        trainer = self.trainer_for(self.trainers["search"], f"search/{n}")
        cfg, data = self.petridish, self.data
        if cfg.search_subset is not None:  # candidates train slower (BENCHMARKS.md)
            data = {**data, "subset": cfg.search_subset}
        grow = GrowSpec(k=cfg.k, l1=cfg.l1, grow_existing=cfg.grow_existing, select=cfg.select,
                        ops=self.pareto.ops, costing=self.costing)
        return JobSpec("search", SearchSpec(
            parent_desc=parent.desc, parent_checkpoint=parent.checkpoint, data=data,
            trainer=trainer, grow=grow, extra={"index": n, "parent": parent.id}).to_dict(),
            f"search/{n}")

    def on_result(self, job: Job, result: SearchResult | TrainJobResult,
                  view: RunView) -> Outcome:
        if job.kind == "search":
            n = job.spec["index"]
            trainer = self.trainer_for(self.trainers["post_train"], f"post/{n}")
            return Outcome(jobs=[JobSpec("post_train", TrainSpec(
                desc=result.child_desc, init=result.init, data=self.data, trainer=trainer,
                extra={"parent": job.spec["parent"], "index": n, "picks": result.picks,
                       "search_epochs": result.epochs}).to_dict(), f"post/{n}")],
                events=[skipped_event(f"{job.key} candidates", result.skipped)]
                if result.skipped else [])
        if job.kind in SEED_KINDS:
            stage, parent, lineage, budget = "seed", None, {"seed": job.key}, result.epochs
        else:
            stage, parent = "grown", job.spec["parent"]
            lineage = {"search_index": job.spec["index"], "picks": job.spec["picks"]}
            budget = result.epochs + job.spec.get("search_epochs", 0)
        # Seeds outside the constraints were never proposed; the first seed's result says so.
        first = self.skipped_seeds and job.key == f"seed/{next(iter(self.seeds))}"
        return Outcome(points=[trained_point(job, result, stage, lineage, parent=parent,
                                             budget=budget, ordinal=self.point_ordinal(job))],
                       events=[skipped_event("seeds", self.skipped_seeds)] if first else [])

    def point_ordinal(self, job: Job) -> int:
        """Seeds first, in plan order; then the child of search n (its search and post_train
        jobs alike)."""
        if job.kind in SEED_KINDS:
            return [f"seed/{k}" for k in self.seeds].index(job.key)
        return len(self.seeds) + job.spec["index"]

    def planned_points(self) -> int:
        """Every seed, then children up to max_points or the epoch budget (max_cost, the
        device-hours budget and patience may stop it sooner)."""
        seeds, t = len(self.seeds), self.trainers
        children = max(0, self.petridish.max_points - seeds)
        if self.petridish.budget_epochs is not None:
            per_child = t["search"]["epochs"] + t["post_train"]["epochs"]
            left = self.petridish.budget_epochs - self.trained_seeds * t["seed_train"]["epochs"]
            children = min(children, max(0, math.ceil(left / per_child)))
        return seeds + children

    def planned_jobs(self) -> int:
        """A seed is one job; a child two, its search and its post_train."""
        seeds = len(self.seeds)
        return seeds + 2 * (self.planned_points() - seeds)

    def stop_reason(self, view: RunView) -> str | None:
        seeds, searches = self._read(view)
        n = len(searches)
        pool = self._pool(view, seeds, searches, n)
        return None if pool is None else self._stop(view, pool, n)
