"""Read access for algorithms and status: counts, jobs, points, events."""
from __future__ import annotations

import json
import sqlite3
from typing import Iterable

from petri.store.records import Job, Point, json_strings

# Bound parameters of one query, below SQLite's lowest default limit.
_CHUNK = 900


class RunView:
    """Queries over one connection. Each call reads the store afresh (no cached state)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state (every state named, 0 where none is)."""
        out = {"queued": 0, "running": 0, "done": 0, "failed": 0}
        for state, n in self.conn.execute("SELECT state, count(*) FROM jobs GROUP BY state"):
            out[state] = n
        return out

    def ids(self) -> set[int]:
        return {r[0] for r in self.conn.execute("SELECT id FROM jobs")}

    def job_count(self) -> int:
        return self.conn.execute("SELECT count(*) FROM jobs").fetchone()[0]

    def jobs(self, state: str | None = None, kind: str | None = None) -> list[Job]:
        sql, args = "SELECT * FROM jobs WHERE 1=1", []
        if state:
            sql, args = sql + " AND state = ?", args + [state]
        if kind:
            sql, args = sql + " AND kind = ?", args + [kind]
        return [Job.from_row(r) for r in self.conn.execute(sql + " ORDER BY id", args)]

    def ended_spans(self) -> list[tuple[float, float]]:
        """(started, finished) of every job that has ended, done or failed."""
        return [(s, f) for s, f in self.conn.execute(
            "SELECT started, finished FROM jobs WHERE finished IS NOT NULL AND started IS NOT "
            "NULL ORDER BY started")]

    def compute_spent(self) -> float:
        """Seconds of training reported by finished jobs (their results' `wall_s`)."""
        return self.conn.execute("SELECT coalesce(sum(json_extract(result, '$.wall_s')), 0) "
                                 "FROM jobs WHERE state = 'done'").fetchone()[0]

    def points(self) -> list[Point]:
        """Every point, by id."""
        return [Point.from_row(r) for r in self.conn.execute("SELECT * FROM points ORDER BY id")]

    def kept(self, paths: Iterable[str]) -> set[str]:
        """Which of the run-relative `paths` are still needed: a point keeps it as its
        weights, or a job that may yet run (queued, running, or failed and so retryable)
        names it in its spec."""
        paths = sorted(set(paths))
        out = set()
        for k in range(0, len(paths), _CHUNK):
            chunk = paths[k:k + _CHUNK]
            out.update(r[0] for r in self.conn.execute(
                f"SELECT checkpoint FROM points WHERE checkpoint IN "
                f"({', '.join('?' * len(chunk))})", chunk))
        # Only specs that name a file under the paths' folders are decoded: a queue of
        # thousands of jobs that name none is passed over inside SQLite.
        for folder in {p.split("/", 1)[0] for p in paths}:
            for (spec,) in self.conn.execute(
                    "SELECT spec FROM jobs WHERE state IN ('queued', 'running', 'failed') "
                    "AND instr(spec, ?)", (f'"{folder}/',)):
                out.update(json_strings(json.loads(spec)).intersection(paths))
        return out

    def numbers_by_plan(self) -> bool:
        """Whether the run gives a point id ordinal + 1 (see schema.sql)."""
        return self.conn.execute("SELECT 1 FROM meta WHERE key = 'point_ids' AND value = 'plan'") \
            .fetchone() is not None

    def events(self, limit: int = 20, kind: str | None = None) -> list[dict]:
        """The last `limit` events (of `kind` only, if given), oldest first."""
        rows = self.conn.execute("SELECT * FROM events WHERE ? IS NULL OR kind = ? "
                                 "ORDER BY id DESC LIMIT ?", (kind, kind, limit))
        return [dict(r) for r in rows][::-1]

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self.conn.execute("SELECT key, value FROM meta")}
