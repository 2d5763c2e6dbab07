import sqlite3
from pathlib import Path

import pytest

from petri.errors import StoreError
from petri.store import db, jobs
from petri.store.points import all_points, insert_points
from petri.store.records import JobSpec, PointSpec


@pytest.fixture
def conn(tmp_path):
    c = db.connect(tmp_path, create=True)
    yield c
    c.close()


def test_enqueue_is_idempotent_by_key(conn):
    specs = [JobSpec("sleep_train", {"i": i}, f"k{i}") for i in range(3)]
    assert jobs.enqueue(conn, specs) == 3
    assert jobs.enqueue(conn, specs) == 0
    assert jobs.counts(conn)["queued"] == 3


def test_claim_complete_and_duplicate_delivery(conn):
    jobs.enqueue(conn, [JobSpec("sleep_train", {}, "a"), JobSpec("sleep_train", {}, "b", priority=5)])
    job = jobs.claim(conn, "w0", "cpu")
    assert job.key == "b" and job.lease == 1 and job.attempts == 1  # priority first
    point = PointSpec(key="b/p", val_error=0.1, macs=10)
    follow = [JobSpec("sleep_train", {}, "c")]
    assert jobs.complete(conn, job.id, job.lease, {"x": 1}, [point], follow)
    # The same result delivered again (or by a stale lease) changes nothing.
    assert not jobs.complete(conn, job.id, job.lease, {"x": 1}, [point], follow)
    assert not jobs.complete(conn, job.id, job.lease + 1, {"x": 1}, [point], follow)
    assert len(all_points(conn)) == 1
    assert jobs.counts(conn) == {"queued": 2, "running": 0, "done": 1, "failed": 0}


def test_stale_lease_is_fenced_after_requeue(conn):
    jobs.enqueue(conn, [JobSpec("sleep_train", {}, "a")])
    first = jobs.claim(conn, "w0", "cpu")
    assert jobs.fail(conn, first.id, first.lease, "infra", "lost", backoff_s=0) == "queued"
    second = jobs.claim(conn, "w1", "cpu")
    assert second.lease == first.lease + 1 and second.attempts == 2
    assert not jobs.complete(conn, first.id, first.lease, {}, [PointSpec("p", 0.5)], [])
    assert jobs.complete(conn, second.id, second.lease, {}, [PointSpec("p", 0.5)], [])


def test_retry_classes(conn):
    jobs.enqueue(conn, [JobSpec("k", {}, "infra"), JobSpec("k", {}, "det")], max_attempts=2)
    while (j := jobs.claim(conn, "w", "cpu")) is not None:
        cls = "infra" if j.key == "infra" else "deterministic"
        jobs.fail(conn, j.id, j.lease, cls, f"{cls} error", backoff_s=0)
    assert jobs.counts(conn)["failed"] == 2
    # Infra failures are retried up to max_attempts; deterministic ones are not retried.
    assert dict(conn.execute("SELECT key, attempts FROM jobs").fetchall()) == {"infra": 2, "det": 1}


def test_backoff_delays_the_retry(conn):
    jobs.enqueue(conn, [JobSpec("k", {}, "a")])
    j = jobs.claim(conn, "w", "cpu")
    jobs.fail(conn, j.id, j.lease, "infra", "lost", backoff_s=60)
    assert jobs.claim(conn, "w", "cpu") is None  # not before a minute from now


def test_release_refunds_the_attempt(conn):
    jobs.enqueue(conn, [JobSpec("k", {}, "a")])
    j = jobs.claim(conn, "w", "cpu")
    assert jobs.release(conn, j.id, j.lease, "stop")
    again = jobs.claim(conn, "w", "cpu")
    assert again.attempts == 1 and again.lease == 2


def test_newer_schema_is_refused(tmp_path):
    c = db.connect(tmp_path, create=True)
    c.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    c.close()
    with pytest.raises(StoreError, match="newer petri"):
        db.connect(tmp_path)


def test_corrupt_and_foreign_files_are_left_untouched(tmp_path):
    path = tmp_path / db.DB_NAME
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a readable petri database"):
        db.connect(tmp_path)
    assert path.read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    s = sqlite3.connect(other / db.DB_NAME)
    s.execute("CREATE TABLE mine (x)")
    s.close()
    with pytest.raises(StoreError, match="did not create"):
        db.connect(other)


def test_network_filesystem_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "filesystem_type", lambda p: "nfs4")
    with pytest.raises(StoreError, match="network filesystem"):
        db.connect(tmp_path, create=True)


def test_reader_does_not_block_the_writer(conn, tmp_path):
    jobs.enqueue(conn, [JobSpec("k", {}, "a")])
    reader = db.connect(tmp_path, readonly=True)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM jobs").fetchone()[0] == 1
    jobs.enqueue(conn, [JobSpec("k", {}, "b")])  # would raise if the reader held a lock
    reader.execute("COMMIT")
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("INSERT INTO meta VALUES ('x', 'y')")
    reader.close()


def test_a_version_1_store_is_migrated_keeping_its_points(tmp_path):
    old = sqlite3.connect(tmp_path / db.DB_NAME)
    old.executescript((Path(__file__).parent / "schema_v1.sql").read_text())
    old.execute("INSERT INTO points (key, val_error, macs, created) VALUES ('p', 0.25, 7, 1.0)")
    old.execute("INSERT INTO points (key, val_error, parent, created) VALUES ('c', 0.2, 1, 2.0)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    conn = db.connect(tmp_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
    pts = all_points(conn)
    assert [(p.key, p.val_error, p.macs, p.parent, p.test_error) for p in pts] == \
        [("p", 0.25, 7, None, None), ("c", 0.2, None, 1, None)]
    with db.transaction(conn):  # v2 accepts a point without a validation error
        insert_points(conn, None, [PointSpec(key="e", val_error=None, test_error=0.1)])
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_non_finite_floats_are_stored_as_null_so_sql_json_still_reads(conn):
    from petri.store.view import RunView

    jobs.enqueue(conn, [JobSpec("sleep_train", {}, "a")])
    job = jobs.claim(conn, "w0", "cpu")
    result = {"wall_s": 2.5, "train_loss": float("nan"), "nested": [float("inf"), 1.0]}
    assert jobs.complete(conn, job.id, job.lease, result, [], [])
    view = RunView(conn)
    assert view.compute_spent() == 2.5  # json_extract over the row would fail on bare NaN
    assert view.jobs(state="done")[0].result == {"wall_s": 2.5, "train_loss": None,
                                                 "nested": [None, 1.0]}


def test_a_zero_byte_store_is_refused_and_left_as_it_was(tmp_path):
    # Recreating a schema here would restart the run from job 1 over old job dirs.
    path = tmp_path / db.DB_NAME
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="holds no petri schema"):
        db.connect(tmp_path)
    assert path.read_bytes() == b""
    assert not (tmp_path / "petri.db-wal").exists()


def test_a_full_disk_is_one_store_error_and_loses_nothing(conn):
    jobs.enqueue(conn, [JobSpec("k", {}, "before")])
    # SQLite reports a database that reached max_page_count exactly like a full disk.
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [JobSpec("k", {"pad": "x" * 20000}, f"big{i}") for i in range(50)]
    with pytest.raises(StoreError, match="disk holding .* is full") as info:
        jobs.enqueue(conn, big)
    assert "rollback" not in str(info.value)
    assert not conn.in_transaction
    assert [r[0] for r in conn.execute("SELECT key FROM jobs")] == ["before"]
