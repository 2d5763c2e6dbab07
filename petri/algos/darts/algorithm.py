"""DARTS (first and second order) and PC-DARTS: differentiable search on the daemon.

Jobs: `darts.searches` independent `darts_search` jobs (seeds seed, seed+1, ...), each
training a supernet and deriving one genotype; then a `train` of every distinct derived
network with the run's `trainer` recipe. Each trained network is a point, so the searches
land in the same store, view, export and comparison as Petridish (DARTS' selection protocol
is four searches, keep the best on validation: `searches: 4`).

Sections: `supernet` (the search network), `arch` (the architecture optimiser), `derived`
(the macro of the network a genotype becomes), `search` (trainer overrides for the
supernet's weights), `trainer` (the derived networks' training), `darts` (how many
searches). The variants differ only in their defaults, rows of data in their `AlgoInfo`
(petri/algos/darts/__init__.py): `darts2` unrolls the architecture step (second order);
`pc-darts` searches on 1/K of the channels with edge normalisation, warm-up epochs and Adam
at 6e-4.

`SupernetSearches` is the part other supernet-search algorithms compose (MOOD runs its sweep
of PC-DARTS searches through one): the sections read once, the spec of a search, and what a
finished search or derived training becomes.
"""
from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import asdict, dataclass

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.algos.registry import algo_info
from petri.constraints import EVENT, Costing
from petri.config import from_mapping, setting
from petri.job import JobResult, JobSpecData
from petri.data.config import DataCfg
from petri.errors import ConfigError
from petri.space.desc import ModelDesc
from petri.space.sample import cell_setting
from petri.store.records import Job, JobSpec
from petri.store.view import RunView
from petri.train.config import TrainCfg
from petri.train.job import TrainJobResult, TrainSpec


@dataclass(frozen=True)
class SupernetCfg:
    channels: int = cell_setting("channels")
    cells: int = setting(8, ge=3, le=64, help="Cells of the supernet, its two reductions "
                                              "included.")
    nodes: int = setting(4, ge=1, le=16, help="Nodes of each supernet cell.")
    stem_multiplier: int = cell_setting("stem_multiplier")
    partial: int | None = setting(None, ge=1, help="PC-DARTS' K: the mixed ops see 1/K of the "
                                                   "channels (null: all).")
    # Minutes of compilation per worker on a CPU, then a faster step: BENCHMARKS.md.
    compile: typing.Literal["inductor", "cudagraphs"] | None = setting(
        None, help="Regional torch.compile of the mixed ops (null: eager); cudagraphs also "
                   "replays them as CUDA graphs.")


@dataclass(frozen=True)
class ArchCfg:
    lr: float = setting(3e-4, gt=0, help="Adam's learning rate for the architecture "
                                         "weights α/β.")
    betas: tuple[float, float] = setting((0.5, 0.999), ge=0, lt=1, help="Adam's betas for "
                                                                        "α/β.")
    weight_decay: float = setting(1e-3, ge=0, help="Adam's weight decay on α/β.")
    second_order: bool = setting(False, help="Unroll one weight step for the architecture "
                                             "gradient (DARTS' second order).")
    warmup_epochs: int = setting(0, ge=0, help="Epochs of weight training before α/β start "
                                               "to move.")
    train_portion: float = setting(0.5, gt=0, lt=1, help="Share of the training split that "
                                                         "trains the weights; the rest trains "
                                                         "α/β.")


@dataclass(frozen=True)
class DerivedCfg:
    """The network a genotype becomes (DARTS' CIFAR evaluation network by default)."""

    channels: int = setting(36, ge=1, le=1024, help="Channels of the derived network's "
                                                    "first cell.")
    cells: int = setting(20, ge=1, le=128, help="Cells of the derived network, reductions "
                                                "included.")
    reductions: int = setting(2, ge=0, le=8, help="Reduction cells of the derived network.")
    stem_multiplier: int = cell_setting("stem_multiplier")
    auxiliary: bool = setting(False, help="Give the derived network an auxiliary head, "
                                          "weighted by trainer.aux_weight.")


