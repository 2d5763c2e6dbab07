"""`random`: the baseline every search must beat. Architectures drawn uniformly from the same
space as Petridish's seeds and children (macro ranges of `pareto`, nodes up to
`random.max_nodes`), optionally only those inside a cost range, each trained once with the
same recipe; every one becomes a point, so the frontier, `export` and `compare` treat it like
any search. Job i draws its architecture from (run seed, i) and its trainer seed from
(run seed, its key), so runs are reproducible and seeds differ in both.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.algos.random.job import RandomTrainResult, RandomTrainSpec, Sampler
from petri.config import from_mapping, setting
from petri.constraints import Costing, skipped_event
from petri.data.config import DataCfg
from petri.errors import ConfigError
from petri.hull import HullCfg
from petri.data.info import dataset_info
from petri.space.sample import CellSpace, ParetoCfg, cell_setting
from petri.store.records import Job, JobSpec
from petri.store.view import RunView
from petri.train.config import TrainCfg


@dataclass(frozen=True)
class RandomCfg:
    samples: int = setting(20, ge=1, le=1_000_000, extendable=True,
                           help="Architectures to train.")
    channels: int = cell_setting("channels")
    stem_multiplier: int = cell_setting("stem_multiplier")
    edges_per_node: int = cell_setting("edges_per_node")
    max_nodes: int | None = setting(None, ge=1, le=16, help="Nodes per cell are drawn from "
                                                            "pareto.min_nodes to this (null: "
                                                            "pareto.max_nodes).")
    min_cost: float | None = setting(None, ge=0, help="Keep only architectures that cost at "
                                                      "least this on the run's hull.cost.")
    max_cost: float | None = setting(None, gt=0, help="Keep only architectures that cost at "
                                                      "most this on the run's hull.cost.")


class RandomSearch(Algorithm):
    name = "random"
    settings = {"random": RandomCfg, "pareto": ParetoCfg, "hull": HullCfg}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.random = from_mapping(RandomCfg, cfg.get("random"), "random")
        self.pareto = from_mapping(ParetoCfg, cfg.get("pareto"), "pareto")
        hull = from_mapping(HullCfg, cfg.get("hull"), "hull")
        self.pareto.macros()  # the ranges are sane and bounded
        self.metric = hull.metric
        self.data = DataCfg.from_dict(cfg.get("data")).to_dict()
        self.trainer = TrainCfg.from_dict(cfg.get("trainer") or {}).to_dict()
        # Spelled out, not a merge of the two sections: both have max_nodes, and a merge let
        # pareto's (the seeds' node count) silently replace random's.
        nodes = self.pareto.max_nodes if self.random.max_nodes is None else self.random.max_nodes
        if nodes < self.pareto.min_nodes:
            raise ConfigError(f"random.max_nodes ({nodes}) is below pareto.min_nodes "
                              f"({self.pareto.min_nodes})")
        merged = {**asdict(self.pareto), **asdict(self.random), "max_nodes": nodes,
                  "metric": self.metric, "seed": self.seed}
        self.sampler = Sampler(**{f.name: merged[f.name] for f in fields(Sampler)})
        self.costing = Costing.from_cfg(cfg)
        if self.costing.limited:
            self.costing.check_reachable(CellSpace.from_dict(
                asdict(self.sampler), self.costing.input_shape[0],
                dataset_info(self.data["dataset"]).num_classes))

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        # From the samples there are: a run extended to more samples goes on where it ended.
        return [JobSpec("random_train", RandomTrainSpec(
                    index=i, sampler=self.sampler, data=self.data,
                    trainer=self.trainer_for(self.trainer, f"random/{i}"),
                    costing=self.costing).to_dict(),
                        f"random/{i}")
                for i in range(view.job_count(), self.random.samples)]

    def on_result(self, job: Job, result: RandomTrainResult, view: RunView) -> Outcome:
        return Outcome(points=[trained_point(job, result, "random",
                                             {"sample": job.spec["index"]}, result.desc,
                                             ordinal=self.point_ordinal(job))],
                       events=[skipped_event(job.key, result.skipped)] if result.skipped else [])

    def point_ordinal(self, job: Job) -> int:
        return job.spec["index"]

    def stop_reason(self, view: RunView) -> str | None:
        return f"all {self.random.samples} samples proposed" \
            if view.job_count() >= self.random.samples else None

    def planned_points(self) -> int:
        return self.random.samples
