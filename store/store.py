"""`RunStore`: the one way into a run's store: its queue, points, events and meta.

Every module outside `store/` reads and writes the database through a `RunStore` (algorithms
through its `RunView`); none opens the file itself. The contract every caller may rely on
(and tests/store/test_contract.py checks, on a file and in memory):

- **One writer.** Only the daemon writes, through one `RunStore`. Readers (`status`, `watch`,
  `export`, `compare`) open it with `readonly=True`, see committed state only and never block
  the writer. A `RunStore` is used by one thread at a time. A command that changes a run
  (`petri retry`, `cancel`, `resume --set`: petri/life.py) does not write beside a live
  daemon: it leaves a request in `RunDir.requests` that the daemon carries out in its loop,
  and only where no daemon runs does it write the store itself, holding the run's lock.
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
  stale or repeated delivery they change nothing and return False / None. So a job runs at
  least once and its effects land exactly once.
- **Results land with their consequences**: `complete` marks the job done, inserts its points
  and enqueues its follow-up jobs in the same transaction.
- **Retries**: `fail` requeues an `infra` failure with exponential backoff until the job's
  `max_attempts`, and fails a `deterministic` one at once; `release` requeues without
  spending the attempt (a clean stop or a restart). `retry` puts failed jobs back with
  fresh attempts; `cancel` ends queued or running ones as failed, class `cancelled`, so a
  running one's result is fenced like a stale lease's. Either changes all the jobs it is
  given or, for an unknown job or one in the wrong state, none.
- **Copies out.** Every record returned is a frozen dataclass; nothing returned is live.
- **Damage is refused, never repaired.** A missing, empty, foreign, newer or corrupt file is
  a `StoreError` at `open` that names the fix, and the file keeps every byte it had.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from petri.errors import StoreError
from petri.rundir import RunDir
from petri.store import db
from petri.store.records import CANCELLED, Job, JobSpec, Measured, PointSpec, dumps
from petri.store.view import RunView


class RunStore:
    """A run's store on one connection; open it with `open` (or `memory`), not directly."""

    def __init__(self, conn: sqlite3.Connection, path: str, readonly: bool = False):
        self.conn = conn
        self.path = path
        self.readonly = readonly
        self.view = RunView(conn)

    @classmethod
    def open(cls, run_dir: str | Path, readonly: bool = False, create: bool = False,
             verify: bool = False) -> "RunStore":
        """The store of the run at `run_dir` (its file is `RunDir.db`).

        `readonly`: for every reader; it writes nothing, not even a WAL on read-only media.
        `create`: only for a new run, whose missing or empty file gets the schema. `verify`
        reads every page first (a full read: for one-off commands, not for polling).
        Raises `StoreError`, leaving the file as it was, for a missing store (naming the runs
        below `run_dir` where it holds some), a file that is empty, not SQLite, not petri's,
        written by a newer petri or corrupt, and for a writer on a network filesystem.
        """
        path = RunDir(run_dir).db
        store = cls(db.connect(path, readonly=readonly, create=create), str(path), readonly)
        if verify:
            try:
                problem = store.conn.execute("PRAGMA quick_check").fetchone()[0]
            except sqlite3.DatabaseError as e:
                problem = str(e)
            if problem != "ok":
                store.close()
                raise store._damaged(problem)
        return store

    @classmethod
    def memory(cls) -> "RunStore":
        """A throw-away store with the same schema and rules, for tests and planning."""
        return cls(db.connect_memory(), ":memory:")

    def close(self) -> None:
        """Release the connection; the store may not be used afterwards."""
        self.conn.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, kind, error, tb) -> None:
        """Closes the store. An SQLite error read inside the block (a page damaged since the
        store was opened) becomes one `StoreError` naming the file and the fix."""
        self.close()
        if isinstance(error, sqlite3.DatabaseError):
            raise self._damaged(error) from None

    def copy_to(self, path: str | Path) -> None:
        """Write a consistent copy of the store, as committed now, to the new file `path`:
        one file (no WAL), which a reader opens as it opens a run's store. Safe while the
        daemon writes (SQLite's online backup). Raises `StoreError` where it cannot write."""
        try:
            with sqlite3.connect(path) as dest:
                self.conn.backup(dest)
                dest.execute("PRAGMA journal_mode = DELETE")
            dest.close()
        except sqlite3.Error as e:
            raise StoreError(f"cannot copy {self.path} to {path}: {e}") from None

    def _damaged(self, problem) -> StoreError:
        return StoreError(f"{self.path} is damaged ({problem}); it was left untouched: restore "
                          f"it from a backup (the checkpoints in jobs/ are separate files)")

    def _transaction(self):
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only; only the run's daemon writes it")
        return db.transaction(self.conn)

    # ---- the queue ---------------------------------------------------------------------
    def enqueue(self, specs: list[JobSpec], max_attempts: int = 3) -> int:
        """Queue the jobs of `specs` whose keys are new, each allowed `max_attempts` claims;
        returns how many were added (0 for a repeated proposal). Raises `StoreError` where
        the write fails (nothing is added) or the store is read-only."""
        with self._transaction():
            return self._insert_jobs(specs, max_attempts)

    def claim(self, worker: str, device: str, pid: int | None = None,
              pid_start: str | None = None) -> Job | None:
        """Move the best ready job to running for `worker` on `device` (run by process `pid`,
        started at `pid_start`, where the daemon knows it): its lease is bumped and the
        attempt counted and recorded. Returns the job as claimed, or None when nothing is
        ready. Raises `StoreError` where the write fails or the store is read-only."""
        with self._transaction():
            t = time.time()
            row = self.conn.execute(
                "UPDATE jobs SET state = 'running', lease = lease + 1, attempts = attempts + 1, "
                "worker = ?, device = ?, pid = ?, pid_start = ?, started = ?, error = NULL "
                "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND not_before <= ? "
                "            ORDER BY priority DESC, id LIMIT 1) "
                "RETURNING *", (worker, device, pid, pid_start, t, t)).fetchone()
            if row is None:
                return None
            job = Job.from_row(row)
            self.conn.execute("INSERT INTO attempts (job_id, n, lease, worker, device, started) "
                              "VALUES (?, ?, ?, ?, ?, ?)",
                              (job.id, job.attempts, job.lease, worker, device, t))
            return job

    def complete(self, job_id: int, lease: int, result: dict, points: list[PointSpec],
                 follow_ups: list[JobSpec], max_attempts: int = 3, events: list[tuple] = (),
                 measured: Measured | None = None) -> bool:
        """Mark the job done with `result`, insert its `points`, queue its `follow_ups`, log
        its `events` ((kind, message) pairs) and record the latency it `measured`, all in
        one transaction. Returns False, changing nothing, for a stale lease or a job
        no longer running. Raises `StoreError`, landing nothing, where two points claim one
        id, a point names a parent that does not exist, the write fails or the store is
        read-only."""
        with self._transaction():
            job = self._running_job(job_id, lease)
            if job is None:
                return False
            self.conn.execute("UPDATE jobs SET state = 'done', finished = ?, result = ?, "
                              "fail_class = NULL, error = NULL WHERE id = ?",
                              (time.time(), dumps(result), job_id))
            self._end_attempt(job, "ok", None)
            self._insert_points(job_id, points)
            self._insert_jobs(follow_ups, max_attempts)
            if measured is not None:
                self.conn.execute("UPDATE points SET latency_ms = ?, latency = ? WHERE key = ?",
                                  (measured.latency_ms, dumps(measured.latency),
                                   measured.point_key))
            for kind, message in events:
                self._event(kind, message, job_id)
            self._event("done", f"{job.kind} #{job_id} done", job_id)
            return True

    def fail(self, job_id: int, lease: int, fail_class: str, error: str,
             backoff_s: float = 1.0) -> str | None:
        """Record a failed attempt with its `error`. An `infra` failure is requeued, claimable
        after `backoff_s` · 2^(attempts - 1) seconds, until the job's `max_attempts`; any
        other `fail_class` fails the job at once. Returns the job's new state ('queued' or
        'failed'), or None, changing nothing, for a stale lease or a job no longer running.
        Raises `StoreError` where the write fails or the store is read-only."""
        with self._transaction():
            job = self._running_job(job_id, lease)
            if job is None:
                return None
            self._end_attempt(job, fail_class, error)
            if fail_class == "infra" and job.attempts < job.max_attempts:
                delay = backoff_s * 2 ** (job.attempts - 1)
                self.conn.execute("UPDATE jobs SET state = 'queued', not_before = ?, "
                                  "fail_class = ?, error = ?, pid = NULL WHERE id = ?",
                                  (time.time() + delay, fail_class, error, job_id))
                self._event("retry", f"{job.kind} #{job_id} attempt {job.attempts} failed "
                            f"({fail_class}); retrying in {delay:.0f}s: {_last_line(error)}",
                            job_id)
                return "queued"
            self.conn.execute("UPDATE jobs SET state = 'failed', finished = ?, fail_class = ?, "
                              "error = ?, pid = NULL WHERE id = ?",
                              (time.time(), fail_class, error, job_id))
            self._event("failed", f"{job.kind} #{job_id} failed after {job.attempts} "
                        f"attempt(s) ({fail_class}): {_last_line(error)}", job_id)
            return "failed"

    def release(self, job_id: int, lease: int, why: str) -> bool:
        """Put a running job back in the queue, claimable at once and without spending its
        attempt (a clean stop or a restart), recording `why`. Returns False, changing
        nothing, for a stale lease or a job no longer running. Raises `StoreError` where the
        write fails or the store is read-only."""
        with self._transaction():
            job = self._running_job(job_id, lease)
            if job is None:
                return False
            self._end_attempt(job, "stopped", why)
            self.conn.execute("UPDATE jobs SET state = 'queued', attempts = attempts - 1, "
                              "pid = NULL, not_before = 0 WHERE id = ?", (job_id,))
            self._event("stopped", f"{job.kind} #{job_id} requeued: {why}", job_id)
            return True

    def retry(self, job_ids: list[int] | None = None) -> list[Job]:
        """Put failed jobs back in the queue, claimable at once with all their attempts
        again (after fixing what made them fail): those of `job_ids`, cancelled ones
        included, or with None every failed job that was not cancelled. Returns them as
        queued, by id. Raises `StoreError`, changing nothing, for an unknown job, one that is
        not failed, a failed write or a read-only store."""
        with self._transaction():
            if job_ids is None:
                jobs = [j for j in self.view.jobs(state="failed") if j.fail_class != CANCELLED]
            else:
                jobs = self._jobs_in(job_ids, ("failed",), "retried: only a failed job can be")
            for job in jobs:
                self.conn.execute("UPDATE jobs SET state = 'queued', attempts = 0, "
                                  "not_before = 0, finished = NULL, fail_class = NULL, "
                                  "error = NULL WHERE id = ?", (job.id,))
                self._event("retry", f"{job.kind} #{job.id} put back with fresh attempts "
                            f"(it had ended: {_last_line(job.error)})", job.id)
            return [self.get(j.id) for j in jobs]

    def cancel(self, job_ids: list[int], why: str) -> list[Job]:
        """End the queued or running jobs `job_ids` as failed, class `cancelled`, recording
        `why`: a running one's attempt ends, and its result, should it still arrive, is
        fenced (`complete`, `fail` and `release` change nothing). Stopping its worker is the
        caller's part. Returns the jobs as they were before, by id. Raises `StoreError`,
        changing nothing, for an unknown job, one already ended, a failed write or a
        read-only store."""
        with self._transaction():
            jobs = self._jobs_in(job_ids, ("queued", "running"),
                                 "cancelled: only a queued or running job can be")
            for job in jobs:
                if job.state == "running":
                    self._end_attempt(job, CANCELLED, why)
                self.conn.execute("UPDATE jobs SET state = 'failed', finished = ?, "
                                  "fail_class = ?, error = ?, pid = NULL WHERE id = ?",
                                  (time.time(), CANCELLED, why, job.id))
                self._event("cancel", f"{job.kind} #{job.id} cancelled ({job.state}): {why}",
                            job.id)
            return jobs

    def has_ready(self, now: float | None = None, kinds: frozenset[str] | None = None) -> bool:
        """Whether `claim` would find a job at time `now` (default: now), of one of `kinds`
        where given."""
        sql, args = "SELECT 1 FROM jobs WHERE state = 'queued' AND not_before <= ?", [
            time.time() if now is None else now]
        if kinds is not None:
            sql += f" AND kind IN ({', '.join('?' * len(kinds))})"
            args += sorted(kinds)
        return self.conn.execute(sql + " LIMIT 1", args).fetchone() is not None

    def get(self, job_id: int) -> Job | None:
        """The job `job_id` as committed, None where there is none."""
        row = self.conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return Job.from_row(row) if row else None

    def running(self) -> list[Job]:
        """The jobs in state running, by id (claimed and neither ended nor released)."""
        return self.view.jobs(state="running")

    def ids(self) -> set[int]:
        """The id of every job the store holds, in any state."""
        return self.view.ids()

    # ---- run-level facts ------------------------------------------------------------------
    def set_meta(self, **values) -> None:
        """Set each run-level fact `key=value` (stored as text), in one transaction. Raises
        `StoreError` where the write fails or the store is read-only."""
        with self._transaction():
            for k, v in values.items():
                self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                                  "DO UPDATE SET value = excluded.value", (k, str(v)))

    def log_event(self, kind: str, message: str, job_id: int | None = None) -> None:
        """Append an event (shown by `status` and `watch`). Raises `StoreError` where the
        write fails or the store is read-only."""
        with self._transaction():
            self._event(kind, message, job_id)

    # ---- inside a transaction -----------------------------------------------------------
    def _event(self, kind: str, message: str, job_id: int | None) -> None:
        self.conn.execute("INSERT INTO events (t, kind, job_id, message) VALUES (?, ?, ?, ?)",
                          (time.time(), kind, job_id, message))

    def _insert_jobs(self, specs: list[JobSpec], max_attempts: int) -> int:
        n = 0
        for s in specs:
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO jobs (kind, spec, key, priority, max_attempts, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (s.kind, dumps(s.spec, sort_keys=True), s.key, s.priority, max_attempts,
                 time.time()))
            n += cur.rowcount
        return n

    def _insert_points(self, job_id: int, points: list[PointSpec]) -> None:
        """A point with an `ordinal` gets id ordinal + 1 (in runs created with planned ids:
        see schema.sql); an id already taken by another key is an algorithm numbering two
        points alike, and fails the transaction rather than drop one."""
        planned = self.view.numbers_by_plan()
        for p in points:
            if self.conn.execute("SELECT 1 FROM points WHERE key = ?", (p.key,)).fetchone():
                continue
            point_id = p.ordinal + 1 if planned and p.ordinal is not None else None
            if point_id is not None and (taken := self.conn.execute(
                    "SELECT key FROM points WHERE id = ?", (point_id,)).fetchone()):
                raise StoreError(f"point {p.key!r} and point {taken[0]!r} both claim id "
                                 f"{point_id}; the algorithm must give each point its own "
                                 f"ordinal")
            self.conn.execute(
                "INSERT INTO points (id, key, job_id, desc, params, macs, activation_bytes, "
                "val_error, test_error, parent, lineage, stage, budget, checkpoint, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (point_id, p.key, job_id, dumps(p.desc) if p.desc is not None else None,
                 p.params, p.macs, p.activation_bytes, p.val_error, p.test_error, p.parent,
                 dumps(p.lineage), p.stage, p.budget, p.checkpoint, time.time()))

    def _jobs_in(self, job_ids: list[int], states: tuple[str, ...], refusal: str) -> list[Job]:
        """The jobs `job_ids` (by id, each once), all in one of `states`; else a StoreError
        naming the first that is unknown or in another state."""
        jobs = []
        for job_id in sorted(set(job_ids)):
            job = self.get(job_id)
            if job is None:
                raise StoreError(f"the run has no job {job_id}; `petri status` lists its "
                                 f"failed and running jobs")
            if job.state not in states:
                raise StoreError(f"job {job_id} ({job.kind}) is {job.state}, so it cannot be "
                                 f"{refusal}")
            jobs.append(job)
        return jobs

    def _running_job(self, job_id: int, lease: int) -> Job | None:
        """The job if it is running under `lease`; None fences a stale or repeated delivery."""
        job = self.get(job_id)
        return job if job is not None and job.state == "running" and job.lease == lease \
            else None

    def _end_attempt(self, job: Job, outcome: str, error: str | None) -> None:
        self.conn.execute("UPDATE attempts SET ended = ?, outcome = ?, error = ? "
                          "WHERE job_id = ? AND lease = ?",
                          (time.time(), outcome, error, job.id, job.lease))


def _last_line(text: str) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
