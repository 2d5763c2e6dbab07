"""Hull points: every trained model with its cost, validation error and lineage."""
from __future__ import annotations

import sqlite3
import time

from petri.store.records import Point, PointSpec, dumps


def insert_points(conn: sqlite3.Connection, job_id: int, points: list[PointSpec]) -> list[int]:
    """Insert inside the caller's transaction; a key seen before is skipped (idempotent)."""
    ids = []
    for p in points:
        cur = conn.execute(
            "INSERT OR IGNORE INTO points (key, job_id, desc, params, macs, activation_bytes, "
            "val_error, test_error, parent, lineage, stage, budget, checkpoint, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (p.key, job_id, dumps(p.desc) if p.desc is not None else None, p.params, p.macs,
             p.activation_bytes, p.val_error, p.test_error, p.parent, dumps(p.lineage),
             p.stage, p.budget, p.checkpoint, time.time()))
        if cur.rowcount:
            ids.append(cur.lastrowid)
    return ids


def all_points(conn: sqlite3.Connection) -> list[Point]:
    return [Point.from_row(r) for r in conn.execute("SELECT * FROM points ORDER BY id")]
