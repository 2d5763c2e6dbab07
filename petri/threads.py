"""CPU threads for petri's training processes (CPU slots and `petri train`).

By default a process takes the cores that other petri daemons on this host do not already
use: two runs that each take every core oversubscribe them, and CPU training then slows many
times over, far below what one thread each keeps (BENCHMARKS.md, "CPU threads").

The rule: every live process on the host that runs `python -m petri.daemon.worker` (a daemon's
worker), other than this process's own children, uses the number of threads in its
OMP_NUM_THREADS, which petri sets for every CPU slot (1 where its environment cannot be read,
e.g. another user's process, or sets none). The free cores are this process's usable cores
(its CPU affinity) less that sum, never fewer than one; CPU slots share them equally.
`daemon.threads` / `petri train --threads` replace the rule with a fixed count.
"""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

WORKER_MODULE = "petri.daemon.worker"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class CoreUse:
    cores: int  # usable by this process
    used: int  # threads of other petri daemons' workers

    @property
    def free(self) -> int:
        return max(1, self.cores - self.used)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # no affinity masks (macOS)
        return os.cpu_count() or 1


def worker_threads(proc_dir: Path, own_pid: int) -> int:
    """Threads of the petri worker in `proc_dir`, 0 if it is none, ours, or gone."""
    try:
        if WORKER_MODULE.encode() not in (proc_dir / "cmdline").read_bytes().split(b"\0"):
            return 0
        # The command name in parentheses may hold spaces; state and ppid follow it.
        state, ppid = (proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError):
        return 0
    if state in ("Z", "X") or int(ppid) == own_pid:
        return 0
    try:
        env = (proc_dir / "environ").read_bytes().split(b"\0")
    except OSError:
        return 1
    for item in env:
        name, _, value = item.partition(b"=")
        if name == b"OMP_NUM_THREADS" and value.isdigit():
            return max(1, int(value))
    return 1


def core_use(proc: Path = Path("/proc"), cores: int | None = None,
             own_pid: int | None = None) -> CoreUse:
    """The usable cores and how many of them other petri daemons' workers use."""
    own = os.getpid() if own_pid is None else own_pid
    try:
        entries = [d for d in proc.iterdir() if d.name.isdigit()]
    except OSError:  # no /proc: nothing to count
        entries = []
    return CoreUse(usable_cores() if cores is None else cores,
                   sum(worker_threads(d, own) for d in entries))


def thread_env(threads: int) -> dict[str, str]:
    """What a worker's environment needs for torch (and MKL) to use `threads` threads."""
    return {name: str(threads) for name in THREAD_VARS}


def describe(threads: int, use: CoreUse | None) -> str:
    """Why this many threads: fixed by the config, or the free cores of the host."""
    if use is None:
        return f"{threads} thread(s) (set)"
    return (f"{threads} thread(s) ({use.cores} cores, {use.used} used by other petri "
            f"daemons)")

def cpu_model() -> str:
    """The CPU's model name, as the kernel reports it."""
    try:
        return next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()
