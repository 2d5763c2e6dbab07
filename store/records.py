"""Frozen records that cross the store boundary (the store returns copies, never live rows)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field


def dumps(value, **kw) -> str:
    """JSON that SQLite's json functions accept: Python writes NaN and ±inf bare, which makes
    the whole document malformed to `json_extract`; they are stored as null."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v
    return json.dumps(clean(value), allow_nan=False, **kw)


# The fail class of a job ended by `petri cancel`: not a failure of the job, and not retried
# by `petri retry --failed`.
CANCELLED = "cancelled"


def json_strings(value) -> set[str]:
    """Every string inside the decoded JSON `value` (the files a spec names among them)."""
    if isinstance(value, str):
        return {value}
    inner = value.values() if isinstance(value, dict) else \
        value if isinstance(value, (list, tuple)) else ()
    return set().union(*map(json_strings, inner))


@dataclass(frozen=True)
class JobSpec:
    """Work to enqueue. `key` makes enqueueing idempotent: the same key is one job."""

    kind: str
    spec: dict
    key: str
    priority: int = 0


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    spec: dict
    key: str
    state: str
    priority: int
    attempts: int
    max_attempts: int
    lease: int
    worker: str | None
    device: str | None
    pid: int | None
    pid_start: str | None
    created: float
    started: float | None
    finished: float | None
    fail_class: str | None
    error: str | None
    result: dict | None

    @classmethod
    def from_row(cls, row) -> "Job":
        d = dict(row)
        d["spec"] = json.loads(d["spec"])
        d["result"] = json.loads(d["result"]) if d["result"] else None
        d.pop("not_before", None)
        return cls(**d)


@dataclass(frozen=True)
class PointSpec:
    """A trained model to record. `key` makes ingest idempotent."""

    key: str
    val_error: float | None  # None only where the job kept no validation split
    params: int | None = None
    macs: int | None = None
    activation_bytes: int | None = None
    desc: dict | None = None
    parent: int | None = None
    lineage: dict = field(default_factory=dict)
    stage: str = ""
    budget: float | None = None
    checkpoint: str | None = None
    test_error: float | None = None
    # The point's place in its algorithm's plan (seed i, search n, sample i): its id is
    # ordinal + 1, so identical runs number their points alike whichever job finishes first.
    # None: the next free id, in the order points land.
    ordinal: int | None = None


@dataclass(frozen=True)
class Measured:
    """A point's latency, measured on the run's target after it trained."""

    point_key: str
    latency_ms: float
    latency: dict  # the measurement and its target (`petri.latency.run.Latency` fields)


@dataclass(frozen=True)
class Point:
    id: int
    key: str
    job_id: int | None
    desc: dict | None
    params: int | None
    macs: int | None
    activation_bytes: int | None
    val_error: float | None
    test_error: float | None
    parent: int | None
    lineage: dict
    stage: str | None
    budget: float | None
    checkpoint: str | None
    created: float
    latency_ms: float | None = None  # measured on the run's latency target, once it is
    latency: dict | None = None  # that measurement (`petri.latency.run.Latency` fields)

    @classmethod
    def from_row(cls, row) -> "Point":
        d = dict(row)
        d["desc"] = json.loads(d["desc"]) if d["desc"] else None
        d["lineage"] = json.loads(d["lineage"]) if d["lineage"] else {}
        d["latency"] = json.loads(d["latency"]) if d.get("latency") else None
        return cls(**d)

    def cost(self, metric: str = "macs") -> float | None:
        return getattr(self, metric)
