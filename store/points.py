"""Hull points: every trained model with its cost, validation error and lineage."""
from __future__ import annotations

import sqlite3
import time

from petri.errors import StoreError
from petri.store.records import Point, PointSpec, dumps


def insert_points(conn: sqlite3.Connection, job_id: int, points: list[PointSpec]) -> list[int]:
    """Insert inside the caller's transaction; a key seen before is skipped (idempotent).

    A point with an `ordinal` gets id ordinal + 1 (in runs created with planned ids: see
    schema.sql); an id already taken by another key is an algorithm numbering two points
    alike, and fails the transaction rather than drop one.
    """
    planned = numbers_by_plan(conn)
    ids = []
    for p in points:
        if conn.execute("SELECT 1 FROM points WHERE key = ?", (p.key,)).fetchone():
            continue
        point_id = p.ordinal + 1 if planned and p.ordinal is not None else None
        if point_id is not None and \
                (taken := conn.execute("SELECT key FROM points WHERE id = ?", (point_id,))
                 .fetchone()):
            raise StoreError(f"point {p.key!r} and point {taken[0]!r} both claim id {point_id}; "
                             f"the algorithm must give each point its own ordinal")
        cur = conn.execute(
            "INSERT INTO points (id, key, job_id, desc, params, macs, activation_bytes, "
            "val_error, test_error, parent, lineage, stage, budget, checkpoint, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (point_id, p.key, job_id, dumps(p.desc) if p.desc is not None else None, p.params,
             p.macs, p.activation_bytes, p.val_error, p.test_error, p.parent, dumps(p.lineage),
             p.stage, p.budget, p.checkpoint, time.time()))
        ids.append(cur.lastrowid)
    return ids


def numbers_by_plan(conn: sqlite3.Connection) -> bool:
    """Whether the run gives a point id ordinal + 1 (see schema.sql)."""
    return conn.execute("SELECT 1 FROM meta WHERE key = 'point_ids' AND value = 'plan'") \
        .fetchone() is not None


def all_points(conn: sqlite3.Connection) -> list[Point]:
    return [Point.from_row(r) for r in conn.execute("SELECT * FROM points ORDER BY id")]
