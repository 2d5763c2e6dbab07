"""The executor seam: how the daemon runs workers. `LocalExecutor` uses local processes;
`petri.daemon.ray_executor.RayExecutor` uses Ray actors (imported only when a run asks for it).

Both offer the same calls: `slots` and `describe()` (the slots to fill and a line saying where
they are), `spawn(slot)`, `assign(handle, assignment)`, `request_stop(handle)`,
`kill(handle, reason)`, `poll(timeout) -> events` and `close_all()`. Whatever runs a job, its
job directory on this machine is where the daemon finds its progress, checkpoints and
`result.json`; the algorithms never see the executor.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, dataclass, field

from petri.daemon.process import process_start_time
from petri.daemon.slots import Slot
from petri.job import Assignment


@dataclass
class Handle(ABC):
    """One slot's worker as the daemon sees it, whatever runs it."""

    slot: Slot
    _: KW_ONLY
    ready: bool = False
    job: Assignment | None = None  # the job in hand
    assigned_at: float = 0.0
    exit_reason: str | None = None
    # The local process the store records with a claim, so a restarted daemon can kill an
    # orphan; None where no process of this machine runs the job.
    pid: int | None = None
    pid_start: str | None = None

    @abstractmethod
    def running(self) -> bool:
        """Whether the worker can still take a job."""

    @property
    def idle(self) -> bool:
        return self.ready and self.job is None and self.running()

    @property
    def placement(self) -> str:
        """Where jobs of this worker run, as the store records it with each claim."""
        return self.slot.device


@dataclass
class WorkerHandle(Handle):
    proc: subprocess.Popen
    _: KW_ONLY
    buffer: bytes = b""

    def running(self) -> bool:
        return self.proc.poll() is None


@dataclass
class Event:
    kind: str  # ready | done | exited
    handle: Handle
    data: dict = field(default_factory=dict)


class LocalExecutor:
    def __init__(self, log_file, slots: list[Slot] = (), line: str = ""):
        self.log_file = log_file
        self.slots = list(slots)
        self.line = line
        self.selector = selectors.DefaultSelector()
        self.handles: list[WorkerHandle] = []

    def describe(self) -> str:
        return self.line

    def spawn(self, slot: Slot) -> WorkerHandle:
        env = {**os.environ, **slot.env, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "petri.daemon.worker"], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=self.log_file, start_new_session=True)
        os.set_blocking(proc.stdout.fileno(), False)
        h = WorkerHandle(slot, proc, pid=proc.pid, pid_start=process_start_time(proc.pid))
        self.selector.register(proc.stdout, selectors.EVENT_READ, h)
        self.handles.append(h)
        return h

    def assign(self, h: WorkerHandle, job: Assignment) -> None:
        h.job = job
        h.assigned_at = time.time()
        self._send(h, {"cmd": "run", **job.to_dict()})

    def request_stop(self, h: WorkerHandle) -> None:
        self._send(h, {"cmd": "stop"})

    def _send(self, h: WorkerHandle, msg: dict) -> None:
        try:
            h.proc.stdin.write((json.dumps(msg) + "\n").encode())
            h.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # the worker is gone; poll() reports its exit

    def kill(self, h: WorkerHandle, reason: str) -> None:
        """SIGKILL the worker's whole process group."""
        h.exit_reason = h.exit_reason or reason
        try:
            os.killpg(h.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def poll(self, timeout: float) -> list[Event]:
        events: list[Event] = []
        for key, _ in self.selector.select(timeout):
            h: WorkerHandle = key.data
            try:
                chunk = os.read(key.fileobj.fileno(), 65536)
            except BlockingIOError:
                continue
            if not chunk:
                self.selector.unregister(key.fileobj)
                continue
            h.buffer += chunk
            while b"\n" in h.buffer:
                line, h.buffer = h.buffer.split(b"\n", 1)
                msg = json.loads(line)
                if msg["event"] == "ready":
                    h.ready = True
                events.append(Event(msg["event"], h, msg))
        for h in list(self.handles):
            if h.proc.poll() is not None:
                try:
                    self.selector.unregister(h.proc.stdout)
                except (KeyError, ValueError):
                    pass
                self.handles.remove(h)
                events.append(Event("exited", h, {"returncode": h.proc.returncode}))
        return events

    def close_all(self) -> None:
        """End of stdin tells each worker to exit; their exits follow in `poll`."""
        for h in self.handles:
            try:
                h.proc.stdin.close()
            except OSError:
                pass
        self.log_file.close()  # the workers hold their own copies of it
