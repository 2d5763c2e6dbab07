"""What every job kind is given and may raise, below both the algorithms and the daemon.

The daemon hands a worker an `Assignment`: which job, under which lease, where its files
live. A job kind reads its spec (a `JobSpecData`), runs with a `JobContext` — its own
directory, a progress file, a stop flag — and ends in a result (a `JobResult`), `JobStopped`
or `JobFailed`. A worker writes only inside the job directory: `progress.json` (rewritten
atomically every few seconds, the daemon's liveness signal), checkpoints, and finally
`result.json`. Specs and results cross processes, and a daemon restart, as flat JSON.
"""
from __future__ import annotations

import dataclasses
import threading
import time
import typing
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from petri.io import atomic_write_json
from petri.rundir import CHECKPOINT, PROGRESS


@dataclass(frozen=True)
class JobData:
    """Typed fields, plus `extra`: keys the fields do not name, which ride along unread (an
    algorithm's bookkeeping in a spec: lineage, parent, index). Stored flat as JSON."""

    extra: dict = field(default_factory=dict, kw_only=True)

    def to_dict(self) -> dict:
        own = {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "extra"}
        return {**self.extra, **own}

    @classmethod
    def from_dict(cls, d: dict):
        """Read back from JSON; a field whose type is a dataclass is rebuilt as one."""
        names = {f.name for f in fields(cls)} - {"extra"}
        missing = sorted(f.name for f in fields(cls) if f.name in names and f.name not in d
                         and f.default is dataclasses.MISSING
                         and f.default_factory is dataclasses.MISSING)
        if missing:
            raise _other_version(f"{cls.__name__} lacks {', '.join(missing)}")
        hints = typing.get_type_hints(cls)
        return cls(**{k: _typed(hints[k], v) for k, v in d.items() if k in names},
                   extra={k: v for k, v in d.items() if k not in names})


class JobSpecData(JobData):
    """A job kind's spec: the algorithm builds it, the job reads it."""


class JobResult(JobData):
    """A job kind's result: the job returns it, the algorithm's `on_result` reads it, and
    `result.json` and the store keep it as JSON."""


def _plain(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def _typed(hint, value):
    """`value` as read from JSON, rebuilt as the dataclass `hint` names (or one of a union)."""
    if not isinstance(value, dict):
        return value
    for cls in (hint, *typing.get_args(hint)):
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            hints = typing.get_type_hints(cls)
            if unknown := sorted(set(value) - set(hints)):
                raise _other_version(f"{cls.__name__} has no {', '.join(unknown)}")
            return cls(**{k: _typed(hints[k], v) for k, v in value.items()})
    return value


def _other_version(what: str) -> JobFailed:
    return JobFailed(f"{what}; the job was made by another petri version: start a new run",
                     "deterministic")


@dataclass(frozen=True)
class Assignment:
    """What the daemon hands a worker (a local process or a Ray actor): one job, one lease."""

    job_id: int
    lease: int
    kind: str
    spec: dict  # the JSON the store holds; the worker reads it as the kind's spec class
    job_dir: Path
    run_dir: Path
    device: str
    progress_every_s: float  # daemon.progress_every_s

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "job_dir": str(self.job_dir),
                "run_dir": str(self.run_dir)}

    @classmethod
    def from_dict(cls, d: dict) -> Assignment:
        return cls(**{**d, "job_dir": Path(d["job_dir"]), "run_dir": Path(d["run_dir"])})


class JobStopped(Exception):
    """The job checkpointed and stopped because the worker was asked to stop."""


class JobFailed(Exception):
    """A failure with a known class: 'deterministic' (do not retry) or 'infra' (retry)."""

    def __init__(self, message: str, fail_class: str = "deterministic"):
        super().__init__(message)
        self.fail_class = fail_class


@dataclass
class JobContext:
    job_id: int
    lease: int
    job_dir: Path
    device: str
    progress_every_s: float  # daemon.progress_every_s
    stop_event: threading.Event = field(default_factory=threading.Event)
    run_dir: Path | None = None  # specs name files relative to it, so a run dir can move
    _last_progress: float = 0.0
    _pulse: threading.Event | None = None  # set to end the repeating of a busy report
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        if self.run_dir is None:
            self.run_dir = self.job_dir.parent.parent  # RUN/jobs/NNNNNN

    @property
    def checkpoint_path(self) -> Path:
        return self.job_dir / CHECKPOINT

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(Path(self.run_dir).resolve()))

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def progress(self, force: bool = False, busy: bool = False, **fields) -> None:
        """Rewrite progress.json at most every `progress_every_s` (always when forced).

        The daemon judges a job by the age of this file, so every phase that can take more
        than a few seconds must report as it goes. `busy` is for what cannot report from
        inside (one long call: loading a dataset, building a model, a cold torch.compile):
        a thread repeats this report, with `busy_since`, until the next report or
        `end_busy`, and the daemon judges the phase by its length (daemon.busy_grace_s).
        """
        self.end_busy()
        t = time.time()
        if not (force or busy or t - self._last_progress >= self.progress_every_s):
            return
        self._last_progress = t
        record = {"job_id": self.job_id, "lease": self.lease, **fields}
        if busy:
            record["busy_since"] = t
        self._write(t, record)
        if busy:
            self._pulse = threading.Event()
            threading.Thread(target=self._repeat, args=(record, self._pulse), daemon=True).start()

    @contextmanager
    def busy(self, phase: str):
        """Report `phase` as busy while the block runs (see `progress`)."""
        self.progress(busy=True, phase=phase)
        try:
            yield
        finally:
            self.end_busy()

    def end_busy(self) -> None:
        """Stop repeating a busy report; none is written after this returns."""
        if self._pulse is not None:
            with self._lock:
                self._pulse.set()
            self._pulse = None

    def _repeat(self, record: dict, ended: threading.Event) -> None:
        while not ended.wait(self.progress_every_s):
            with self._lock:
                if ended.is_set():
                    return
                self._write(time.time(), record)

    def _write(self, t: float, record: dict) -> None:
        atomic_write_json(self.job_dir / PROGRESS, {"t": t, **record}, durable=False)
