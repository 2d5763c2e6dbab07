"""`sleep_train`: a job that pretends to train, for testing the daemon without torch.

It takes `steps` fake steps of `step_time` seconds, checkpoints every `checkpoint_every`
steps (a JSON file written atomically), appends each executed step to `steps.log` so tests
can count the work really done, and returns a deterministic fake result. Switches for
testing failure handling: `crash_at` (the process exits without a result), `hang_at` (stops
reporting progress), `raise_at` (a deterministic error).
"""
from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass

from petri.job import JobContext, JobResult, JobSpecData, JobStopped
from petri.io import atomic_write_json, read_json


@dataclass(frozen=True)
class SleepTrainSpec(JobSpecData):
    """`SmokeCfg`'s settings (which hold the defaults) for job `index` of a run seeded `seed`."""

    index: int
    seed: int
    steps: int
    step_time: float
    checkpoint_every: int
    crash_at: int | None
    hang_at: int | None
    raise_at: int | None


@dataclass(frozen=True)
class SleepTrainResult(JobResult):
    val_error: float
    macs: int
    params: int
    steps: int


def fake_error(seed: int, index: int) -> tuple[float, int]:
    """A deterministic (val_error, macs) pair that lies on a rough error-cost trade-off."""
    h = int(hashlib.sha256(f"{seed}/{index}".encode()).hexdigest()[:8], 16) / 2 ** 32
    macs = int(1e6 * (1 + 9 * h))
    return round(0.05 + 0.3 / (1 + macs / 1e6) + 0.02 * h, 6), macs


def run(spec: SleepTrainSpec, ctx: JobContext) -> SleepTrainResult:
    steps, step_time, every = spec.steps, spec.step_time, spec.checkpoint_every
    ckpt = ctx.job_dir / "checkpoint.json"
    state = read_json(ckpt, {"step": 0})
    step = int(state["step"])
    with open(ctx.job_dir / "steps.log", "a") as log:
        while step < steps:
            if ctx.should_stop():
                atomic_write_json(ckpt, {"step": step})
                raise JobStopped(f"stopped at step {step}")
            if step == spec.crash_at:
                os._exit(3)
            if step == spec.hang_at:
                while True:  # no progress, no exit: the daemon must notice and kill us
                    time.sleep(1)
            if step == spec.raise_at:
                raise ValueError(f"sleep_train told to fail at step {step}")
            time.sleep(step_time)
            step += 1
            log.write(f"{step}\n")
            log.flush()
            if step % every == 0:
                atomic_write_json(ckpt, {"step": step})
            ctx.progress(step=step, total_steps=steps, loss=1.0 / step, phase="train",
                         eta_s=(steps - step) * step_time)
    atomic_write_json(ckpt, {"step": step})
    err, macs = fake_error(spec.seed, spec.index)
    return SleepTrainResult(val_error=err, macs=macs, params=macs // 100, steps=steps)
