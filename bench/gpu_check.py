"""Every CUDA figure petri claims, measured in one run of under 8 minutes, as a markdown table
to paste into BENCHMARKS.md.

    bench/gpu_check.sh [--out FILE] [--dry-run]        (or: make gpu-check)

1. Training throughput (bench/train_throughput.py's two cases): fp32 NCHW, fp32
   channels_last, bf16 autocast channels_last (what the trainer runs on CUDA).
2. The supernet step (bench/supernet_throughput.py) of DARTS and PC-DARTS, NHWC, bf16
   autocast (the trainer's CUDA defaults): eager, regionally compiled (`supernet.compile:
   inductor`) and compiled with CUDA graphs (`cudagraphs`), each with its ratio to the
   original code's computation in NCHW (`reference-nchw`) in the same interleaved rounds.
3. Latency (`petri latency --target cuda`, timed with CUDA events): DARTS_V2 networks of about
   10k to 1M parameters, batch 1, each measured 5 times uncached; the median and how much the
   five medians spread (the CPU's goal, at most 3%, holds here too?).
4. Toy Petridish (configs/petridish_toy.yaml) with 1, 2 and 4 slots per GPU
   (`daemon.slots_per_gpu`): jobs finished per hour over a fixed window from the daemon's
   start, and the GPU's busy fraction over that window (NVML utilisation sampled every 0.5 s).

`--dry-run` runs the same code on the CPU at tiny sizes, so that the first GPU run does not
fail on a typo: bf16 autocast runs on the CPU, the compiled forms go through dynamo with the
aot_eager backend (the code path, not inductor's code generation, which
tests/algos/darts/test_supernet_compile.py covers), the slots are CPU slots, and the NVML sampler
runs against a stand-in whose names are checked against pynvml's.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script, bench/ is not on the path

import torch  # noqa: E402

from bench import supernet_throughput as supernet  # noqa: E402
from petri.algos.darts import fastcheck  # noqa: E402
from bench import train_throughput as training  # noqa: E402
from bench.latency_stability import QUICK, SIZES, stability  # noqa: E402
from petri.latency.measure import Protocol  # noqa: E402
from petri.latency.target import Target  # noqa: E402

TOY = ROOT / "configs" / "petridish_toy.yaml"


@dataclass(frozen=True)
class Plan:
    """How much of each figure to measure: the GPU run's sizes, or the dry run's."""

    device: str
    train_steps: int
    train_warmup: int
    supernet_size: dict
    supernet_steps: int
    supernet_rounds: int
    slots: tuple[int, ...]
    window_s: float
    toy_overrides: tuple[str, ...]
    fast_forms: tuple[str, ...]
    fast_cases: int | None  # how many of fastcheck.MACHINE_CASES (None: all)
    latency_protocol: Protocol
    latency_sizes: int  # how many of latency_stability.SIZES


GPU = Plan("cuda", train_steps=20, train_warmup=5, supernet_size=supernet.SIZE,
           supernet_steps=5, supernet_rounds=2, slots=(1, 2, 4), window_s=50.0,
           # This process holds a CUDA context: to the daemon a foreign process on the GPU.
           toy_overrides=("daemon.allow_shared_gpus=true",),
           fast_forms=(fastcheck.FAST,), fast_cases=None,
           latency_protocol=Protocol(), latency_sizes=len(SIZES))
DRY = Plan("cpu", train_steps=2, train_warmup=1,
           supernet_size=dict(channels=4, cells=3, nodes=1, batch=4, hw=8),
           supernet_steps=1, supernet_rounds=1, slots=(1, 2), window_s=8.0,
           toy_overrides=("data.subset=256", "data.val_subset=64", "petridish.search_subset=64",
                          "daemon.use_gpus=false"),
           fast_forms=(fastcheck.FAST,), fast_cases=2,
           latency_protocol=QUICK, latency_sizes=1)

TRAIN_FORMS = {"fp32 NCHW": (False, False), "fp32 channels_last": (False, True),
               "bf16 channels_last": (True, True)}
# The first is the ratios' base: the original code's computation, in its layout.
SUPERNET_FORMS = ("reference-nchw", "eager-nhwc", "inductor-nhwc", "cudagraphs-nhwc")


def train_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    device = torch.device(plan.device)
    rows = []
    for case in training.CASES:
        base = None
        for form, (amp, nhwc) in TRAIN_FORMS.items():
            rate = training.measure(case, device, plan.train_steps, plan.train_warmup, amp=amp,
                                    channels_last=nhwc)
            base = base or rate
            rows.append(("train", f"{case}, {form}", f"{rate:.0f} img/s",
                         f"{rate / base:.2f}x fp32 NCHW"))
    return rows


def supernet_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    device = torch.device(plan.device)
    rows = []
    for variant in supernet.VARIANTS:
        result = supernet.compare(variant, SUPERNET_FORMS, device, plan.supernet_steps,
                                  plan.supernet_rounds, plan.supernet_size)
        for form, (rate, ratio, warmup_s) in result.items():
            note = f"{ratio:.2f}x {SUPERNET_FORMS[0]}" + (f", warm-up {warmup_s:.0f} s"
                                             if supernet.FORMS[form][0] else "")
            rows.append(("supernet", f"{variant}, {form}", f"{rate:.1f} img/s", note))
    return rows


def fastpath_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    """This device's verdict on the supernet's fast forms (`petri doctor` checks the same)."""
    rows = []
    for form in plan.fast_forms:
        v = fastcheck.check_machine(form, torch.get_num_threads(), plan.device,
                                    cases=fastcheck.MACHINE_CASES[:plan.fast_cases])
        rows.append(("fast path", f"{form} vs {fastcheck.PLAIN}, {plan.device}",
                     "agrees" if v.ok else "DISAGREES", v.detail))
    return rows


def latency_rows(plan: Plan) -> list[tuple[str, str, str, str]]:
    """`petri latency`'s repeatability on this device (CUDA events on a GPU)."""
    rows = []
    for channels, cells, params, median, cv, cv_runs in stability(
            Target(plan.device, 1, 1), "cifar10", plan.latency_protocol, 5,
            SIZES[:plan.latency_sizes]):
        rows.append(("latency", f"DARTS_V2 C={channels}, {cells} cells ({params:,} params), "
                     f"batch 1", f"{median:.3f} ms", f"CV of median {100 * cv:.2f}% over 5, "
                     f"CV of runs {100 * cv_runs:.1f}%"))
    return rows


