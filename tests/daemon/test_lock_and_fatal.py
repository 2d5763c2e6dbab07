"""The files a daemon leaves in its run dir read as what they are: daemon.pid holds the pid
alone (`kill $(cat RUN/daemon.pid)`), daemon.error exists only after a daemon died on an error
and holds that one line of text."""
import os
import subprocess

import pytest

from petri.daemon.fatal import FatalRecord, last_fatal
from petri.daemon.lock import pid_file, write_pid
from petri.rundir import RunDir
from tests.conftest import run_petri
from tests.helpers.daemon import SMOKE, wait_for


def test_the_pid_file_holds_the_pid_alone(tmp_path):
    write_pid(tmp_path)
    assert RunDir(tmp_path).pid.read_text() == f"{os.getpid()}\n"
    assert pid_file(tmp_path) == os.getpid()


def test_a_healthy_daemon_leaves_no_error_file_and_a_dying_one_a_line_of_text(tmp_path):
    rd = RunDir(tmp_path)
    record = FatalRecord(tmp_path)
    assert not rd.fatal.exists() and rd.fatal_reserve.stat().st_size == 4096  # space held
    assert last_fatal(tmp_path) is None
    record.close()
    assert not rd.fatal.exists() and not rd.fatal_reserve.exists()

    record = FatalRecord(tmp_path)
    record.record("the disk is full\n(no space left)")
    record.close()
    assert rd.fatal.read_bytes() == b"the disk is full (no space left)\n"
    assert last_fatal(tmp_path) == "the disk is full (no space left)"
    FatalRecord(tmp_path).close()  # the next daemon: the old reason is void
    assert last_fatal(tmp_path) is None and not rd.fatal.exists()


def test_a_reason_the_rename_could_not_publish_is_still_read(tmp_path, monkeypatch):
    record = FatalRecord(tmp_path)

    def refuse(*args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", refuse)
    record.record("the disk is full")
    record.close()
    assert last_fatal(tmp_path) == "the disk is full"


@pytest.mark.slow
def test_kill_of_cat_daemon_pid_stops_the_daemon_and_leaves_no_error_file(tmp_path):
    run = tmp_path / "run"
    res = run_petri("start", SMOKE, "--run-dir", run, "--set", "smoke.jobs=50",
                    "--set", "smoke.steps=100", timeout=60)
    assert res.returncode == 0, res.stderr
    assert not (run / "daemon.error").exists()
    subprocess.run(["sh", "-c", f"kill $(cat '{run}/daemon.pid')"], check=True)
    wait_for(lambda: not (run / "daemon.pid").exists(), 60, "the daemon to stop")
    assert not (run / "daemon.error").exists()
    assert "stopped" in run_petri("status", run).stdout
