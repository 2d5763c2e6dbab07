"""The facts `petri doctor` reports for a bug report (its fast-form verdicts come from
`petri.algos.darts.fastcheck`)."""
from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Fact:
    name: str
    value: str


def _gpus() -> str:
    from petri.daemon.slots import query_gpus

    gpus = query_gpus()
    if gpus is None:
        return "none (NVML: no driver)"
    return "; ".join(f"{g.index}: {g.name}, {g.mem_free / 2**30:.0f} of "
                     f"{g.mem_total / 2**30:.0f} GiB free" for g in gpus) or "none"


def _nvidia_driver() -> str:
    try:
        import pynvml as nvml

        nvml.nvmlInit()
        try:
            v = nvml.nvmlSystemGetDriverVersion()
            return v.decode() if isinstance(v, bytes) else v
        finally:
            nvml.nvmlShutdown()
    except Exception:  # no library, no driver: nothing to report
        return "none"


def facts(path: str | Path = ".") -> list[Fact]:
    """Versions, kernels, devices, threads and disk: one line each in `petri doctor`."""
    import torch

    import petri
    from petri.threads import cpu_model, usable_cores

    onednn = re.search(r"MKL-DNN v([\d.]+)", torch.__config__.show())
    isa = torch.backends.cpu.get_cpu_capability()
    if os.environ.get("ONEDNN_MAX_CPU_ISA"):
        isa += f" (oneDNN limited to {os.environ['ONEDNN_MAX_CPU_ISA']})"
    cuda = (f"{torch.version.cuda}, {torch.cuda.device_count()} device(s)"
            if torch.cuda.is_available() else f"not available (built with {torch.version.cuda})")
    disk = shutil.disk_usage(path)
    return [
        Fact("petri", petri.__version__),
        Fact("python", f"{platform.python_version()} ({sys.executable})"),
        Fact("os", platform.platform()),
        Fact("torch", f"{torch.__version__} (git {torch.version.git_version[:10]})"),
        Fact("oneDNN", onednn.group(1) if onednn else "not built in"),
        Fact("cpu", f"{cpu_model()}; ISA {isa}"),
        Fact("cores", f"{os.cpu_count()} ({usable_cores()} usable)"),
        Fact("torch threads", str(torch.get_num_threads())),
        Fact("cuda", cuda),
        Fact("nvidia driver", _nvidia_driver()),
        Fact("gpus (NVML)", _gpus()),
        Fact("free disk", f"{disk.free / 2**30:.1f} of {disk.total / 2**30:.1f} GiB at "
                          f"{Path(path).resolve()}"),
    ]
