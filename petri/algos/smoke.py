"""`smoke`: a batch of `sleep_train` jobs, each becoming one point. Exercises the daemon."""
from __future__ import annotations

from petri.algos.base import Algorithm, Outcome
from petri.store.records import Job, JobSpec, PointSpec
from petri.store.view import RunView


class Smoke(Algorithm):
    name = "smoke"

    def _specs(self) -> list[JobSpec]:
        c = self.cfg.get("smoke") or {}
        keep = ("steps", "step_time", "checkpoint_every", "crash_at", "hang_at", "raise_at")
        return [JobSpec("sleep_train", {"index": i, "seed": self.seed,
                                        **{k: c[k] for k in keep if k in c}}, f"smoke/{i}")
                for i in range(int(c.get("jobs", 4)))]

    def propose(self, view: RunView, free_slots: int) -> list[JobSpec]:
        return self._specs() if view.job_count() == 0 else []

    def on_result(self, job: Job, result: dict, view: RunView) -> Outcome:
        return Outcome(points=[PointSpec(key=f"{job.key}/point", val_error=result["val_error"],
                                         macs=result["macs"], params=result["params"],
                                         stage="smoke", budget=result["steps"])])

    def is_done(self, view: RunView) -> bool:
        c = view.counts()
        return sum(c.values()) >= int((self.cfg.get("smoke") or {}).get("jobs", 4)) \
            and not c["queued"] \
            and not c["running"]
