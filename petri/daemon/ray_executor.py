"""`RayExecutor`: each slot a long-lived Ray actor, taking jobs one after another.

The daemon, on the head, stays the only writer of the store and of the job directories; no
file system is shared. A job's inputs go to its actor with the job: the files of its job
directory here (the checkpoint to resume from, logs of earlier attempts) and every file under
RUN/jobs/ that its spec names (a parent's weights to warm-start from). The actor runs the job
in a scratch run dir of its own laid out like RUN, so a path a job reports relative to its run
dir means the same here. Every `daemon.progress_every_s` the daemon pulls what changed in the
scratch job dir and mirrors it into the job dir here (progress, checkpoints, logs); the job's
last pull comes back with it, lands after any pull still in flight, `result.json` last, and
only then is the job done. A lost node so costs the work since the last checkpoint that
reached the head, as a killed local worker does.

Faults: a Ray error from any call on an actor (it died, its node was removed, the call raised)
ends that worker as a dead process ends a local one: the daemon fails the attempt as infra and
the job resumes from its checkpoint here, on another actor, while the slot gets a new actor
once the cluster has room. Pulled files are applied only for the lease the handle still holds,
so nothing of an actor that was given up on lands. The actors belong to the daemon's Ray
driver: when the daemon dies Ray ends them, and `petri resume` starts fresh ones.
"""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from dataclasses import KW_ONLY, dataclass, replace
from pathlib import Path
from typing import Any

import ray

from petri.config import RayCfg
from petri.daemon.executor import Event, Handle
from petri.daemon.slots import Slot
from petri.daemon.worker import run_one
from petri.errors import PetriError
from petri.io import atomic_write
from petri.job import Assignment
from petri.rundir import PROGRESS, RESULT, RunDir

SCRATCH_PREFIX = "petri-slot-"  # + the actor's pid: how a new actor tells orphaned scratch
MAX_START_DELAY_S = 60.0  # between tries of a slot whose actors keep dying before they start


