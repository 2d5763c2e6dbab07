"""A full disk and a read-only run dir, on real filesystems (tmpfs and a read-only bind mount).

Mounting needs root, as on the project's machines and CI; elsewhere these tests skip.
"""
import contextlib
import os
import subprocess

import pytest

from petri.daemon.lock import lock_held
from petri.status import snapshot
from tests.conftest import run_petri
from tests.helpers.daemon import SMOKE, db_rows, start, wait_done, wait_for

pytestmark = pytest.mark.slow  # real daemons and searches: `make test-fast` skips them


@contextlib.contextmanager
def mounted(target, *args):
    target.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", *args, str(target)], capture_output=True, text=True)
    if res.returncode:
        pytest.skip(f"cannot mount here ({res.stderr.strip()})")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def fill(path) -> None:
    """Write until the filesystem holding `path` has no byte left."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (65536, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)


def test_full_disk_stops_the_daemon_with_one_line_and_resume_loses_nothing(tmp_path):
    with mounted(tmp_path / "fs", "-t", "tmpfs", "-o", "size=8m", "tmpfs") as fs:
        run = fs / "run"
        res = run_petri("start", SMOKE, "--run-dir", run, "--set", "smoke.jobs=4",
                        "--set", "smoke.steps=60", "--set", "smoke.step_time=0.03",
                        "--set", "daemon.max_attempts=50", "--set", "daemon.backoff_s=0.05")
        assert res.returncode == 0, res.stderr
        wait_for(lambda: snapshot(run)["jobs"]["done"] >= 1, 60, "a finished job")
        fill(fs / "filler")
        wait_for(lambda: not lock_held(run), 60, "the daemon to stop on the full disk")
        snap = snapshot(run)
        assert snap["daemon"]["state"] == "stopped" and snap["daemon"]["crashed"]
        assert "full" in snap["daemon"]["error"], snap["daemon"]["error"]
        out = run_petri("status", run).stdout
        assert "the daemon died" in out and "full" in out and "petri resume" in out
        assert "Traceback" not in (run / "daemon.log").read_text()
        os.unlink(fs / "filler")
        res = run_petri("resume", run)
        assert res.returncode == 0, res.stderr
        snap = wait_done(run, 120)
        assert snap["jobs"]["done"] == 4 and snap["daemon"]["error"] is None
        keys = sorted(k for (k,) in db_rows(run, "SELECT key FROM points"))
        assert keys == [f"smoke/{i}/point" for i in range(4)]
        assert db_rows(run, "PRAGMA integrity_check") == [("ok",)]


def test_start_and_resume_on_a_read_only_run_dir_are_one_line(tmp_path):
    run = tmp_path / "src" / "run"
    start(run, "smoke.jobs=1", "smoke.steps=400", "smoke.step_time=0.05")
    assert run_petri("stop", run).returncode == 0  # unfinished: `resume` would write
    with mounted(tmp_path / "ro", "--bind", "-o", "ro", str(tmp_path / "src")) as ro:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        before = {p: p.read_bytes() for p in (ro / "run").rglob("*") if p.is_file()}
        for args in (("resume", ro / "run"), ("start", SMOKE, "--run-dir", ro / "new")):
            res = run_petri(*args)
            assert res.returncode != 0 and "Traceback" not in res.stderr
            assert len(res.stderr.strip().splitlines()) == 1, res.stderr
            assert "writable" in res.stderr or "read-only" in res.stderr.lower()
        assert {p: p.read_bytes() for p in (ro / "run").rglob("*") if p.is_file()} == before
        assert run_petri("status", ro / "run").returncode == 0
