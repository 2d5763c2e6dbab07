"""`RunStore`: the one object through which a run's queue, points, events and meta are written.

The contract every caller may rely on (and tests/store/test_contract.py checks, on a file and
in memory):

- **One writer.** Only the daemon writes, through one `RunStore`. Readers (`status`, `watch`,
  `export`, algorithms through `RunView`) see committed state only and never block it.
- **Each write is one transaction**: it lands whole or not at all. SQLite errors surface as
  `StoreError` with a message a user can act on (a full disk says so); nothing half-written.
- **Idempotent keys.** `enqueue` adds only jobs whose `key` is new; points with a known key
  are skipped. Repeating a proposal or an ingest changes nothing.
- **Point ids follow the plan, not the clock.** A point whose spec has an `ordinal` gets id
  ordinal + 1, whenever it lands; one without gets the next free id. Two keys claiming one id
  fail the write (`StoreError`) instead of dropping a point. A run created before planned
  ids keeps giving the next free id, so resuming it cannot clash.
- **Claims are fenced.** `claim` moves the best ready job (queued, `not_before` passed,
  highest priority, then lowest id) to running, bumps its lease and counts an attempt.
  `complete`, `fail` and `release` act only for the current lease of a running job; for a
  stale or repeated delivery they change nothing and return False / None.
- **Results land with their consequences**: `complete` marks the job done, inserts its points
  and enqueues its follow-up jobs in the same transaction.
- **Retries**: `fail` requeues an `infra` failure with exponential backoff until the job's
  `max_attempts`, and fails a `deterministic` one at once; `release` requeues without
  spending the attempt (a clean stop or a restart).
- **Copies out.** Every record returned is a frozen dataclass; nothing returned is live.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from petri.store import db, jobs
from petri.store.records import Job, JobSpec, PointSpec
from petri.store.view import RunView


class RunStore:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.view = RunView(conn)

    @classmethod
    def open(cls, run_dir: str | Path, create: bool = False) -> "RunStore":
        """The store of RUN (`create` only for a new run: see `db.connect`)."""
        return cls(db.connect(run_dir, create=create))

    @classmethod
    def memory(cls) -> "RunStore":
        """A throw-away store with the same schema and rules, for tests and planning."""
        return cls(db.connect_memory())

    def close(self) -> None:
        self.conn.close()

    # ---- the queue ---------------------------------------------------------------------
    def enqueue(self, specs: list[JobSpec], max_attempts: int = 3) -> int:
        return jobs.enqueue(self.conn, specs, max_attempts)

    def claim(self, worker: str, device: str, pid: int | None = None,
              pid_start: str | None = None) -> Job | None:
        return jobs.claim(self.conn, worker, device, pid, pid_start)

    def complete(self, job_id: int, lease: int, result: dict, points: list[PointSpec],
                 follow_ups: list[JobSpec], max_attempts: int = 3) -> bool:
        return jobs.complete(self.conn, job_id, lease, result, points, follow_ups, max_attempts)

    def fail(self, job_id: int, lease: int, fail_class: str, error: str,
             backoff_s: float = 1.0) -> str | None:
        return jobs.fail(self.conn, job_id, lease, fail_class, error, backoff_s)

    def release(self, job_id: int, lease: int, why: str) -> bool:
        return jobs.release(self.conn, job_id, lease, why)

    def has_ready(self, now: float | None = None) -> bool:
        """Whether a queued job may be claimed now."""
        return jobs.has_ready(self.conn, time.time() if now is None else now)

    def get(self, job_id: int) -> Job | None:
        return jobs.get(self.conn, job_id)

    def running(self) -> list[Job]:
        return jobs.running(self.conn)

    def ids(self) -> set[int]:
        return jobs.ids(self.conn)

    # ---- run-level facts ------------------------------------------------------------------
    def set_meta(self, **values) -> None:
        with db.transaction(self.conn):
            jobs.set_meta(self.conn, values)

    def log_event(self, kind: str, message: str, job_id: int | None = None) -> None:
        with db.transaction(self.conn):
            jobs.log_event(self.conn, kind, message, job_id)
