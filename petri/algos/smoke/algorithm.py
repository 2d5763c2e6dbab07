"""`smoke`: a batch of `sleep_train` jobs, each becoming one point. Exercises the daemon."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.algos.base import Algorithm, Outcome
from petri.algos.smoke.job import SleepTrainResult, SleepTrainSpec
from petri.config import from_mapping, setting
from petri.store.records import Job, JobSpec, PointSpec
from petri.store.view import RunView


@dataclass(frozen=True)
class SmokeCfg:
    jobs: int = setting(4, ge=1, le=100_000, extendable=True, help="Fake training jobs.")
    steps: int = setting(10, ge=1, help="Fake steps of each job.")
    step_time: float = setting(0.01, ge=0, help="Seconds each fake step sleeps.")
    checkpoint_every: int = setting(5, ge=1, help="Steps between a job's checkpoints.")
    # Failure switches for the daemon's tests.
    crash_at: int | None = setting(None, help="The step at which each job's process exits "
                                              "without a result.")
    hang_at: int | None = setting(None, help="The step at which each job stops reporting "
                                             "progress.")
    raise_at: int | None = setting(None, help="The step at which each job raises an error.")


class Smoke(Algorithm):
    name = "smoke"
    settings = {"smoke": SmokeCfg}

    def __init__(self, cfg: dict):
        super().__init__(cfg)
        self.smoke = from_mapping(SmokeCfg, cfg.get("smoke"), "smoke")

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        # From the jobs there are: a run extended to more jobs goes on where it ended.
        settings = {k: v for k, v in asdict(self.smoke).items() if k != "jobs"}
        return [JobSpec("sleep_train", SleepTrainSpec(index=i, seed=self.seed,
                                                      **settings).to_dict(), f"smoke/{i}")
                for i in range(view.job_count(), self.smoke.jobs)]

    def on_result(self, job: Job, result: SleepTrainResult, view: RunView) -> Outcome:
        return Outcome(points=[PointSpec(key=f"{job.key}/point", val_error=result.val_error,
                                         macs=result.macs, params=result.params,
                                         stage="smoke", budget=result.steps,
                                         ordinal=self.point_ordinal(job))])

    def point_ordinal(self, job: Job) -> int:
        return job.spec["index"]

    def planned_points(self) -> int:
        return self.smoke.jobs

    def is_done(self, view: RunView) -> bool:
        c = view.counts()
        return sum(c.values()) >= self.smoke.jobs \
            and not c["queued"] \
            and not c["running"]
