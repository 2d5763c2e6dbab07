"""The daemon under real faults: real processes, real SIGKILL, a real SQLite file."""
import os
import signal
import subprocess
import sys

import pytest

from petri.daemon.lock import daemon_alive
from petri.status import snapshot
from tests.conftest import run_petri
from tests.helpers.daemon import (SMOKE, db_rows, kill_daemon_and_resume, start, steps_trained,
                                  wait_done, wait_for)

pytestmark = pytest.mark.slow  # real daemons and searches: `make test-fast` skips them


def test_kill9_daemon_twice_then_resume_completes_exactly_once(tmp_path):
    run = tmp_path / "run"
    jobs_n, steps, every = 6, 60, 5
    start(run, f"smoke.jobs={jobs_n}", f"smoke.steps={steps}",
          f"smoke.checkpoint_every={every}", "smoke.step_time=0.03")
    killed_jobs = 0
    for _ in range(2):
        wait_for(lambda: any(w["step"] and w["step"] >= 3 for w in snapshot(run)["workers"]),
                 60, "a job in progress")
        killed_jobs += snapshot(run)["jobs"]["running"]
        kill_daemon_and_resume(run)
        wait_for(lambda: daemon_alive(run), 30, "daemon back")
    snap = wait_done(run)
    assert snap["jobs"] == {"queued": 0, "running": 0, "done": jobs_n, "failed": 0}
    keys = [k for (k,) in db_rows(run, "SELECT key FROM points")]
    assert sorted(keys) == sorted(f"smoke/{i}/point" for i in range(jobs_n))
    assert db_rows(run, "PRAGMA integrity_check") == [("ok",)]
    total = steps_trained(run)
    assert jobs_n * steps <= total <= jobs_n * steps + killed_jobs * every


def test_kill9_worker_resumes_its_job_from_checkpoint(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=2", "smoke.steps=40", "smoke.checkpoint_every=5",
          "smoke.step_time=0.03")
    victim = wait_for(lambda: next((w for w in snapshot(run)["workers"]
                                    if w["step"] and w["step"] >= 12), None), 60, "progress")
    (pid,) = db_rows(run, f"SELECT pid FROM jobs WHERE id = {victim['job_id']}")[0]
    os.kill(pid, signal.SIGKILL)
    snap = wait_done(run)
    assert snap["jobs"]["done"] == 2 and len(snap["points"]) == 2
    (attempts,) = db_rows(run, f"SELECT attempts FROM jobs WHERE id = {victim['job_id']}")[0]
    assert attempts == 2
    log = [int(v) for v in
           (run / "jobs" / f"{victim['job_id']:06d}" / "steps.log").read_text().split()]
    # Every step ran; the second attempt resumed from a checkpoint, not from step 0; at most
    # one checkpoint interval of work was done twice.
    assert set(log) == set(range(1, 41)) and log.count(1) == 1
    assert len(log) <= 40 + 5


def test_always_failing_job_ends_failed_with_its_reason(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=1", "smoke.crash_at=2", "daemon.max_attempts=3",
          "daemon.backoff_s=0.05")
    snap = wait_done(run)
    assert snap["jobs"]["failed"] == 1
    (fail,) = snap["failures"]
    assert fail["attempts"] == 3 and fail["fail_class"] == "infra"
    assert "exited with code 3" in fail["error"]
    res = run_petri("status", run)
    assert "exited with code 3" in res.stdout


