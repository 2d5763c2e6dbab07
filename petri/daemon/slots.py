"""Worker slots: GPUs found through NVML (by UUID), or CPU slots where there is no driver.

NVML is an admission guard: it lists GPUs with free memory, utilisation and running
processes; GPUs that foreign processes use are skipped unless allowed; a GPU with too little
free memory gets no slot. Each GPU slot's worker is started with CUDA_VISIBLE_DEVICES=<uuid>
(and PCI bus order), so it sees its GPU as cuda:0. The daemon never initialises CUDA.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from petri.threads import CoreUse, core_use, describe, thread_env

log = logging.getLogger("petri")


@dataclass(frozen=True)
class GpuInfo:
    index: int
    uuid: str
    name: str
    mem_total: int
    mem_free: int
    util: int | None
    processes: tuple[int, ...]


@dataclass(frozen=True)
class Slot:
    name: str
    device: str  # "cpu" or "cuda:0" as the worker sees it
    env: dict = field(default_factory=dict)
    gpu_uuid: str | None = None


def _field(fn, default=None):
    """One NVML query; NotSupported and friends become `default` (as gpustat does)."""
    try:
        return fn()
    except Exception:
        return default


def query_gpus(nvml=None) -> list[GpuInfo] | None:
    """All GPUs NVML sees, or None when there is no usable driver."""
    try:
        if nvml is None:
            import pynvml as nvml
        nvml.nvmlInit()
    except Exception as e:  # NVMLError_LibraryNotFound, DriverNotLoaded, ImportError ...
        log.info("NVML unavailable (%s)", e)
        return None
    try:
        gpus = []
        for i in range(nvml.nvmlDeviceGetCount()):
            h = nvml.nvmlDeviceGetHandleByIndex(i)
            uuid = nvml.nvmlDeviceGetUUID(h)
            uuid = uuid.decode() if isinstance(uuid, bytes) else uuid
            name = _field(lambda: nvml.nvmlDeviceGetName(h), "GPU")
            name = name.decode() if isinstance(name, bytes) else name
            mem = nvml.nvmlDeviceGetMemoryInfo(h)
            util = _field(lambda: nvml.nvmlDeviceGetUtilizationRates(h).gpu)
            procs = _field(lambda: nvml.nvmlDeviceGetComputeRunningProcesses(h), [])
            gpus.append(GpuInfo(i, uuid, name, int(mem.total), int(mem.free), util,
                                tuple(p.pid for p in procs)))
        return gpus
    finally:
        _field(nvml.nvmlShutdown)


def plan_slots(gpus: list[GpuInfo] | None, cpu_slots: int = 1, slots_per_gpu: int = 1,
               min_free_mb: int = 1024, allow_shared: bool = False,
               own_pids: set[int] = frozenset(), threads: int | None = None,
               use: CoreUse | None = None) -> tuple[list[Slot], str]:
    """The slots to run workers in, and one line saying what was chosen and why. CPU slots
    run `threads` threads each, or share the host's free cores (`use`, else counted now:
    see petri.threads)."""
    usable, skipped = [], []
    for g in gpus or []:
        foreign = [p for p in g.processes if p not in own_pids]
        if foreign and not allow_shared:
            skipped.append(f"GPU {g.index} ({g.name}) busy with foreign processes {foreign}")
        elif g.mem_free < min_free_mb * 2 ** 20:
            skipped.append(f"GPU {g.index} ({g.name}) has {g.mem_free >> 20} MiB free")
        else:
            usable.append(g)
    # Usable GPUs with the most free memory come first.
    usable.sort(key=lambda g: -g.mem_free)
    slots = [Slot(f"gpu{g.index}.{k}", "cuda:0",
                  {"CUDA_VISIBLE_DEVICES": g.uuid, "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}, g.uuid)
             for g in usable for k in range(slots_per_gpu)]
    if slots:
        line = f"{len(slots)} GPU slot(s) on {len(usable)} GPU(s)"
        if skipped:
            line += "; skipped " + "; ".join(skipped)
        return slots, line
    use = None if threads is not None else use or core_use()
    threads = threads or max(1, use.free // max(1, cpu_slots))
    env = {"CUDA_VISIBLE_DEVICES": "", **thread_env(threads)}
    slots = [Slot(f"cpu{k}", "cpu", env) for k in range(max(1, cpu_slots))]
    why = "no NVIDIA driver found" if gpus is None else (
        "no usable GPU (" + "; ".join(skipped) + ")" if skipped else "no GPU found")
    return slots, f"CPU mode: {why}; {len(slots)} CPU slot(s) of {describe(threads, use)}"
