"""Restarting right after a crash, and refusing stores that would restart a run silently.

Liveness comes from the run's lock, which the kernel drops the moment a process dies, even
while its zombie lingers unreaped; so `resume` right after `kill -9` must always work.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest

from petri.daemon.lock import daemon_alive, lock_held
from petri.status import snapshot
from tests.conftest import run_petri
from tests.helpers.daemon import SMOKE, db_rows, start, store_bytes, wait_done, wait_for

pytestmark = pytest.mark.slow  # real daemons and searches: `make test-fast` skips them

LONG = ("smoke.jobs=4", "smoke.steps=400", "smoke.step_time=0.05", "daemon.cpu_slots=1")


def resume_ok(run) -> str:
    res = run_petri("resume", run, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "daemon started" in res.stdout
    return res.stdout


def test_kill9_then_resume_at_once_twenty_times(tmp_path):
    run = tmp_path / "run"
    start(run, *LONG)
    for _ in range(20):
        pid = daemon_alive(run)
        os.kill(pid, signal.SIGKILL)
        resume_ok(run)  # no pause: the dead daemon's lock is already free
        assert daemon_alive(run) not in (None, pid)
    assert run_petri("stop", run, "--now").returncode == 0
    assert db_rows(run, "PRAGMA integrity_check") == [("ok",)]


def test_stop_now_returns_only_when_the_lock_is_free_and_resume_works_at_once(tmp_path):
    run = tmp_path / "run"
    start(run, *LONG)
    for _ in range(3):
        res = run_petri("stop", run, "--now")
        assert res.returncode == 0, res.stderr
        assert not lock_held(run) and daemon_alive(run) is None
        assert snapshot(run)["daemon"]["state"] == "stopped"
        resume_ok(run)
    assert run_petri("stop", run, "--now").returncode == 0


def test_a_zombie_daemon_counts_as_gone(tmp_path):
    # Run the daemon as our own child and never reap it: its zombie keeps the pid and the
    # start time that /proc shows, which is exactly what the old pid-file check trusted.
    run = tmp_path / "run"
    start(run, *LONG)
    assert run_petri("stop", run).returncode == 0  # stopped, not finished: resume has work
    proc = subprocess.Popen([sys.executable, "-m", "petri.daemon", str(run)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: daemon_alive(run) == proc.pid, 60, "daemon up")
        os.kill(proc.pid, signal.SIGKILL)
        wait_for(lambda: open(f"/proc/{proc.pid}/stat").read().split(")")[1].split()[0] == "Z",
                 10, "zombie")
        # The leader shows Z while the daemon's other threads may still be exiting with the
        # lock's descriptor; the zombie itself, never reaped, must not count.
        wait_for(lambda: daemon_alive(run) is None, 10, "the lock let go")
        assert snapshot(run)["daemon"]["state"] == "stopped"
        resume_ok(run)
        assert run_petri("stop", run, "--now").returncode == 0
    finally:
        proc.wait()


def test_two_resumes_at_once_one_wins_the_other_says_a_daemon_runs(tmp_path):
    run = tmp_path / "run"
    start(run, *LONG)
    assert run_petri("stop", run).returncode == 0
    results = []

    def go():
        results.append(run_petri("resume", run, timeout=120))

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 1], [r.stderr for r in results]
    loser = next(r for r in results if r.returncode)
    assert "already running" in loser.stderr and "daemon started" not in loser.stdout
    assert run_petri("stop", run, "--now").returncode == 0


@pytest.mark.parametrize("damage", ["zero-bytes", "garbage", "truncated", "foreign", "newer",
                                    "deleted-wal"])
def test_a_damaged_store_is_refused_at_resume_and_left_untouched(tmp_path, damage):
    run = tmp_path / "run"
    start(run, "smoke.jobs=3", "smoke.steps=5")
    wait_done(run)
    db = run / "petri.db"
    if damage == "zero-bytes":
        db.write_bytes(b"")
    elif damage == "garbage":
        db.write_bytes(os.urandom(8192))
    elif damage == "truncated":
        db.write_bytes(db.read_bytes()[:100])
    elif damage == "foreign":
        db.unlink()
        import sqlite3
        c = sqlite3.connect(db)
        c.execute("CREATE TABLE mine (x)")
        c.commit()
        c.close()
    elif damage == "newer":
        import sqlite3
        c = sqlite3.connect(db)
        c.execute("PRAGMA user_version = 99")
        c.close()
    elif damage == "deleted-wal":
        # What `kill -9` plus a deleted WAL leaves: a store that knows fewer jobs than the
        # job dirs beside it.
        shutil.copy(db, tmp_path / "old.db")
        start_more = run_petri("start", SMOKE, "--run-dir", tmp_path / "other")
        assert start_more.returncode == 0
        db.unlink()
        for extra in ("petri.db-wal", "petri.db-shm"):
            (run / extra).unlink(missing_ok=True)
        import sqlite3
        src = sqlite3.connect(tmp_path / "old.db")
        src.execute("DELETE FROM points")
        src.execute("DELETE FROM attempts")
        src.execute("DELETE FROM jobs WHERE id > 1")
        src.commit()
        src.close()
        shutil.copy(tmp_path / "old.db", db)
    before = store_bytes(run)
    res = run_petri("resume", run, timeout=120)
    assert res.returncode != 0
    assert "daemon started" not in res.stdout and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert str(db) in res.stderr or "petri.db" in res.stderr
    assert store_bytes(run) == before
    assert not lock_held(run)
