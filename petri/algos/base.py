"""The one small interface every search algorithm implements, and the registry of them.

An algorithm never touches SQLite, processes or CUDA. The daemon asks it for work when slots
are idle (`propose`), hands it each finished job (`on_result`), and asks whether the search is
over (`is_done`). Everything it needs to continue after a restart must be derivable from the
store (`RunView`), so it keeps no state of its own that matters.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from petri.job import JobResult
from petri.store.records import Job, JobSpec, PointSpec
from petri.store.view import RunView
from petri.train.job import TrainJobResult


@dataclass
class Outcome:
    """What a finished job leads to, committed with its result in one transaction.

    Attributes:
        points: The points to record (trained models, each with its costs and error).
        jobs: Follow-up jobs to enqueue.
        events: (kind, message) pairs for the run's event log.
    """

    points: list[PointSpec] = field(default_factory=list)
    jobs: list[JobSpec] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)


def trained_point(job: Job, result: TrainJobResult, stage: str, lineage: dict,
                  desc: dict | None = None, **fields) -> PointSpec:
    """The point of a finished training job (`train` kinds and `random_train`)."""
    values = dict(key=f"{job.key}/point", val_error=result.val_error,
                  test_error=result.test_error, params=result.params,
                  macs=result.macs, activation_bytes=result.activation_bytes,
                  desc=desc or job.spec["desc"], lineage=lineage, stage=stage,
                  budget=result.epochs, checkpoint=result.checkpoint)
    return PointSpec(**{**values, **fields})


def job_seed(run_seed: int, key: str, salt: int = 0) -> int:
    """The trainer seed of job `key` in a run seeded `run_seed` (`salt`: the config's
    `trainer.seed`). Two run seeds give every job other weights and batches, so seeds vary
    training noise as well as architectures; a resumed run derives the same ones. 23 bits:
    the trainer takes a seed of any width (`petri.data.loader.step_seed`), but a wider one
    would give every run's jobs other seeds than the runs made so far."""
    digest = hashlib.sha256(f"{run_seed}/{salt}/{key}".encode()).digest()
    return int.from_bytes(digest[:3], "big") >> 1


class Algorithm:
    """A search: built from the whole run config, asked for jobs, told their results.

    It never touches SQLite, processes or CUDA, and keeps no state that matters: after a
    restart everything is derived again from the store (`RunView`).

    Attributes:
        name: The algorithm's name, as in its `AlgoInfo`.
        settings: The config class of each of its own sections (section -> dataclass; the
            sections of its `AlgoInfo`): the config reference lists their fields, and
            `petri resume --set` may change those made with `setting(extendable=True)`
            (its budget and termination keys).
    """

    name = "base"
    settings: dict[str, type] = {}

    def __init__(self, cfg: dict):
        self.cfg = cfg  # the whole run config; each algorithm reads its own sections
        self.seed = int(cfg.get("seed", 0))

    def trainer_for(self, trainer: dict, key: str) -> dict:
        """`trainer` (TrainCfg fields) with the seed of job `key`."""
        return {**trainer, "seed": job_seed(self.seed, key, trainer["seed"])}

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        """Jobs to enqueue now; keys make repeated proposals harmless."""
        return []

    def on_result(self, job: Job, result: JobResult | dict, view: RunView) -> Outcome:
        """Points to record and follow-up jobs, committed with the job in one transaction.
        `result` is the job kind's result class (a dict where its job function declares
        none, see `JobKind`)."""
        return Outcome()

    def stop_reason(self, view: RunView) -> str | None:
        """Why no more work will be proposed (None while the search goes on)."""
        return None

    def point_ordinal(self, job: Job) -> int | None:
        """The plan position (`PointSpec.ordinal`) of the point `job` makes, or of the one
        its result leads to (a Petridish search: the child it grows), known before it runs:
        TensorBoard names a job by that point. None where the plan does not fix it."""
        return None

    def planned_points(self) -> int | None:
        """The most points the run can make, where its config fixes that (`status` shows
        "13 of 20 points" and an ETA); None where it depends on what the jobs find."""
        return None

    def planned_jobs(self) -> int | None:
        """The jobs those planned points take (the ETA counts the jobs left); one each unless
        an algorithm says otherwise."""
        return self.planned_points()

    def is_done(self, view: RunView) -> bool:
        """Done once it proposes nothing more and every job it made has finished."""
        c = view.counts()
        return not c["queued"] and not c["running"] and self.stop_reason(view) is not None

