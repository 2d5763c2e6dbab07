"""A run's life after `petri start`: extend its budget, retry failed jobs, cancel jobs.

A run's store has one writer (store/store.py). So a command that changes a run asks the one
that writes: where a daemon holds the run, the command leaves a `Request` in RUN/requests/,
the daemon carries it out between two turns of its loop (`serve`) and answers with a
`Reply` beside it; where none does, the command takes the run's lock itself, so that no
daemon starts meanwhile, and carries the request out on the store. Both ways go through
`perform`, so a change is the same whoever makes it, and each is an event of the run.

A request file is taken by renaming it: the daemon takes it to carry it out, and a command
that gave up waiting takes it back the same way, so a request is carried out at most once.
"""
from __future__ import annotations

import copy
import os
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Literal

from petri.config import apply_override, from_mapping, read_yaml
from petri.errors import ConfigError, PetriError
from petri.io import atomic_write_json, read_json
from petri.rundir import RunDir
from petri.store.records import Job

REQUEST, TAKEN, REPLY = ".request.json", ".taken", ".reply.json"
ANSWER_TIMEOUT_S = 120.0  # a daemon answers between two turns of its loop: a job's ingest


@dataclass(frozen=True)
class Request:
    action: Literal["extend", "retry", "cancel"]
    sets: tuple[str, ...] = ()  # extend: KEY=VALUE of extendable keys
    jobs: tuple[int, ...] | None = None  # retry, cancel: job ids (retry with None: all failed)

    @classmethod
    def from_dict(cls, d: dict) -> "Request":
        return cls(d["action"], tuple(d["sets"]),
                   None if d["jobs"] is None else tuple(d["jobs"]))


@dataclass(frozen=True)
class Reply:
    by: Literal["daemon", "command"]  # who carried the request out
    error: str | None = None  # why nothing changed
    jobs: list[int] = field(default_factory=list)  # the jobs retried or cancelled
    changes: dict[str, list] = field(default_factory=dict)  # key -> [before, after]

    @classmethod
    def from_dict(cls, d: dict) -> "Reply":
        return cls(**{f.name: d[f.name] for f in fields(cls)})


# ---- extending a run's budget ---------------------------------------------------------------
def extendable_keys(cfg: dict) -> list[str]:
    """The dotted keys of `cfg`'s algorithm that may change on an existing run: the fields
    its config classes mark `extendable` (its budget and termination keys)."""
    from petri.algos.registry import algo_class

    return [f"{section}.{f.name}"
            for section, cls in algo_class(cfg.get("algo")).settings.items()
            for f in fields(cls) if f.metadata.get("extendable")]


def extended(cfg: dict, sets: tuple[str, ...]):
    """(`cfg` with `sets` applied, each changed key's [before, after] as the algorithm reads
    it (defaults filled in), the algorithm built from it). A key that may not change is
    refused in one line naming the ones that may; a bad value as by `petri start`."""
    from petri.algos.registry import algo_class
    from petri.launch import check

    allowed = extendable_keys(cfg)
    new = copy.deepcopy(cfg)
    for assignment in sets:
        key = assignment.partition("=")[0].strip()
        if key not in allowed:
            may = f"only {', '.join(allowed)} may" if allowed else "none may"
            raise ConfigError(f"--set {key}: an existing run keeps its config except its "
                              f"budget and termination keys, and of a {cfg.get('algo')} run "
                              f"{may} change")
        apply_override(new, assignment)
    algo = check(new, "--set")
    settings = algo_class(cfg.get("algo")).settings
    changes = {}
    for key in dict.fromkeys(a.partition("=")[0].strip() for a in sets):
        section, name = key.split(".", 1)
        before, after = (getattr(from_mapping(settings[section], c.get(section), section), name)
                         for c in (cfg, new))
        if before != after:
            changes[key] = [before, after]
    return new, changes, algo


def note_plan(store, algo) -> None:
    """Record what the algorithm plans (`status`: "13 of 20 points" and the ETA)."""
    if (planned := algo.planned_points()) is not None:
        store.set_meta(planned_points=planned, planned_jobs=algo.planned_jobs())


# ---- carrying a request out ---------------------------------------------------------------
def perform(request: Request, store, run_dir: Path, stop: Callable[[Job], None], by: str):
    """Carry `request` out on the writable `store` of the run at `run_dir`, as `by` (the
    daemon or the command); `stop(job)` ends the worker of a cancelled running job. Returns
    the reply and, after an extension, the run's new (config, algorithm). Raises
    `PetriError`, with nothing changed, for a request that cannot be carried out."""
    if request.action == "extend":
        return _extend(request.sets, store, run_dir, by)
    if request.action == "retry":
        jobs = store.retry(None if request.jobs is None else list(request.jobs))
        if jobs:
            store.set_meta(done=0)  # it has work again
        return Reply(by, jobs=[j.id for j in jobs]), None
    if request.action == "cancel":
        jobs = store.cancel(list(request.jobs or ()), "cancelled by `petri cancel`")
        for job in jobs:
            if job.state == "running":
                stop(job)
        return Reply(by, jobs=[j.id for j in jobs]), None
    raise PetriError(f"unknown request {request.action!r}")


