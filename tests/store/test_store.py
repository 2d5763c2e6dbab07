"""What only a store file has: opening, damage, migration, readers beside the writer, a full
disk. The rules every store keeps are in test_contract.py."""
import sqlite3
from pathlib import Path

import pytest

from petri.errors import StoreError
from petri.rundir import RunDir
from petri.store import db
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore


@pytest.fixture
def store(tmp_path):
    s = RunStore.open(tmp_path, create=True)
    yield s
    s.close()


def test_newer_schema_is_refused(tmp_path):
    with RunStore.open(tmp_path, create=True) as s:
        s.conn.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer petri"):
        RunStore.open(tmp_path)


def test_corrupt_and_foreign_files_are_left_untouched(tmp_path):
    path = RunDir(tmp_path).db
    path.write_bytes(b"this is not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a readable petri database"):
        RunStore.open(tmp_path)
    assert path.read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    s = sqlite3.connect(RunDir(other).db)
    s.execute("CREATE TABLE mine (x)")
    s.close()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="did not create"):
            RunStore.open(other, readonly=readonly)


def test_a_missing_store_names_the_runs_below_it(tmp_path):
    with pytest.raises(StoreError, match="no petri run in .*start one"):
        RunStore.open(tmp_path, readonly=True)
    RunStore.open(tmp_path / "a", create=True).close()
    with pytest.raises(StoreError, match=f"holds runs: pass one of them \\({tmp_path / 'a'}\\)"):
        RunStore.open(tmp_path, readonly=True)
    assert not RunDir(tmp_path).db.exists()


def test_network_filesystem_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "filesystem_type", lambda p: "nfs4")
    with pytest.raises(StoreError, match="network filesystem"):
        RunStore.open(tmp_path, create=True)


def test_reader_does_not_block_the_writer(store, tmp_path):
    store.enqueue([JobSpec("k", {}, "a")])
    reader = RunStore.open(tmp_path, readonly=True)
    reader.conn.execute("BEGIN")
    assert reader.view.job_count() == 1
    store.enqueue([JobSpec("k", {}, "b")])  # would raise if the reader held a lock
    reader.conn.execute("COMMIT")
    with pytest.raises(sqlite3.OperationalError):
        reader.conn.execute("INSERT INTO meta VALUES ('x', 'y')")
    reader.close()


def test_a_read_only_store_refuses_every_write_and_changes_no_byte(store, tmp_path):
    store.enqueue([JobSpec("k", {}, "a")])
    job = store.claim("w", "cpu")
    store.close()
    before = RunDir(tmp_path).db.read_bytes()
    with RunStore.open(tmp_path, readonly=True) as reader:
        writes = [lambda: reader.enqueue([JobSpec("k", {}, "b")]),
                  lambda: reader.claim("w", "cpu"),
                  lambda: reader.complete(job.id, job.lease, {}, [], []),
                  lambda: reader.fail(job.id, job.lease, "infra", "lost"),
                  lambda: reader.release(job.id, job.lease, "stop"),
                  lambda: reader.set_meta(x=1), lambda: reader.log_event("k", "m")]
        for write in writes:
            with pytest.raises(StoreError, match="opened read-only"):
                write()
        assert [j.state for j in reader.running()] == ["running"]
    assert RunDir(tmp_path).db.read_bytes() == before


def _damage_a_page(run_dir: Path) -> None:
    with RunStore.open(run_dir, create=True) as s:
        s.enqueue([JobSpec("k", {"pad": "x" * 500, "i": i}, f"k{i}") for i in range(200)])
    path = RunDir(run_dir).db
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2 // 4096 * 4096)  # one whole page in the middle
        f.write(b"garbage!" * 512)


def test_a_damaged_page_is_one_store_error_at_open_with_verify_or_at_the_read(tmp_path):
    _damage_a_page(tmp_path)
    before = RunDir(tmp_path).db.read_bytes()
    with pytest.raises(StoreError, match="is damaged .* left untouched"):
        RunStore.open(tmp_path, readonly=True, verify=True)
    with pytest.raises(StoreError, match="is damaged .* left untouched"):
        with RunStore.open(tmp_path, readonly=True) as reader:  # page 1 reads fine
            reader.view.jobs()
    assert RunDir(tmp_path).db.read_bytes() == before


def test_a_version_1_store_is_migrated_keeping_its_points(tmp_path):
    old = sqlite3.connect(RunDir(tmp_path).db)
    old.executescript((Path(__file__).parent / "schema_v1.sql").read_text())
    old.execute("INSERT INTO points (key, val_error, macs, created) VALUES ('p', 0.25, 7, 1.0)")
    old.execute("INSERT INTO points (key, val_error, parent, created) VALUES ('c', 0.2, 1, 2.0)")
    old.execute("PRAGMA user_version = 1")
    old.commit()
    old.close()
    with RunStore.open(tmp_path) as store:
        assert store.conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        pts = store.view.points()
        assert [(p.key, p.val_error, p.macs, p.parent, p.test_error) for p in pts] == \
            [("p", 0.25, 7, None, None), ("c", 0.2, None, 1, None)]
        store.enqueue([JobSpec("eval_train", {}, "e")])
        job = store.claim("w", "cpu")
        # v2 accepts a point without a validation error
        assert store.complete(job.id, job.lease, {}, [PointSpec("e", None, test_error=0.1)], [])
        assert store.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert store.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_non_finite_floats_are_stored_as_null_so_sql_json_still_reads(store):
    store.enqueue([JobSpec("sleep_train", {}, "a")])
    job = store.claim("w0", "cpu")
    result = {"wall_s": 2.5, "train_loss": float("nan"), "nested": [float("inf"), 1.0]}
    assert store.complete(job.id, job.lease, result, [], [])
    assert store.view.compute_spent() == 2.5  # json_extract over the row would fail on bare NaN
    assert store.view.jobs(state="done")[0].result == {"wall_s": 2.5, "train_loss": None,
                                                       "nested": [None, 1.0]}


def test_a_zero_byte_store_is_refused_and_left_as_it_was(tmp_path):
    # Recreating a schema here would restart the run from job 1 over old job dirs.
    path = RunDir(tmp_path).db
    path.write_bytes(b"")
    with pytest.raises(StoreError, match="holds no petri schema"):
        RunStore.open(tmp_path)
    assert path.read_bytes() == b""
    assert not (tmp_path / "petri.db-wal").exists()


def test_a_full_disk_is_one_store_error_and_loses_nothing(store):
    store.enqueue([JobSpec("k", {}, "before")])
    # SQLite reports a database that reached max_page_count exactly like a full disk.
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [JobSpec("k", {"pad": "x" * 20000}, f"big{i}") for i in range(50)]
    with pytest.raises(StoreError, match="disk holding .* is full") as info:
        store.enqueue(big)
    assert "rollback" not in str(info.value)
    assert not store.conn.in_transaction
    assert [j.key for j in store.view.jobs()] == ["before"]