def test_deterministic_failure_is_not_retried(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=1", "smoke.raise_at=1")
    (fail,) = wait_done(run)["failures"]
    assert fail["attempts"] == 1 and fail["fail_class"] == "deterministic"
    assert "told to fail" in fail["error"]


def test_a_watched_run_whose_jobs_failed_exits_non_zero_saying_which_and_why(tmp_path):
    run = tmp_path / "run"
    res = run_petri("start", SMOKE, "--run-dir", run, "--watch", "--set", "smoke.jobs=2",
                    "--set", "smoke.raise_at=1", env={"COLUMNS": "200"}, timeout=120)
    assert res.returncode == 1, res.stderr
    error = res.stderr.strip().splitlines()[-1]
    for job in (1, 2):
        assert f"job {job} (sleep_train): ValueError: sleep_train told to fail at step 1" in error
    for command in (("status", run), ("ls", tmp_path)):
        out = run_petri(*command, env={"COLUMNS": "200"}).stdout
        assert "done with 2 failed" in out, out


def test_start_watch_on_the_run_its_daemon_is_running_shows_it(tmp_path):
    # `make demo` a second time while the demo's search runs: the view, not an error
    run = tmp_path / "run"
    start(run, "smoke.jobs=2", "smoke.steps=40", "smoke.step_time=0.05")
    res = run_petri("start", SMOKE, "--run-dir", run, "--watch", "--set", "smoke.jobs=2",
                    "--set", "smoke.steps=40", "--set", "smoke.step_time=0.05",
                    env={"COLUMNS": "120"}, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "is running this config already: showing it" in res.stdout
    assert wait_done(run)["jobs"]["done"] == 2 and daemon_alive(run) is None
    assert "resuming" not in res.stdout and "already running" not in res.stderr


def test_hung_worker_is_killed_and_replaced(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=1", "smoke.hang_at=3", "daemon.hang_grace_s=1.0",
          "daemon.progress_every_s=0.1", "daemon.max_attempts=2", "daemon.backoff_s=0.05",
          "daemon.cpu_slots=1")
    (fail,) = wait_done(run)["failures"]
    assert "hung: no progress" in fail["error"]
    rows = db_rows(run, "SELECT outcome, error FROM attempts ORDER BY lease")
    assert [r[0] for r in rows] == ["infra", "infra"] and all("hung" in r[1] for r in rows)
    pids = {p for (p,) in db_rows(run, "SELECT DISTINCT worker FROM attempts")}
    assert pids == {"cpu0"}  # the same slot, served by a fresh worker process each time


def test_second_start_on_a_run_dir_is_refused(tmp_path):
    run = tmp_path / "run"
    long = ("smoke.jobs=2", "smoke.steps=200", "smoke.step_time=0.05")
    pid = start(run, *long)
    res = run_petri("start", SMOKE, "--run-dir", run, *(a for s in long for a in ("--set", s)),
                    timeout=60)  # its config: another one is refused before the daemon is asked
    assert res.returncode != 0 and f"pid {pid}" in res.stderr
    # The lock holds even against a daemon started by hand, past the pid-file check.
    res = subprocess.run([sys.executable, "-m", "petri.daemon", str(run)], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode != 0 and "already running" in res.stderr
    res = run_petri("stop", run, timeout=120)
    assert res.returncode == 0, res.stderr
    assert daemon_alive(run) is None
    snap = snapshot(run)
    assert snap["daemon"]["last_state"] == "stopped" and snap["jobs"]["running"] == 0
    # Stopped jobs went back to the queue without spending an attempt.
    assert all(a <= 1 for (a,) in db_rows(run, "SELECT attempts FROM jobs"))


def test_status_json_for_scripts(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=3")
    wait_done(run)
    import json

    res = run_petri("status", run, "--json")
    snap = json.loads(res.stdout)
    assert snap["daemon"]["state"] == "stopped" and snap["done"] is True
    assert snap["jobs"]["done"] == 3
    assert {"id", "cost", "error", "parent"} <= set(snap["points"][0])
    assert set(snap["frontier"]) <= {p["id"] for p in snap["points"]} and snap["frontier"]
    # Inspecting a run must not pay for torch.
    import subprocess
    import sys

    code = ("import sys; from petri.cli.main import main; main(['status', sys.argv[1]]); "
            "assert 'torch' not in sys.modules, 'status imported torch'")
    res = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_bad_config_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("algo: smoke\ndaemon: {cpu_slotz: 2}\n")
    res = run_petri("start", bad, "--run-dir", tmp_path / "r")
    assert res.returncode != 0 and "cpu_slotz" in res.stderr and "Traceback" not in res.stderr
    res = run_petri("status", tmp_path / "nothing")
    assert res.returncode != 0 and "no petri run" in res.stderr
