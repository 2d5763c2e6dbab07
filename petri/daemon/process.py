"""Which process is which: a pid is reused once its process is gone, so a pid recorded
earlier (with a claim, by the store) is acted on only while its kernel start time matches."""
from __future__ import annotations

import os
import signal
from pathlib import Path


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (field 22 of /proc/pid/stat), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def kill_if_same(pid: int | None, start: str | None) -> None:
    """SIGKILL the process group of `pid` if it is still the process that started at `start`."""
    if pid and start and process_start_time(pid) == start:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