@dataclass(frozen=True)
class DartsCfg:
    searches: int = setting(1, ge=1, le=1000, extendable=True,
                            help="Independent supernet searches (seeds seed, seed+1, ...); "
                                 "DARTS' protocol runs 4.")


@dataclass(frozen=True)
class Regulariser:
    """MOOD's complexity term: the weights train on (1-ν)·CE + ν·R(θ); no kind, no term."""

    kind: str | None = None  # None, "l1" or "l2"
    nu: float = 0.0


@dataclass(frozen=True)
class DartsSearchSpec(JobSpecData):
    """A `darts_search` job's spec: the algorithm builds it, the job reads it. The config
    classes above hold every default, so none is written again on the job's side (job.py
    imports this and the result from here)."""

    supernet: SupernetCfg
    arch: ArchCfg
    derived: dict  # DerivedCfg fields and the derived desc's name
    data: dict  # DataCfg fields
    trainer: dict  # TrainCfg fields of the weights' optimiser
    regulariser: Regulariser = Regulariser()


@dataclass(frozen=True)
class DartsSearchResult(JobResult):
    """A finished search: its derived genotype, and the two objectives MOOD places it by."""

    desc: dict  # ModelDesc fields of the derived network
    val_error: float | None
    val_loss: float | None  # the supernet's validation cross-entropy
    train_loss: float
    reg: float  # R(θ) of the final weights
    reg_kind: str
    nu: float
    alphas: dict[str, list]  # softmax(α) per edge
    arch_steps: int
    epochs: int
    steps: int
    wall_s: float
    images_per_s: float
    batch_size: int
    form: str  # the fast form it ran in (fastcheck.form_name)
    checkpoint: str  # run-relative


