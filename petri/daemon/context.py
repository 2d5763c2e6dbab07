"""What a running job may touch: its own directory, a progress file, a stop flag.

A worker writes only inside the job directory: `progress.json` (rewritten atomically every
few seconds, the daemon's liveness signal), checkpoints, and finally `result.json`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from petri.io import atomic_write_json

PROGRESS = "progress.json"
RESULT = "result.json"


class JobStopped(Exception):
    """The job checkpointed and stopped because the worker was asked to stop."""


class JobFailed(Exception):
    """A failure with a known class: 'deterministic' (do not retry) or 'infra' (retry)."""

    def __init__(self, message: str, fail_class: str = "deterministic"):
        super().__init__(message)
        self.fail_class = fail_class


@dataclass
class JobContext:
    job_id: int
    lease: int
    job_dir: Path
    device: str
    stop_event: threading.Event = field(default_factory=threading.Event)
    progress_every_s: float = 2.0
    run_dir: Path | None = None  # specs name files relative to it, so a run dir can move
    _last_progress: float = 0.0

    def __post_init__(self):
        if self.run_dir is None:
            self.run_dir = self.job_dir.parent.parent  # RUN/jobs/NNNNNN

    @property
    def checkpoint_path(self) -> Path:
        return self.job_dir / "checkpoint.pt"

    def relative(self, path: Path) -> str:
        return str(Path(path).resolve().relative_to(Path(self.run_dir).resolve()))

    def should_stop(self) -> bool:
        return self.stop_event.is_set()

    def progress(self, force: bool = False, **fields) -> None:
        """Rewrite progress.json at most every `progress_every_s` (always when forced)."""
        t = time.time()
        if force or t - self._last_progress >= self.progress_every_s:
            self._last_progress = t
            atomic_write_json(self.job_dir / PROGRESS,
                              {"t": t, "job_id": self.job_id, "lease": self.lease, **fields},
                              durable=False)
