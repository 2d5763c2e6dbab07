"""What a latency figure was measured on: the target asked for (`Target`) and everything
about the machine that changes the figure (`TargetInfo`), so a figure means one thing."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.errors import PetriError, install_extra

TARGETS = ("cpu", "cuda", "onnxruntime")
# One thread by default: the figure other processes disturb least, and the same on any
# number of cores; `--threads` measures a deployment that uses more.
DEFAULT_THREADS = 1
DEFAULT_BATCH = 1


@dataclass(frozen=True)
class Target:
    """Where and how to run a model: torch on the CPU or a CUDA GPU, or onnxruntime on the
    CPU; `threads` intra-op threads; `batch` images per run."""

    kind: str = "cpu"
    threads: int = DEFAULT_THREADS
    batch: int = DEFAULT_BATCH

    def __post_init__(self):
        if self.kind not in TARGETS:
            raise PetriError(f"unknown latency target {self.kind!r}; choose one of "
                             f"{', '.join(TARGETS)}")
        for name in ("threads", "batch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PetriError(f"latency {name} must be a positive integer, got {value!r}; "
                                 f"pass --{name} 1 or more")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class TargetInfo:
    """The target and the machine: CPU model and ISA, library versions, the GPU."""

    target: Target
    cpu: str
    isa: str
    torch: str
    onnxruntime: str | None  # None: not installed
    gpu: str | None  # None: the target runs on the CPU

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TargetInfo":
        return cls(**{**d, "target": Target(**d["target"])})

    def line(self) -> str:
        t = self.target
        where = f"GPU {self.gpu}" if self.gpu else f"CPU {self.cpu} ({self.isa})"
        runtime = (f"onnxruntime {self.onnxruntime}" if t.kind == "onnxruntime"
                   else f"torch {self.torch}")
        return f"{t.kind} on {where}, {runtime}, {t.threads} thread(s), batch {t.batch}"


def onnxruntime_module():
    """onnxruntime, or a PetriError naming the extra that installs it."""
    try:
        import onnxruntime
    except ImportError:
        raise PetriError(f"--target onnxruntime needs onnxruntime, which is not installed: "
                         f"{install_extra('onnx')}") from None
    return onnxruntime


def _onnxruntime_version() -> str | None:
    try:
        return onnxruntime_module().__version__
    except PetriError:
        return None


def describe_target(target: Target) -> TargetInfo:
    """The machine `target` runs on; a target this machine cannot run is a PetriError naming
    the fix (a CUDA target without a GPU, onnxruntime not installed)."""
    import torch

    from petri.threads import cpu_model

    gpu = None
    if target.kind == "cuda":
        if not torch.cuda.is_available():
            raise PetriError(f"--target cuda needs a CUDA GPU and torch {torch.__version__} "
                             f"sees none; measure with --target cpu, or on a machine with one")
        gpu = torch.cuda.get_device_name()
    elif target.kind == "onnxruntime":
        onnxruntime_module()
    return TargetInfo(target, cpu_model(), torch.backends.cpu.get_cpu_capability(),
                      torch.__version__, _onnxruntime_version(), gpu)