def job_files(folder: Path) -> dict[str, Path]:
    """The files under `folder` by relative name, without the temp files of unfinished writes."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p for p in sorted(folder.rglob("*"))
            if p.is_file() and not (p.name.startswith(".") and p.name.endswith(".tmp"))}


def named_inputs(spec, run_dir: Path) -> set[str]:
    """Every string in `spec` that names a file under RUN/jobs/ (another job's output)."""
    jobs = RunDir(run_dir).jobs.name
    found: set[str] = set()
    stack = [spec]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack += v.values()
        elif isinstance(v, (list, tuple)):
            stack += v
        elif isinstance(v, str) and Path(v).parts[:1] == (jobs,) and ".." not in Path(v).parts \
                and (run_dir / v).is_file():
            found.add(v)
    return found


def job_inputs(job: Assignment) -> tuple[str, dict[str, bytes]]:
    """(the job dir relative to the run dir, {run-relative name: bytes} to ship with it)."""
    rel = str(job.job_dir.relative_to(job.run_dir))
    files = {f"{rel}/{name}": p.read_bytes() for name, p in job_files(job.job_dir).items()
             if name not in (PROGRESS, RESULT)}  # both belong to an earlier attempt
    for name in named_inputs(job.spec, job.run_dir):
        files.setdefault(name, (job.run_dir / name).read_bytes())
    return rel, files


def apply_update(job_dir: Path, update: dict) -> None:
    """Mirror one pull into the job dir: changed files (each atomically, `result.json` last:
    once it is here, so is everything else), then remove what the job removed."""
    put = update["put"]
    for name in sorted(put, key=lambda n: n == RESULT):
        atomic_write(job_dir / name, lambda f, data=put[name]: f.write(data),
                     durable=name != PROGRESS)
    keep = set(update["keep"])
    for name, path in job_files(job_dir).items():
        if name not in keep:
            path.unlink(missing_ok=True)


def remove_orphaned_scratch() -> None:
    """Remove the scratch dirs of actors that died mid-job on this host (their node lives on,
    or another node shares its disk): nobody's any more."""
    for d in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        pid = d.name[len(SCRATCH_PREFIX):].split("-")[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


class SlotActor:
    """A slot's worker on a Ray node: one job at a time, in a scratch run dir of its own.

    Threaded (see `max_concurrency` below) so that `sync` and `stop` are answered while `run`
    runs the job.
    """

    def __init__(self):
        remove_orphaned_scratch()
        self.root = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{os.getpid()}-"))
        self.stop_event = threading.Event()  # like a local worker's: once stopped, it stays
        self.lock = threading.Lock()
        self.job_dir: Path | None = None
        self.lease: int | None = None
        self.sent: dict[str, tuple] = {}

    def where(self) -> dict:
        return {"host": socket.gethostname(), "node": ray.get_runtime_context().get_node_id(),
                "gpus": [str(g) for g in ray.get_gpu_ids()]}

    def run(self, job: Assignment, job_rel: str, files: dict[str, bytes]) -> dict:
        """Run the job on the shipped files; returns the last pull (see `sync`)."""
        with self.lock:
            shutil.rmtree(self.root, ignore_errors=True)
            for name, data in files.items():
                path = self.root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            self.job_dir, self.lease = self.root / job_rel, job.lease
            self.job_dir.mkdir(parents=True, exist_ok=True)
            # The head holds these already: pulls send what changes from here on.
            self.sent = {n: _version(p) for n, p in job_files(self.job_dir).items()}
        run_one(replace(job, job_dir=self.job_dir, run_dir=self.root), self.stop_event)
        return self._pull(job.lease, last=True)

    def stop(self) -> None:
        self.stop_event.set()

    def sync(self, lease: int) -> dict | None:
        """What changed in the job dir since the last pull: `put` {name: bytes} and `keep`,
        every name it holds now; None unless the job of `lease` runs here (not yet, or no
        more: a pull arriving after the last one must not mirror an empty dir)."""
        return self._pull(lease, last=False)

    def _pull(self, lease: int, last: bool) -> dict | None:
        with self.lock:
            if lease != self.lease:
                return None
            put, keep = {}, []
            for name, path in job_files(self.job_dir).items():
                try:
                    version = _version(path)
                    if self.sent.get(name) != version:
                        put[name] = path.read_bytes()
                        self.sent[name] = version
                except FileNotFoundError:  # renamed away this moment: the next sync sees it
                    continue
                keep.append(name)
            if last:  # the job is over here
                shutil.rmtree(self.root, ignore_errors=True)
                self.lease = None
            return {"put": put, "keep": keep}


def _version(path: Path) -> tuple:
    st = path.stat()
    return st.st_ino, st.st_mtime_ns, st.st_size


@dataclass
class ActorHandle(Handle):
    actor: Any = None  # a Ray actor handle, once the slot's start is due
    _: KW_ONLY
    start_at: float = 0.0
    where: dict | None = None  # the actor's host, node and GPUs, once it answers
    dead: bool = False
    syncing: bool = False  # one pull in flight at a time, so pulls land in order
    # The last pull, come back with `run` while a pull was in flight; it lands after that one.
    last: dict | None = None
    next_sync: float = 0.0

    def running(self) -> bool:
        return not self.dead

    @property
    def placement(self) -> str:
        return f"{self.slot.device}@{node_name(self.where)}" if self.where else self.slot.device


def node_name(where: dict) -> str:
    # Several raylets may share a host; the node id tells them apart.
    return f"{where['host']}/{where['node'][:8]}"


def connect(address: str) -> str:
    """Join (or, for `local`, start) the cluster; returns the address it is reached at."""
    fix = ("start one with `ray start --head`, or set ray.address to its address, or to local "
           "for a private one on this machine")
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if host and port.isdigit():
        # Ray retries a head that does not answer for two minutes, longer than `petri start`
        # waits for the daemon: ask once, quickly, first.
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise PetriError(f"cannot reach a Ray cluster at ray.address={address} "
                             f"({e.strerror or e}): {fix}") from None
    try:
        if address == "local":
            info = ray.init(address="local", include_dashboard=False, log_to_driver=False,
                            namespace="petri")
        else:
            info = ray.init(address=address, log_to_driver=False, namespace="petri")
    except Exception as e:  # ConnectionError, ValueError, RuntimeError: Ray's words for it
        why = " ".join(str(e).split())[:300]
        raise PetriError(f"cannot reach a Ray cluster at ray.address={address} ({why}): "
                         f"{fix}") from None
    return info.address_info.get("gcs_address") or address


class RayExecutor:
    def __init__(self, cfg: RayCfg):
        self.cfg = cfg
        self.address = connect(cfg.address)
        n = cfg.slots or self._room()
        device = "cuda:0" if cfg.num_gpus else "cpu"  # Ray sets CUDA_VISIBLE_DEVICES per actor
        self.slots = [Slot(f"ray{k}", device) for k in range(n)]
        self.actor_cls = ray.remote(SlotActor).options(
            num_cpus=cfg.num_cpus, num_gpus=cfg.num_gpus, max_concurrency=3,
            # Ray must not restart an actor nor retry a call: petri retries the job itself,
            # from the checkpoint on the head, under a new lease.
            max_restarts=0, max_task_retries=0, scheduling_strategy="SPREAD")
        self.handles: list[ActorHandle] = []
        self.calls: dict[Any, tuple[ActorHandle, str, int | None]] = {}  # ref -> (h, call, lease)
        self.gone: list[ActorHandle] = []  # killed, their exit not yet reported
        self.start_delay: dict[str, float] = {}
        self.start_error: dict[str, str] = {}

    def _room(self) -> int:
        """How many slots the cluster's live nodes hold now."""
        total = 0
        for node in ray.nodes():
            if not node["Alive"]:
                continue
            res = node["Resources"]
            fits = [res.get("CPU", 0) / self.cfg.num_cpus]
            if self.cfg.num_gpus:
                fits.append(res.get("GPU", 0) / self.cfg.num_gpus)
            total += int(min(fits) + 1e-9)
        if not total:
            raise PetriError(f"the Ray cluster at {self.address} has no node with room for one "
                             f"slot ({self._resources()}): lower ray.num_cpus or ray.num_gpus, "
                             f"or add nodes")
        return total

    def _resources(self) -> str:
        parts = [f"{self.cfg.num_cpus:g} CPU"]
        if self.cfg.num_gpus:
            parts.append(f"{self.cfg.num_gpus:g} GPU")
        return " + ".join(parts)

    def describe(self) -> str:
        """Each slot's node, or why it has none, in one line for `petri status`."""
        by_node: dict[str, list[str]] = {}
        waiting = []
        for h in self.handles:
            if h.where:
                gpus = h.where["gpus"]
                by_node.setdefault(node_name(h.where), []).append(
                    f"{h.slot.name} (GPU {','.join(gpus)})" if gpus else h.slot.name)
            elif not h.dead:
                why = self.start_error.get(h.slot.name)
                waiting.append(f"{h.slot.name} (retrying: {why})" if why else h.slot.name)
        line = f"Ray at {self.address}: {len(self.slots)} slot(s) of {self._resources()}"
        if by_node:
            line += " on " + "; ".join(f"{node}: {' '.join(names)}"
                                       for node, names in sorted(by_node.items()))
        if waiting:
            line += "; waiting for room: " + ", ".join(waiting)
        return line

    # ---- the seam ----------------------------------------------------------------------------
    def spawn(self, slot: Slot) -> ActorHandle:
        h = ActorHandle(slot, start_at=time.time() + self.start_delay.get(slot.name, 0.0))
        self.handles.append(h)
        self._start_due()
        return h

    def _start_due(self) -> None:
        now = time.time()
        for h in self.handles:
            if h.actor is None and not h.dead and now >= h.start_at:
                h.actor = self.actor_cls.remote()
                self._call(h, "where", None, h.actor.where.remote())

    def _call(self, h: ActorHandle, call: str, lease: int | None, ref) -> None:
        self.calls[ref] = (h, call, lease)

    def assign(self, h: ActorHandle, job: Assignment) -> None:
        h.job = job
        h.assigned_at = time.time()
        h.last = None
        h.next_sync = h.assigned_at + job.progress_every_s
        rel, files = job_inputs(job)
        self._call(h, "run", job.lease, h.actor.run.remote(job, rel, files))

    def request_stop(self, h: ActorHandle) -> None:
        if h.actor is not None and not h.dead:
            h.actor.stop.remote()

    def kill(self, h: ActorHandle, reason: str) -> None:
        h.exit_reason = h.exit_reason or reason
        if h.dead:
            return
        h.dead = True
        if h.actor is not None:
            try:
                ray.kill(h.actor, no_restart=True)
            except Exception:  # already dead, or Ray is going down: it is gone either way
                pass
        self.gone.append(h)

    def poll(self, timeout: float) -> list[Event]:
        self._start_due()
        now = time.time()
        for h in self.handles:
            if h.job is not None and not h.dead and not h.syncing and h.last is None \
                    and now >= h.next_sync:
                self._sync(h)
        events: list[Event] = []
        if self.gone:
            timeout = 0
        wait = min([timeout] + [max(0.0, h.next_sync - now) for h in self.handles
                                if h.job is not None and not (h.dead or h.syncing)])
        if self.calls:
            ready, _ = ray.wait(list(self.calls), num_returns=1, timeout=wait)
            if ready:
                rest = [r for r in self.calls if r not in ready]
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0) if rest else ([], [])
                for ref in ready + more:
                    events += self._answer(ref)
        elif wait > 0:
            time.sleep(wait)
        for h in self.gone:
            self.handles.remove(h)
            events.append(Event("exited", h, {"returncode": None}))
        self.gone = []
        self.calls = {r: c for r, c in self.calls.items() if not c[0].dead}
        return events

    def _sync(self, h: ActorHandle) -> None:
        h.syncing = True
        lease = h.job.lease
        self._call(h, "sync", lease, h.actor.sync.remote(lease))

    def _answer(self, ref) -> list[Event]:
        h, call, lease = self.calls.pop(ref)
        if h.dead:
            return []
        try:
            value = ray.get(ref)
        except Exception as e:  # RayActorError (died, node removed), or the call raised
            self.kill(h, f"Ray actor {h.slot.name} lost: {_first_line(e)}")
            if call == "where":  # it died before it ever started: wait longer each time
                self.start_delay[h.slot.name] = min(MAX_START_DELAY_S,
                                                    2 * self.start_delay.get(h.slot.name, 0.5))
                self.start_error[h.slot.name] = h.exit_reason
            return []
        if call == "where":
            h.where, h.ready = value, True
            self.start_delay.pop(h.slot.name, None)
            self.start_error.pop(h.slot.name, None)
            return [Event("ready", h, value)]
        if h.job is None or h.job.lease != lease:
            return []  # the answer of a job this handle no longer holds
        job_dir = h.job.job_dir
        if call == "run":
            if h.syncing:
                h.last = value
                return []
        else:
            h.syncing = False
            if value is not None:
                apply_update(job_dir, value)
            h.next_sync = time.time() + h.job.progress_every_s
            if h.last is None:
                return []
            value = h.last
        apply_update(job_dir, value)
        return [Event("done", h, {"job_id": h.job.job_id, "lease": lease})]

    def close_all(self) -> None:
        """Kill every actor and leave the cluster; the exits follow in `poll`, without Ray."""
        for h in self.handles:
            self.kill(h, "daemon exiting")
        self.calls.clear()
        ray.shutdown()


def _first_line(e: Exception) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]
