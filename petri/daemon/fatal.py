"""Why a run's last daemon died: the record it leaves, even on a full disk."""
from __future__ import annotations

import os
from pathlib import Path

from petri.rundir import RunDir


FATAL_BYTES = 4096


def last_fatal(run_dir: Path) -> str | None:
    """Why the run's last daemon died on an error (None if it did not)."""
    rd = RunDir(run_dir)
    for path in (rd.fatal, rd.fatal_reserve):
        try:
            text = path.read_bytes().rstrip(b"\0").decode(errors="replace").strip()
        except OSError:
            continue
        if text:
            return text
    return None


class FatalRecord:
    """Where a daemon that dies on an error says why, even when a full disk killed it.

    Starting, it fills a hidden reserve file with FATAL_BYTES of zeros; dying, it overwrites
    them in place (blocks already allocated need no free space), cuts the file to the message
    and renames it to RUN/daemon.error. So a healthy run has no daemon.error, a failed one a
    line of text; if even the rename fails, `last_fatal` finds the message in the reserve.
    """

    def __init__(self, run_dir: Path):
        self.rd = RunDir(run_dir)
        self.rd.fatal.unlink(missing_ok=True)  # a new daemon: the last one's reason is void
        self.f = open(self.rd.fatal_reserve, "wb+")
        self.f.write(bytes(FATAL_BYTES))
        self._sync()
        self.recorded = False

    def _sync(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())

    def record(self, message: str) -> None:
        data = (" ".join(message.split()).encode()[:FATAL_BYTES - 1] + b"\n")
        try:
            self.f.seek(0)
            self.f.write(data)
            self.f.truncate(len(data))
            self._sync()
            self.recorded = True
            os.replace(self.rd.fatal_reserve, self.rd.fatal)
        except OSError:
            pass  # the reason still reaches daemon.log through the exit message

    def close(self) -> None:
        self.f.close()
        if not self.recorded:
            self.rd.fatal_reserve.unlink(missing_ok=True)
