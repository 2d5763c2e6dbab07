"""The job queue: enqueue, claim, finish, fail and requeue, each one transaction.

Semantics: a job runs at least once; its effects land exactly once. Claiming bumps the lease
(a fencing token) and counts the attempt; a result is accepted only with the current lease
and only while the job is running, so a stale or repeated delivery changes nothing.
"""
from __future__ import annotations

import sqlite3
import time

from petri.store.db import transaction
from petri.store.points import insert_points
from petri.store.records import Job, JobSpec, PointSpec, dumps


def now() -> float:
    return time.time()


def log_event(conn: sqlite3.Connection, kind: str, message: str, job_id: int | None = None) -> None:
    conn.execute("INSERT INTO events (t, kind, job_id, message) VALUES (?, ?, ?, ?)",
                 (now(), kind, job_id, message))


def _insert_jobs(conn: sqlite3.Connection, specs: list[JobSpec], max_attempts: int) -> int:
    n = 0
    for s in specs:
        cur = conn.execute(
            "INSERT OR IGNORE INTO jobs (kind, spec, key, priority, max_attempts, created) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (s.kind, dumps(s.spec, sort_keys=True), s.key, s.priority, max_attempts, now()))
        n += cur.rowcount
    return n


def enqueue(conn: sqlite3.Connection, specs: list[JobSpec], max_attempts: int = 3) -> int:
    """Add jobs whose keys are new; returns how many were added."""
    with transaction(conn):
        return _insert_jobs(conn, specs, max_attempts)


def claim(conn: sqlite3.Connection, worker: str, device: str, pid: int | None = None,
          pid_start: str | None = None) -> Job | None:
    """Move the best ready job to running for `worker`; None when nothing is ready."""
    with transaction(conn):
        row = conn.execute(
            "UPDATE jobs SET state = 'running', lease = lease + 1, attempts = attempts + 1, "
            "worker = ?, device = ?, pid = ?, pid_start = ?, started = ?, error = NULL "
            "WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND not_before <= ? "
            "            ORDER BY priority DESC, id LIMIT 1) "
            "RETURNING *", (worker, device, pid, pid_start, now(), now())).fetchone()
        if row is None:
            return None
        job = Job.from_row(row)
        conn.execute("INSERT INTO attempts (job_id, n, lease, worker, device, started) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (job.id, job.attempts, job.lease, worker, device, now()))
        return job


def get(conn: sqlite3.Connection, job_id: int) -> Job | None:
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return Job.from_row(row) if row else None


def has_ready(conn: sqlite3.Connection, at: float) -> bool:
    return conn.execute("SELECT 1 FROM jobs WHERE state = 'queued' AND not_before <= ? LIMIT 1",
                        (at,)).fetchone() is not None


def set_meta(conn: sqlite3.Connection, values: dict) -> None:
    """Inside the caller's transaction."""
    for k, v in values.items():
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) "
                     "DO UPDATE SET value = excluded.value", (k, str(v)))


def ids(conn: sqlite3.Connection) -> set[int]:
    return {r[0] for r in conn.execute("SELECT id FROM jobs")}


def running(conn: sqlite3.Connection) -> list[Job]:
    return [Job.from_row(r) for r in conn.execute("SELECT * FROM jobs WHERE state = 'running'")]


def _running_job(conn: sqlite3.Connection, job_id: int, lease: int) -> Job | None:
    """The job if it is running under `lease`; None fences a stale or repeated delivery."""
    row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None or row["state"] != "running" or row["lease"] != lease:
        return None
    return Job.from_row(row)


def _end_attempt(conn, job: Job, outcome: str, error: str | None) -> None:
    conn.execute("UPDATE attempts SET ended = ?, outcome = ?, error = ? "
                 "WHERE job_id = ? AND lease = ?", (now(), outcome, error, job.id, job.lease))


def complete(conn: sqlite3.Connection, job_id: int, lease: int, result: dict,
             points: list[PointSpec], follow_ups: list[JobSpec], max_attempts: int = 3) -> bool:
    """Finish a job, insert its points and enqueue follow-ups in one transaction.

    Returns False (and changes nothing) for a stale lease or a job no longer running.
    """
    with transaction(conn):
        job = _running_job(conn, job_id, lease)
        if job is None:
            return False
        conn.execute("UPDATE jobs SET state = 'done', finished = ?, result = ?, fail_class = NULL, "
                     "error = NULL WHERE id = ?", (now(), dumps(result), job_id))
        _end_attempt(conn, job, "ok", None)
        insert_points(conn, job_id, points)
        _insert_jobs(conn, follow_ups, max_attempts)
        log_event(conn, "done", f"{job.kind} #{job_id} done", job_id)
        return True


def fail(conn: sqlite3.Connection, job_id: int, lease: int, fail_class: str, error: str,
         backoff_s: float = 1.0) -> str | None:
    """Record a failed attempt. Infra failures are requeued with exponential backoff until
    `max_attempts`; deterministic ones fail the job at once. Returns the new state, or None
    for a stale lease."""
    with transaction(conn):
        job = _running_job(conn, job_id, lease)
        if job is None:
            return None
        _end_attempt(conn, job, fail_class, error)
        retry = fail_class == "infra" and job.attempts < job.max_attempts
        if retry:
            delay = backoff_s * 2 ** (job.attempts - 1)
            conn.execute("UPDATE jobs SET state = 'queued', not_before = ?, fail_class = ?, "
                         "error = ?, pid = NULL WHERE id = ?",
                         (now() + delay, fail_class, error, job_id))
            log_event(conn, "retry", f"{job.kind} #{job_id} attempt {job.attempts} failed "
                      f"({fail_class}); retrying in {delay:.0f}s: {_first_line(error)}", job_id)
            return "queued"
        conn.execute("UPDATE jobs SET state = 'failed', finished = ?, fail_class = ?, error = ?, "
                     "pid = NULL WHERE id = ?", (now(), fail_class, error, job_id))
        log_event(conn, "failed", f"{job.kind} #{job_id} failed after {job.attempts} "
                  f"attempt(s) ({fail_class}): {_first_line(error)}", job_id)
        return "failed"


def release(conn: sqlite3.Connection, job_id: int, lease: int, why: str) -> bool:
    """Put a running job back in the queue without spending its attempt (a clean stop)."""
    with transaction(conn):
        job = _running_job(conn, job_id, lease)
        if job is None:
            return False
        _end_attempt(conn, job, "stopped", why)
        conn.execute("UPDATE jobs SET state = 'queued', attempts = attempts - 1, pid = NULL, "
                     "not_before = 0 WHERE id = ?", (job_id,))
        log_event(conn, "stopped", f"{job.kind} #{job_id} requeued: {why}", job_id)
        return True


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
    for state, n in conn.execute("SELECT state, count(*) FROM jobs GROUP BY state"):
        out[state] = n
    return out


def _first_line(text: str) -> str:
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""
