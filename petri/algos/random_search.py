"""`random`: the baseline every search must beat. Architectures drawn uniformly from the same
space as Petridish's seeds and children (macro ranges of `pareto`, nodes up to
`random.max_nodes`), optionally only those inside a cost range, each trained once with the
same recipe; every one becomes a point, so the frontier, `export` and `compare` treat it like
any search. Job i draws its architecture from (run seed, i), so runs are reproducible.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.algos.petridish import HullCfg, ParetoCfg
from petri.config import from_mapping
from petri.data.config import DataCfg
from petri.errors import ConfigError
from petri.hull import COST_METRICS
from petri.store.records import Job, JobSpec
from petri.store.view import RunView
from petri.train.config import TrainCfg


@dataclass(frozen=True)
class RandomCfg:
    samples: int = 20  # architectures to train
    channels: int = 16
    stem_multiplier: int = 3
    edges_per_node: int = 2
    max_nodes: int | None = None  # nodes per cell drawn from min_nodes..this (None: pareto's)
    min_cost: float | None = None  # keep only architectures in [min_cost, max_cost]
    max_cost: float | None = None  # of the run's hull.cost metric


class RandomSearch(Algorithm):
    name = "random"

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.r = from_mapping(RandomCfg, cfg.get("random"), "random")
        self.pareto = from_mapping(ParetoCfg, cfg.get("pareto"), "pareto")
        hull = from_mapping(HullCfg, cfg.get("hull"), "hull")
        if hull.cost not in COST_METRICS:
            raise ConfigError(f"hull.cost {hull.cost!r} is unknown; choose one of "
                              f"{', '.join(COST_METRICS)}")
        if self.r.samples < 1:
            raise ConfigError("random.samples must be at least 1")
        self.metric = hull.metric
        self.data = DataCfg.from_dict(cfg.get("data")).to_dict()
        self.trainer = TrainCfg.from_dict(cfg.get("trainer") or {}).to_dict()

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        if view.job_count():
            return []
        sampler = {**asdict(self.r), **asdict(self.pareto), "metric": self.metric,
                   "seed": self.seed}
        if sampler["max_nodes"] is None:
            sampler["max_nodes"] = self.pareto.max_nodes
        return [JobSpec("random_train", {"index": i, "sampler": sampler, "data": self.data,
                                         "trainer": self.trainer}, f"random/{i}")
                for i in range(self.r.samples)]

    def on_result(self, job: Job, result: dict, view: RunView) -> Outcome:
        return Outcome(points=[trained_point(job, result, "random",
                                             {"sample": job.spec["index"]}, result["desc"])])

    def stop_reason(self, view: RunView) -> str | None:
        return f"all {self.r.samples} samples proposed" if view.job_count() else None
