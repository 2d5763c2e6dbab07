"""A run directory's layout. Every path of a run is named here and nowhere else.

    RUN/petri.db        the store (SQLite, WAL)           RUN/config.yaml   the resolved config
    RUN/daemon.lock     held by the live daemon           RUN/daemon.pid    its pid, once started
    RUN/daemon.log      the daemon's output               RUN/workers.log   the workers' output
    RUN/daemon.error    why the last daemon died, only if it died on an error (meanwhile
                        RUN/.daemon-error.reserve holds the space that message needs)
    RUN/jobs/NNNNNN/    one folder per job: progress.json (the liveness signal),
                        checkpoint.pt, result.json, the job's own files, TensorBoard events
    RUN/tensorboard/    a link per job named by its point and kind (p15-post_train)
    RUN/requests/       changes asked of a live daemon (`petri retry`, ...) and its replies
"""
from __future__ import annotations

from pathlib import Path

from petri.errors import StoreError


def tensorboard_name(job_id: int, kind: str, point_id: int | None) -> str:
    """What TensorBoard calls a job: the point it makes (or grows) and its kind, e.g.
    p15-post_train, as the frontier and the gallery number it; job12-darts_search where the
    plan fixes no point."""
    return f"p{point_id}-{kind}" if point_id is not None else f"job{job_id}-{kind}"

PROGRESS = "progress.json"
RESULT = "result.json"
CHECKPOINT = "checkpoint.pt"


def is_weights(name: str) -> bool:
    """Whether a job's file named `name` holds weights or training state, the bulk of a run's
    bytes that `daemon.keep` and `petri gc` free: its checkpoints (with their previous and
    staged copies, and a job kind's own `checkpoint.*`) and state dicts (`*.pt`)."""
    return name.startswith("checkpoint") or name.endswith(".pt")


class RunDir:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def __str__(self) -> str:
        return str(self.root)

    @property
    def db(self) -> Path:
        return self.root / "petri.db"

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

    @property
    def requests(self) -> Path:
        return self.root / "requests"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    def link_tensorboard(self, job_id: int, name: str) -> None:
        """RUN/tensorboard/NAME -> ../jobs/NNNNNN, so that TensorBoard (which follows links)
        lists the job's scalars as NAME; a link that exists (a retry) stays."""
        link = self.tensorboard / name
        if not link.is_symlink():
            self.tensorboard.mkdir(exist_ok=True)
            link.symlink_to(Path("..") / self.jobs.name / self.job(job_id).name)

    def relative(self, path: Path) -> str:
        """`path` (inside the run) as specs and points name it: relative to the run, with /."""
        return Path(path).relative_to(self.root).as_posix()

    def weight_files(self, job_id: int) -> list[Path]:
        """The files of job `job_id` that hold weights or training state (see `is_weights`)."""
        try:
            return sorted(p for p in self.job(job_id).iterdir()
                          if is_weights(p.name) and p.is_file() and not p.is_symlink())
        except FileNotFoundError:
            return []

    def job_dirs(self) -> list[Path]:
        return sorted(d for d in self.jobs.glob("*") if d.is_dir())

    def check_job_dirs(self, known: set[int]) -> None:
        """Refuse a store (knowing job ids `known`) that is older than the job dirs beside it.

        A job dir exists only for a job the store once committed, so an unknown one means the
        DB lost commits (replaced, or its WAL deleted after a crash); continuing would resume
        new jobs from the checkpoints of different ones.
        """
        for d in self.job_dirs():
            if not d.name.isdigit() or int(d.name) not in known:
                raise StoreError(f"{d} belongs to no job in {self.db}: the database has lost "
                                 f"commits (replaced, or its -wal file deleted); it was left "
                                 f"untouched: restore petri.db and petri.db-wal from a backup or "
                                 f"start a new run dir")

    def is_run(self) -> bool:
        """Whether a whole run lies here: a store and the config `create_run` writes last."""
        return self.db.is_file() and self.config.is_file()
