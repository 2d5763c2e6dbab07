"""The daemon's pid file, checked against the process start time so a reused pid is not
mistaken for a live daemon."""
from __future__ import annotations

import os
import signal
from pathlib import Path

from petri.io import atomic_write_json, read_json

PID = "daemon.pid"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/pid/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def write_pid(run_dir: Path) -> None:
    atomic_write_json(run_dir / PID, {"pid": os.getpid(), "start": process_start_time(os.getpid())})


def daemon_alive(run_dir: Path) -> int | None:
    """The pid of the run's daemon if it is running, else None."""
    info = read_json(Path(run_dir) / PID)
    if not info:
        return None
    pid, start = int(info["pid"]), info.get("start")
    now_start = process_start_time(pid)
    return pid if now_start is not None and now_start == start else None


def kill_if_same(pid: int | None, start: str | None) -> None:
    """SIGKILL the process group of `pid` if it is still the process that started at `start`."""
    if pid and start and process_start_time(pid) == start:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
