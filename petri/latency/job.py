"""`measure`: a trained point's latency on the run's target, taken while nothing else runs
on that device (the kind is exclusive: `petri.algos.registry.EXCLUSIVE_KINDS`), so training
never disturbs the figure. Cached per (desc, target, batch, threads, input shape) by
`petri.latency.run`."""
from __future__ import annotations

from dataclasses import dataclass

from petri.job import JobContext, JobResult, JobSpecData
from petri.latency.target import Target
from petri.store.records import JobSpec, Measured, Point, PointSpec
from petri.store.view import RunView

MEASURE = "measure"
PRIORITY = 1  # before training: a measurement waits for its device to be free of it


@dataclass(frozen=True)
class MeasureSpec(JobSpecData):
    point_key: str
    desc: dict  # ModelDesc fields
    target: Target
    input_shape: list[int]


@dataclass(frozen=True)
class MeasureResult(JobResult):
    point_key: str
    latency_ms: float  # the median
    latency: dict  # `Latency` fields: timings, protocol, the target described


def measure_key(point_key: str) -> str:
    return f"{MEASURE}/{point_key}"


def measure_jobs(points: list[PointSpec], target: Target, input_shape) -> list[JobSpec]:
    """A measurement of every point that has a desc."""
    return [JobSpec(MEASURE, MeasureSpec(point_key=p.key, desc=p.desc, target=target,
                                         input_shape=list(input_shape)).to_dict(),
                    measure_key(p.key), PRIORITY)
            for p in points if p.desc is not None]


def measured(result: MeasureResult) -> Measured:
    return Measured(result.point_key, result.latency_ms, result.latency)


def awaiting(points: list[Point], view: RunView) -> bool:
    """Whether a point's measurement is still to come (queued, running, or not yet made):
    a search that ranks by latency waits for it rather than rank without it."""
    jobs = {j.key: j for j in view.jobs(kind=MEASURE)}
    for p in points:
        job = jobs.get(measure_key(p.key))
        if p.latency_ms is None and p.desc is not None and (job is None or job.state != "failed"):
            return True
    return False


def run(spec: MeasureSpec, ctx: JobContext) -> MeasureResult:
    from petri.latency.run import measure_desc
    from petri.space.desc import ModelDesc

    with ctx.busy("measuring the latency"):
        latency = measure_desc(ModelDesc.from_dict(spec.desc), spec.target,
                               tuple(spec.input_shape))
    return MeasureResult(point_key=spec.point_key, latency_ms=latency.timings.median_ms,
                         latency=latency.to_dict())
