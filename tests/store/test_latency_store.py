"""A point's measured latency: schema 3, reached from a version-2 store without losing a
point, and written with the measurement job's completion in one transaction."""
import sqlite3
from pathlib import Path

from petri.rundir import RunDir
from petri.store import db
from petri.store.records import JobSpec, Measured, PointSpec
from petri.store.store import RunStore


def test_a_version_2_store_is_migrated_and_its_points_read_unmeasured(tmp_path):
    old = sqlite3.connect(RunDir(tmp_path).db)
    old.executescript((Path(__file__).parent / "schema_v2.sql").read_text())
    old.execute("INSERT INTO points (key, val_error, macs, created) VALUES ('p', 0.25, 7, 1.0)")
    old.execute("PRAGMA user_version = 2")
    old.commit()
    old.close()
    with RunStore.open(tmp_path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION == 3
        (p,) = store.view.points()
        assert (p.key, p.macs, p.latency_ms, p.latency, p.cost("latency_ms")) == \
            ("p", 7, None, None, None)


def test_a_measurement_lands_with_its_job_and_events():
    store = RunStore.memory()
    store.enqueue([JobSpec("train", {}, "t")])
    job = store.claim("w", "cpu")
    assert store.complete(job.id, job.lease, {}, [PointSpec("t/point", 0.2, params=5)],
                          [JobSpec("measure", {}, "measure/t/point", 1)])
    assert store.has_ready(kinds=frozenset({"measure"}))
    assert not store.has_ready(kinds=frozenset({"train"}))
    job = store.claim("w", "cpu")
    info = {"info": {"target": {"kind": "cpu"}}}
    assert store.complete(job.id, job.lease, {}, [], [], events=[("constraint", "why")],
                          measured=Measured("t/point", 1.5, info))
    (p,) = store.view.points()
    assert (p.latency_ms, p.latency, p.cost("latency_ms")) == (1.5, info, 1.5)
    assert [e["message"] for e in store.view.events(kind="constraint")] == ["why"]
