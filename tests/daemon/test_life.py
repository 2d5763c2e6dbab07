"""`petri resume --set`, `retry` and `cancel` against real daemons: a finished run extended,
a running one extended, jobs cancelled and retried while the daemon runs and while it does
not. Real processes, a real SQLite file."""
import json
import os
import signal

import pytest

from petri.daemon.lock import daemon_alive
from petri.status import snapshot
from tests.conftest import run_petri
from tests.helpers.daemon import db_rows, start, wait_done, wait_for

pytestmark = pytest.mark.slow  # real daemons: `make test-fast` skips them

SLOW_JOBS = ("smoke.steps=400", "smoke.step_time=0.05")  # 20 s each unless cancelled


def points(run):
    return db_rows(run, "SELECT id, key, val_error, macs FROM points ORDER BY id")


def petri_ok(*args):
    res = run_petri(*args, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_a_finished_run_extended_goes_on_and_equals_one_started_larger(tmp_path):
    small, large = tmp_path / "small", tmp_path / "large"
    start(small, "smoke.jobs=2", "smoke.steps=3")
    wait_done(small)
    out = petri_ok("resume", small, "--set", "smoke.jobs=5")
    assert f"{small}: smoke.jobs 2 -> 5" in out and "daemon started" in out
    snap = wait_done(small)
    assert snap["jobs"]["done"] == 5 and snap["planned_points"] == 5
    assert any(e["message"] == "extended: smoke.jobs 2 -> 5" for e in snap["events"])
    start(large, "smoke.jobs=5", "smoke.steps=3")
    wait_done(large)
    assert points(small) == points(large)
    assert "is finished" in petri_ok("resume", small)  # finished again, at the new budget


def test_a_running_daemon_takes_an_extension_without_a_restart(tmp_path):
    run = tmp_path / "run"
    pid = start(run, "smoke.jobs=2", "smoke.steps=40", "smoke.step_time=0.05")
    out = petri_ok("resume", run, "--set", "smoke.jobs=3")
    assert "the running daemon continues with it" in out and "daemon started" not in out
    snap = wait_done(run)
    assert snap["jobs"]["done"] == 3 and len(snap["points"]) == 3
    started = db_rows(run, "SELECT message FROM events WHERE message LIKE 'daemon % started%'")
    assert [m.split()[1] for (m,) in started] == [str(pid)]  # the one daemon did it all


def test_cancel_and_retry_while_the_daemon_runs(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=3", *SLOW_JOBS)
    worker = wait_for(lambda: next((w for w in snapshot(run)["workers"]
                                    if w["job_id"] == 1 and (w["step"] or 0) >= 2), None),
                      60, "job 1 in progress")
    res = json.loads(petri_ok("cancel", run, "1", "3", "--json"))
    assert res == {"run_dir": str(run), "cancelled": [1, 3], "by": "daemon"}
    # The cancelled job's worker is stopped: it takes no step after a moment.
    wait_for(lambda: not _alive(worker["pid"]), 10, "the cancelled worker gone")
    log = run / "jobs" / "000001" / "steps.log"
    steps = log.read_text()
    res = json.loads(petri_ok("retry", run, "3", "--json"))
    assert res == {"run_dir": str(run), "retried": [3], "by": "daemon"}
    petri_ok("cancel", run, "2")
    snap = wait_done(run, 120)
    assert snap["jobs"] == {"queued": 0, "running": 0, "done": 1, "failed": 2}, snap["jobs"]
    # Only the job put back landed a point; the cancelled ones' work stopped with them.
    assert [key for _, key, _, _ in points(run)] == ["smoke/2/point"]
    assert [(f["job_id"], f["fail_class"]) for f in snap["failures"]] == \
        [(1, "cancelled"), (2, "cancelled")]
    assert log.read_text() == steps  # job 1 took no step once cancelled
    kinds = [k for (k,) in db_rows(run, "SELECT kind FROM events WHERE kind IN "
                                        "('cancel', 'retry') ORDER BY id")]
    assert kinds == ["cancel", "cancel", "retry", "cancel"]


def test_retry_of_failed_jobs_on_a_stopped_run_runs_them_at_resume(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=2", "smoke.steps=4", "smoke.raise_at=2")
    wait_done(run)
    assert "retried job(s) 1, 2" in petri_ok("retry", run, "--failed")
    assert snapshot(run)["jobs"]["queued"] == 2 and not snapshot(run)["done"]
    assert "daemon started" in petri_ok("resume", run)
    snap = wait_done(run)
    # They ran again (and fail again: the cause is in their spec), each with fresh attempts.
    assert [f["attempts"] for f in snap["failures"]] == [1, 1]
    assert db_rows(run, "SELECT count(*) FROM attempts") == [(4,)]


def test_cancel_of_a_job_a_killed_daemon_left_running_stops_its_worker(tmp_path):
    run = tmp_path / "run"
    # One long step: a worker notices its daemon's death (stdin closed) only between steps,
    # so for these 30 s it is an orphan still training, which only a kill stops.
    start(run, "smoke.jobs=1", "smoke.steps=2", "smoke.step_time=30")
    worker = wait_for(lambda: next(iter(snapshot(run)["workers"]), None), 60, "a worker")
    os.kill(daemon_alive(run), signal.SIGKILL)
    wait_for(lambda: daemon_alive(run) is None, 10, "daemon gone")
    assert _alive(worker["pid"])  # an orphan, still training
    res = json.loads(petri_ok("cancel", run, "1", "--json"))
    assert res["by"] == "command" and res["cancelled"] == [1]
    wait_for(lambda: not _alive(worker["pid"]), 10, "the orphan stopped")
    assert db_rows(run, "SELECT state, fail_class FROM jobs") == [("failed", "cancelled")]


def _alive(pid) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