class Busy:
    """The mean NVML utilisation of every GPU, sampled every `every_s` in a thread: NVML's
    figure is the share of its last sample period with a kernel running, so the mean is the
    fraction of the window the GPUs were busy."""

    def __init__(self, nvml, every_s: float = 0.5):
        self.nvml, self.every_s = nvml, every_s
        self.samples: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        nvml = self.nvml
        nvml.nvmlInit()
        try:
            handles = [nvml.nvmlDeviceGetHandleByIndex(i)
                       for i in range(nvml.nvmlDeviceGetCount())]
            while not self._stop.wait(self.every_s):
                util = [nvml.nvmlDeviceGetUtilizationRates(h).gpu for h in handles]
                self.samples.append(sum(util) / max(1, len(util)) / 100)
        finally:
            nvml.nvmlShutdown()

    def __enter__(self) -> "Busy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def fraction(self) -> float:
        return sum(self.samples) / max(1, len(self.samples))


class FakeNvml:
    """A stand-in for pynvml on a machine without a GPU (the dry run): one idle GPU."""

    class NVMLError(Exception):
        pass

    @staticmethod
    def nvmlInit() -> None:
        pass

    @staticmethod
    def nvmlShutdown() -> None:
        pass

    @staticmethod
    def nvmlDeviceGetCount() -> int:
        return 1

    @staticmethod
    def nvmlDeviceGetHandleByIndex(i: int):
        return i

    @staticmethod
    def nvmlDeviceGetUtilizationRates(handle):
        return type("Utilization", (), {"gpu": 0, "memory": 0})()


def petri(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "petri.cli.main", *args], cwd=ROOT,
                          capture_output=True, text=True, check=True)


def toy_rows(plan: Plan, nvml) -> list[tuple[str, str, str, str]]:
    from petri.status import snapshot

    rows = []
    for slots in plan.slots:
        with tempfile.TemporaryDirectory(prefix="petri-gpu-check-") as tmp:
            run = Path(tmp) / "toy"
            sets = [f"daemon.slots_per_gpu={slots}", f"daemon.cpu_slots={slots}",
                    *plan.toy_overrides]
            with Busy(nvml) as busy:
                t0 = time.perf_counter()
                petri("start", str(TOY), "--run-dir", str(run),
                      *[a for s in sets for a in ("--set", s)])
                try:
                    time.sleep(max(0.0, plan.window_s - (time.perf_counter() - t0)))
                    snap = snapshot(run)
                finally:
                    petri("stop", str(run), "--now")
            if snap["failures"]:
                raise RuntimeError(f"toy Petridish jobs failed at {slots} slot(s): "
                                   f"{snap['failures'][0]}")
            done = snap["jobs"]["done"]
            rows.append(("toy petridish", f"{slots} slot(s) per GPU",
                         f"{done * 3600 / plan.window_s:.0f} jobs/h",
                         f"{done} jobs in {plan.window_s:.0f} s, GPU busy {busy.fraction:.0%}; "
                         f"{snap['daemon']['slots']}"))
    return rows


def table(rows, plan: Plan, wall_s: float) -> str:
    if plan.device == "cuda":
        where = torch.cuda.get_device_name(0)
    else:
        where = f"{platform.processor() or platform.machine()}, DRY RUN (tiny sizes, CPU)"
    lines = [f"GPU check: torch {torch.__version__}, {where}, {time.strftime('%Y-%m-%d')}, "
             f"{wall_s:.0f} s in all (`bench/gpu_check.sh`)", "",
             "| figure | case | value | notes |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "runs" / "gpu_check.md")
    ap.add_argument("--dry-run", action="store_true",
                    help="tiny sizes on the CPU: checks the code paths, measures nothing")
    args = ap.parse_args()
    plan = DRY if args.dry_run else GPU
    if args.dry_run:
        # The compiled forms through dynamo and AOT autograd, without inductor's minutes of
        # code generation on a CPU.
        torch._dynamo.config.debug_backend_override = ">=0:aot_eager"
        nvml = FakeNvml
    else:
        if not torch.cuda.is_available():
            print("gpu_check: no CUDA device; run with --dry-run to check the code paths on "
                  "the CPU", file=sys.stderr)
            return 1
        import pynvml as nvml
    t0 = time.perf_counter()
    rows = []
    for section in (fastpath_rows, train_rows, supernet_rows, latency_rows):
        rows += section(plan)
        print(f"{section.__name__}: done at {time.perf_counter() - t0:.0f} s", flush=True)
    if plan.device == "cuda":
        torch.cuda.empty_cache()  # the toy's workers get the memory the sections above held
    rows += toy_rows(plan, nvml)
    text = table(rows, plan, time.perf_counter() - t0)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text + f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
