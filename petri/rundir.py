"""A run directory's layout. Every path of a run is named here and nowhere else.

    RUN/petri.db        the store (SQLite, WAL)           RUN/config.yaml   the resolved config
    RUN/daemon.lock     held by the live daemon           RUN/daemon.pid    its pid, once started
    RUN/daemon.error    why the last daemon died, if on   RUN/daemon.log    the daemon's output
                        an error (.daemon-error.reserve
                        holds its space meanwhile)
    RUN/workers.log     the workers' output               RUN/jobs/NNNNNN/  one folder per job:
        progress.json (the liveness signal), checkpoint.pt, result.json, and the job's own files
"""
from __future__ import annotations

from pathlib import Path

from petri.store.db import DB_NAME

PROGRESS = "progress.json"
RESULT = "result.json"
CHECKPOINT = "checkpoint.pt"


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    @property
    def db(self) -> Path:
        return self.root / DB_NAME

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def lock(self) -> Path:
        return self.root / "daemon.lock"

    @property
    def pid(self) -> Path:
        return self.root / "daemon.pid"

    @property
    def fatal(self) -> Path:
        return self.root / "daemon.error"

    @property
    def fatal_reserve(self) -> Path:
        return self.root / ".daemon-error.reserve"

    @property
    def daemon_log(self) -> Path:
        return self.root / "daemon.log"

    @property
    def workers_log(self) -> Path:
        return self.root / "workers.log"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    def job(self, job_id: int) -> Path:
        return self.jobs / f"{job_id:06d}"

    def job_dirs(self) -> list[Path]:
        return sorted(d for d in self.jobs.glob("*") if d.is_dir())

    def is_run(self) -> bool:
        return self.db.is_file() and self.config.is_file()
