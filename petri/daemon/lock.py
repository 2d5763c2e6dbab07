"""Is a run's daemon alive? The answer comes from the run's lock, not from /proc/PID.

The daemon holds an exclusive `flock` on RUN/daemon.lock for its whole life. The kernel drops
it the moment the process dies, even while the dead process lingers as a zombie that nobody
reaps (forever, in a container without an init process), so `kill -9` followed at once by
`petri resume` works. Asking never needs the pid file: a probe takes a shared lock without
blocking and lets go at once. The pid file (written only once start-up has succeeded) says
which process it is and that it is ready.
"""
from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from petri.io import atomic_write
from petri.rundir import RunDir


class RunLock:
    """The daemon's exclusive hold on a run dir."""

    def __init__(self, run_dir: Path):
        self.path = RunDir(run_dir).lock
        self.fd: int | None = None

    def acquire(self, wait_s: float = 2.0) -> bool:
        """Take the lock; wait a little, since a `status` probe may hold it for microseconds."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self.fd = fd
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    return False
                time.sleep(0.02)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = None


def lock_held(run_dir: Path) -> bool:
    """Whether some process holds RUN's daemon lock now."""
    try:
        fd = os.open(RunDir(run_dir).lock, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _lock_holder(path: Path) -> int | None:
    """The pid holding an flock on `path`, from /proc/locks (None where it cannot be read)."""
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return None
    ident = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 fe:00:5678 0 EOF"; waiters carry a "->" field.
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[5] == ident and "->" not in parts:
            try:
                return int(parts[4])
            except ValueError:
                return None
    return None


def write_pid(run_dir: Path) -> None:
    """The pid alone on one line, so `kill $(cat RUN/daemon.pid)` works as for any daemon."""
    atomic_write(RunDir(run_dir).pid, lambda f: f.write(f"{os.getpid()}\n".encode()))


def pid_file(run_dir: Path) -> int | None:
    """The pid a daemon wrote once its start-up succeeded (None if absent or unreadable)."""
    try:
        return int(RunDir(run_dir).pid.read_text())
    except (OSError, ValueError):
        return None


def daemon_alive(run_dir: Path) -> int | None:
    """The pid of the run's live daemon, None if there is none.

    0 means a daemon holds the lock but its pid cannot be read (no /proc/locks, and a pid file
    not yet written or damaged); it is still alive.
    """
    if not lock_held(run_dir):
        return None
    return _lock_holder(RunDir(run_dir).lock) or pid_file(run_dir) or 0


def already_running(run_dir: Path) -> str:
    pid = daemon_alive(run_dir)
    who = f"pid {pid}" if pid else "pid unknown"
    return (f"a daemon ({who}) is already running on {run_dir}; watch it with "
            f"`petri watch {run_dir}` or stop it with `petri stop {run_dir}`")


def wait_gone(run_dir: Path, timeout: float) -> bool:
    """Wait until no process holds RUN's lock; whether that happened within `timeout`."""
    deadline = time.monotonic() + timeout
    while lock_held(run_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