def _extend(sets: tuple[str, ...], store, run_dir: Path, by: str):
    from petri.launch import save_config

    cfg, changes, algo = extended(read_yaml(RunDir(run_dir).config, "run's saved config"),
                                  sets)
    if not changes:
        return Reply(by), None
    save_config(cfg, run_dir)  # first: what a daemon reads when it starts
    said = ", ".join(f"{k} {before} -> {after}" for k, (before, after) in changes.items())
    store.log_event("config", f"extended: {said}")
    note_plan(store, algo)
    store.set_meta(done=0)  # a finished search goes on, as the algorithm now sees it
    return Reply(by, changes=changes), (cfg, algo)


# ---- the daemon's side ------------------------------------------------------------------------
def serve(run_dir: Path, carry_out: Callable[[Request], Reply]) -> None:
    """Carry out every request waiting in RUN/requests/, oldest first, answering each."""
    folder = RunDir(run_dir).requests
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return
    for name in names:
        if not name.endswith(REQUEST):
            continue
        ident = name.removesuffix(REQUEST)
        taken = folder / f"{ident}{TAKEN}"
        try:
            os.rename(folder / name, taken)
        except FileNotFoundError:  # taken back by the command that asked
            continue
        try:
            reply = carry_out(Request.from_dict(read_json(taken)))
        except (PetriError, KeyError, TypeError) as e:
            reply = Reply("daemon", error=str(e) if isinstance(e, PetriError)
                          else f"a malformed request ({type(e).__name__}: {e})")
        atomic_write_json(folder / f"{ident}{REPLY}", asdict(reply))
        taken.unlink(missing_ok=True)


# ---- the command's side -----------------------------------------------------------------------
def submit(run_dir: Path, request: Request, timeout_s: float = ANSWER_TIMEOUT_S) -> Reply:
    """Have `request` carried out on the run at `run_dir`: by its live daemon, or here
    under the run's lock where none runs. Raises `PetriError` with the reason where it
    could not be carried out (nothing changed)."""
    from petri.daemon.lock import RunLock, lock_held
    from petri.store.store import RunStore

    RunStore.open(run_dir, readonly=True).close()  # no run here is one line naming the fix
    lock = RunLock(run_dir)
    if not lock_held(run_dir) and lock.acquire():
        return _here(run_dir, request, lock)
    folder = RunDir(run_dir).requests
    ident = f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"
    asked = folder / f"{ident}{REQUEST}"
    atomic_write_json(asked, asdict(request))
    deadline = time.monotonic() + timeout_s
    while True:
        if (reply := _answer(folder, ident)) is not None:
            return reply
        if not lock_held(run_dir) and lock.acquire(wait_s=0):  # the daemon has ended
            if _take_back(asked):
                return _here(run_dir, request, lock)
            lock.release()
            if (reply := _answer(folder, ident)) is not None:
                return reply
            raise PetriError(f"the daemon of {run_dir} ended while carrying the request "
                             f"out; `petri status {run_dir}` shows what changed")
        if time.monotonic() > deadline and _take_back(asked):
            raise PetriError(f"the daemon of {run_dir} did not take the request within "
                             f"{timeout_s:.0f} s (nothing changed): a daemon of an older "
                             f"petri cannot; `petri stop {run_dir}`, then ask again")
        time.sleep(0.05)


def _here(run_dir: Path, request: Request, lock) -> Reply:
    """Carry the request out in this process, which holds the run's lock."""
    from petri.daemon.process import kill_if_same
    from petri.store.store import RunStore

    try:
        with RunStore.open(run_dir) as store:
            # A job left running by a dead daemon may have an orphaned worker still going.
            reply, _ = perform(request, store, run_dir,
                               lambda job: kill_if_same(job.pid, job.pid_start), "command")
        return reply
    finally:
        lock.release()


def _answer(folder: Path, ident: str) -> Reply | None:
    path = folder / f"{ident}{REPLY}"
    answer = read_json(path)
    if answer is None:
        return None
    path.unlink(missing_ok=True)
    reply = Reply.from_dict(answer)
    if reply.error:
        raise PetriError(reply.error)
    return reply


def _take_back(asked: Path) -> bool:
    """Withdraw a request no daemon has taken; False where one has taken it already."""
    try:
        asked.unlink()
        return True
    except FileNotFoundError:
        return False