class SupernetSearches:
    """Supernet searches of one variant: `defaults` (section -> field -> value) sit under the
    config's own sections, so a variant is a row of data, not code."""

    # The sections they read (`search`: trainer keys for the supernet's weights).
    settings = {"supernet": SupernetCfg, "arch": ArchCfg, "derived": DerivedCfg,
                "search": TrainCfg}

    def __init__(self, cfg: dict, name: str, defaults: dict):
        self.name = name
        self.seed = int(cfg.get("seed", 0))

        def section(cls, key: str):
            return from_mapping(cls, {**defaults.get(key, {}), **(cfg.get(key) or {})}, key)

        self.supernet = section(SupernetCfg, "supernet")
        self.arch = section(ArchCfg, "arch")
        self.derived = section(DerivedCfg, "derived")
        if self.supernet.partial and self.supernet.channels % self.supernet.partial:
            raise ConfigError(f"supernet.channels ({self.supernet.channels}) must be a multiple "
                              f"of supernet.partial ({self.supernet.partial})")
        self.data = DataCfg.from_dict(cfg.get("data")).to_dict()
        self.costing = Costing.from_cfg(cfg)
        base = dict(cfg.get("trainer") or {})
        self.trainer = TrainCfg.from_dict(base).to_dict()
        self.search_trainer = TrainCfg.from_dict(
            {**base, **defaults.get("search", {}), **(cfg.get("search") or {})}).to_dict()

    def job(self, key: str, index: int, regulariser: Regulariser = Regulariser(),
            trainer: dict | None = None, **extra) -> JobSpec:
        """Search `index` (trainer seed seed + index unless `trainer` says otherwise)."""
        trainer = {**self.search_trainer, "seed": self.search_trainer["seed"] + self.seed + index,
                   **(trainer or {})}
        spec = DartsSearchSpec(
            supernet=self.supernet, arch=self.arch,
            derived={**asdict(self.derived), "name": f"{self.name}-{index}"},
            # DARTS searches without cutout whatever the derived networks train with.
            data={**self.data, "cutout": 0}, trainer=trainer, regulariser=regulariser,
            extra={"index": index, **extra})
        return JobSpec("darts_search", spec.to_dict(), key)

    def on_result(self, job: Job, result: DartsSearchResult | TrainJobResult,
                  view: RunView) -> Outcome:
        """A search releases the train jobs of derived networks (see `released`); a train job
        becomes a point, numbered by the search that derived it."""
        if job.kind == "darts_search":
            outside = self.costing.violation(ModelDesc.from_dict(result.desc))
            return Outcome(jobs=self.released(view, job, result),
                           events=[(EVENT, f"{job.key} derived a network outside the "
                                           f"constraints ({outside}); not trained")]
                           if outside else [])
        return Outcome(points=[trained_point(job, result, self.name, job.spec["lineage"],
                                             ordinal=self.point_ordinal(job))])

    def point_ordinal(self, job: Job) -> int | None:
        """A derived network's train job makes the point of the first search that derived
        it; a search makes a point of its own only if no earlier one found its network, which
        is not known before it runs."""
        if job.kind == "darts_search":
            return None
        return job.spec["lineage"].get("search_index")

    def released(self, view: RunView, job: Job | None = None,
                 result: DartsSearchResult | None = None) -> list[JobSpec]:
        """The train jobs of the finished searches before the first one still in flight
        (`job` finishing with `result`), in index order. Of the searches that derive the same
        network the first by index enqueues it, so its point's id and lineage never depend
        on which search finished first."""
        specs = []
        for s in sorted(view.jobs(kind="darts_search"), key=lambda j: j.spec["index"]):
            if s.state == "failed":
                continue
            if job is not None and s.id == job.id:
                found = result
            elif s.result is not None:
                found = DartsSearchResult.from_dict(s.result)
            else:
                break
            if self.costing.violation(ModelDesc.from_dict(found.desc)) is None:
                specs.append(self._train_derived(s, found))
        return specs

    def waiting(self, view: RunView) -> bool:
        """Whether derived networks wait for their train job: a search that fails releases
        the later ones' at the next proposal, not at a result."""
        known = {j.key for j in view.jobs(kind="train")}
        return any(spec.key not in known for spec in self.released(view))

    def _train_derived(self, job: Job, result: DartsSearchResult) -> JobSpec:
        """Keyed by the derived cells: searches that find the same genotype share one job
        (enqueueing is idempotent by key)."""
        cells = hashlib.sha256(_cells(result.desc).encode()).hexdigest()[:16]
        search = DartsSearchSpec.from_dict(job.spec)
        lineage = {"search": job.key, "search_index": search.extra["index"],
                   "search_seed": search.trainer["seed"],
                   "supernet_val_error": result.val_error}
        reg = search.regulariser
        if reg.kind:
            lineage |= {"nu": reg.nu, "regulariser": reg.kind}
        spec = TrainSpec(desc=result.desc, data=self.data, trainer=self.trainer,
                         extra={"lineage": lineage})
        return JobSpec("train", spec.to_dict(), f"{self.name}/train/{cells}")


def _cells(desc: dict) -> str:
    """What makes two derived networks the same: their cells (the macro is shared)."""
    return json.dumps([desc["normal"], desc["reduce"]], sort_keys=True)


class Darts(Algorithm):
    """Every variant: the run's `algo` names its row (darts, darts2, pc-darts), whose
    defaults the searches read."""

    name = "darts"
    settings = {"darts": DartsCfg, **SupernetSearches.settings}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        variant = algo_info(cfg["algo"])
        self.name = variant.name
        self.searches = SupernetSearches(cfg, self.name, variant.defaults)
        self.darts = from_mapping(DartsCfg, cfg.get("darts"), "darts")

    def _proposed(self, view: RunView) -> int:
        return len(view.jobs(kind="darts_search"))

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        # The searches not yet proposed: all at first, more once `darts.searches` is extended.
        return self.searches.released(view) + [
            self.searches.job(f"{self.name}/{i}", i)
            for i in range(self._proposed(view), self.darts.searches)]

    def on_result(self, job: Job, result: DartsSearchResult | TrainJobResult,
                  view: RunView) -> Outcome:
        return self.searches.on_result(job, result, view)

    def point_ordinal(self, job: Job) -> int | None:
        return self.searches.point_ordinal(job)

    def stop_reason(self, view: RunView) -> str | None:
        if self._proposed(view) < self.darts.searches or self.searches.waiting(view):
            return None
        return f"all {self.darts.searches} searches proposed"

