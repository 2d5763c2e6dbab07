"""A run's disk: the bytes it holds, and freeing the weights its finished jobs no longer need.

A finished job's checkpoints served only to resume it; what outlives the job is what a point
keeps as its weights (`points.checkpoint`) and what a job yet to run reads (a grown child's
warm start, named in its spec). `daemon.keep: final` frees the rest as each result lands
(the daemon calls `free_finished`); `petri gc` does the same for a whole run afterwards.

Both only ever delete files of jobs whose result has landed, and keep every file a point or
a job that may still run names, reading both from one store: a done job never runs again,
and a job enqueued later names only points' weights (parents), which are kept. So `petri gc`
is safe beside a running daemon.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from petri.rundir import RunDir, is_weights
from petri.store.records import Job, json_strings
from petri.store.view import RunView


@dataclass(frozen=True)
class Freed:
    files: int
    bytes: int  # the disk blocks they held (as `du` counts)

    def to_dict(self) -> dict:
        return asdict(self)


def file_bytes(st: os.stat_result) -> int:
    """The disk a file takes (its blocks: a sparse reserve counts what it holds, not its
    length); its length where the file system reports no blocks."""
    blocks = getattr(st, "st_blocks", None)
    return blocks * 512 if blocks is not None else st.st_size


def used_bytes(root: str | Path) -> int:
    """The bytes the files under `root` take, links not followed (RUN/tensorboard links to
    the job dirs, which are counted once)."""
    total, stack = 0, [str(root)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        stack.append(e.path)
                    elif e.is_file(follow_symlinks=False):
                        total += file_bytes(e.stat(follow_symlinks=False))
        except OSError:  # a job dir removed while walking, or one we may not read
            continue
    return total


def finished_files(rd: RunDir, job: Job) -> list[str]:
    """Run-relative weight files a job whose result has just landed may leave behind: its
    own, and those its spec read from earlier jobs (a warm start)."""
    own = [rd.relative(p) for p in rd.weight_files(job.id)]
    read = [s for s in json_strings(job.spec)
            if s.startswith(f"{rd.jobs.name}/") and is_weights(Path(s).name)]
    return own + read


def free(rd: RunDir, view: RunView, paths: Iterable[str]) -> Freed:
    """Delete the run-relative `paths` (weight files of jobs whose result has landed) that
    `view` says nothing needs; missing ones are skipped."""
    paths = set(paths)
    files = size = 0
    for rel in sorted(paths - view.kept(paths)):
        path = rd.root / rel
        try:
            st = path.lstat()
            path.unlink()
        except FileNotFoundError:
            continue
        files, size = files + 1, size + file_bytes(st)
    return Freed(files, size)


def free_finished(rd: RunDir, view: RunView, job: Job) -> Freed:
    """`daemon.keep: final` once `job`'s result has landed."""
    return free(rd, view, finished_files(rd, job))


def collect(rd: RunDir, view: RunView) -> Freed:
    """`petri gc`: free the unneeded weights of every job whose result has landed."""
    done = [j.id for j in view.jobs(state="done")]
    return free(rd, view, [rd.relative(p) for i in done for p in rd.weight_files(i)])
