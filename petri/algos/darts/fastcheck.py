"""Does a fast form of the supernet compute what the plain form computes, on this machine?

A fast form (NHWC on CPU, a compiled graph) runs on other kernels than the plain one (eager
NCHW), and kernels differ between CPUs, ISAs and builds: oneDNN's strided 1×1 conv corrupted
the heap on AVX2 CPUs only, ATen's channels-last batch norm lost precision at one thread
only. So petri compares, on the machine that runs it, in float32 as training runs:

    err(form, T) = max|T_form − T_ref| / max|T_ref|      for every tensor T of a step

with T_ref computed in float64 (eager NCHW), and accepts a form when, for every T,

    err(fast, T) ≤ RATIO · max(err(plain, T), U·√K)

U = 2⁻²⁴ is float32's unit roundoff and K the number of pixels a batch holds at the input's
resolution, the longest sum in the step (a weight gradient or a BN statistic sums over it).
A correct float32 kernel may sum in another order than the plain one: a sequential sum's
rounding error grows like U·√K, a blocked or pairwise one's like U·log₂K, a ratio of √K/log₂K
≈ 8 at the K of a toy search batch (16·28·28; oneDNN's NHWC 1×1 weight gradient below 16
channels is such a kernel, sound and several times the NCHW one's error); the largest error
over a tensor's elements is itself random, which another factor of 2 covers: RATIO = 16.
The floor U·√K keeps a plain path that is exact by luck from setting a bound no sound kernel
can meet.

err(plain, T) is the plain form's largest error over its own run and JITTERS more on inputs
moved by float32-level noise (a relative 2⁻²⁰). It carries the step's own conditioning (BN
over few pixels, ill-conditioned at one channel) and its kinks (ReLU, max pool, a tie):
where rounding moves an activation across one, a gradient jumps in any float32 form — the
plain form itself, on inputs moved so, was off in α's gradient of a PC-DARTS CIFAR step as
much as NHWC was (BENCHMARKS.md). A form is only held to what float32 can promise at that
input; the defects this catches lie far past the bound (BENCHMARKS.md).

Cases are JSON dicts, so a subprocess can run them (`python -m petri.algos.darts.fastcheck`):
a native crash or a hang then ends one process, not the caller. `{"op": name, "c", "stride",
"hw", "batch", "offset"}`: one primitive (or `factorized_reduce`, `relu_conv_bn`), its output
and the gradients of its input and weights; `{"supernet": SupernetCfg fields, "in_channels",
"classes", "hw", "batch", "second_order", "reg", "nu"}`: a whole search step, the
architecture step (first or second order) and the weight step (with MOOD's regulariser).
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import nn

U = 2.0 ** -24
RATIO = 16.0
JITTERS = 2
PLAIN = "eager-nchw"
FAST = "eager-nhwc"  # what a CPU worker runs unless told otherwise (trainer.channels_last)
# The forms a worker may run a supernet in, by name: (layout, compile setting).
FORMS = {f"{c}-{layout}": (layout, None if c == "eager" else c)
         for c in ("eager", "inductor", "cudagraphs") for layout in ("nchw", "nhwc")}
log = logging.getLogger("petri")


@dataclass(frozen=True)
class TensorCheck:
    name: str
    fast: float   # err(fast form, T)
    plain: float  # err(eager NCHW float32, T)
    bound: float

    @property
    def ok(self) -> bool:
        return self.fast <= self.bound  # NaN is never within the bound


@dataclass(frozen=True)
class CaseResult:
    case: dict
    form: str
    threads: int
    tensors: tuple[TensorCheck, ...]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tensors)

    def worst(self) -> TensorCheck:
        """The tensor closest to (or furthest past) its bound."""
        return max(self.tensors, key=lambda t: t.fast / t.bound if t.ok else math.inf)

    def summary(self) -> str:
        w = self.worst()
        verdict = "agrees" if self.ok else "DISAGREES"
        return (f"{verdict}: worst {w.name} off by {w.fast:.1e} of its largest value "
                f"(plain NCHW {w.plain:.1e}, bound {w.bound:.1e})")

    def to_dict(self) -> dict:
        return {"case": self.case, "form": self.form, "threads": self.threads, "ok": self.ok,
                "tensors": [asdict(t) for t in self.tensors]}

    @classmethod
    def from_dict(cls, d: dict) -> "CaseResult":
        return cls(d["case"], d["form"], d["threads"], tuple(TensorCheck(**t)
                                                             for t in d["tensors"]))


def bound(plain: float, pixels: int) -> float:
    return RATIO * max(plain, U * math.sqrt(pixels))


def relative_error(t: torch.Tensor, ref: torch.Tensor) -> float:
    """max|t − ref| / max|ref|, on the CPU (a form computed on a GPU against the reference)."""
    t, ref = t.detach().cpu().double(), ref.detach().cpu().double()
    scale = ref.abs().max().item()
    return (t - ref).abs().max().item() / (scale or 1.0)


# ---- what a case computes --------------------------------------------------------------------

def _op_module(case: dict) -> nn.Module:
    from petri.space.ops import FactorizedReduce, ReLUConvBN, create_op

    c, stride = case["c"], case["stride"]
    if case["op"] == "factorized_reduce":
        return FactorizedReduce(c, 2 * ((c + 1) // 2), affine=False)
    if case["op"] == "relu_conv_bn":
        return ReLUConvBN(c, c, affine=False)
    return create_op(case["op"], c, stride, affine=False, search=True)


def _jittered(x: torch.Tensor, jitter: int) -> torch.Tensor:
    """x, or x with every value moved by a relative 2⁻²⁰ (16 U: the rounding a float32
    forward leaves in deep activations) drawn from seed `jitter`."""
    if not jitter:
        return x
    g = torch.Generator().manual_seed(jitter)
    return x * (1 + 2.0 ** -20 * torch.randn(x.shape, generator=g, dtype=x.dtype))


def _op_tensors(module: nn.Module, case: dict, dtype, layout, device: str = "cpu",
                jitter: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    n, c, hw = case["batch"], case["c"], case["hw"]
    # Offset inputs as ReLU outputs are: the case that cost channels-last BN its precision.
    x = case.get("offset", 0.0) + torch.randn(n, c, hw, hw, generator=g, dtype=torch.float64)
    x = _jittered(x, jitter)
    m = module.to(device, dtype).to(memory_format=layout)
    x = x.to(device, dtype).contiguous(memory_format=layout).requires_grad_()
    y = m(x)
    grad_out = torch.randn(y.shape, generator=g, dtype=torch.float64).to(device, dtype)
    params = [p for p in m.parameters() if p.requires_grad]
    grads = torch.autograd.grad(y, [x] + params, grad_out.contiguous(memory_format=layout))
    names = ["input.grad"] + [f"{n}.grad" for n, p in m.named_parameters() if p.requires_grad]
    return {"output": y.detach(), **dict(zip(names, grads))}


def _supernet(case: dict) -> nn.Module:
    from petri.algos.darts.algorithm import SupernetCfg
    from petri.algos.darts.supernet import SearchNetwork

    net = SupernetCfg(**case["supernet"])
    torch.manual_seed(0)
    model = SearchNetwork(channels=net.channels, cells=net.cells, num_classes=case["classes"],
                          in_channels=case["in_channels"], steps=net.nodes,
                          stem_multiplier=net.stem_multiplier, partial=net.partial)
    model.regularise(case.get("reg"), float(case.get("nu", 0.0)))
    return model


def _supernet_tensors(model: nn.Module, case: dict, dtype, layout, device: str = "cpu",
                      jitter: int = 0) -> dict[str, torch.Tensor]:
    """A search step as the trainer takes it (`ArchHook.before_step`, then the weight step):
    the architecture gradients, the weight step's loss and gradients, and the BN running
    statistics both steps leave behind."""
    from petri.algos.darts.bilevel import Architect, frozen

    g = torch.Generator().manual_seed(0)
    shape = (case["batch"], case["in_channels"], case["hw"], case["hw"])
    x, xv = (_jittered(torch.randn(shape, generator=g, dtype=torch.float64), jitter)
             .to(device, dtype).contiguous(memory_format=layout) for _ in range(2))
    y, yv = (torch.randint(0, case["classes"], (case["batch"],), generator=g).to(device)
             for _ in range(2))
    model = model.to(device, dtype).to(memory_format=layout)
    arch = model.arch_parameters()
    w_opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    architect = Architect(model, w_opt, lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3,
                          second_order=bool(case.get("second_order")))
    model.arch_grad = True
    if architect.second_order:
        arch_grads, _ = architect.unrolled_grads(x, y, xv, yv, 0.025)
    else:
        with frozen(model.parameters()):
            arch_grads = torch.autograd.grad(architect.loss(xv, yv), arch)
    model.arch_grad = False
    loss = model.ce_weight * nn.functional.cross_entropy(model(x), y)
    extra = model.extra_loss()
    if extra is not None:
        loss = loss + extra
    names = [n for n, p in model.named_parameters()]
    w_grads = torch.autograd.grad(loss, list(model.parameters()))
    kinds = ["alpha_normal", "alpha_reduce", "beta_normal", "beta_reduce"][:len(arch)]
    return {"loss": loss.detach(), **{f"{k}.grad": t for k, t in zip(kinds, arch_grads)},
            **{f"{n}.grad": t for n, t in zip(names, w_grads)},
            **{n: b for n, b in model.named_buffers() if b.is_floating_point()}}


def _form_copy(module: nn.Module, compile: str | None) -> nn.Module:
    from petri.algos.darts.supernet import MixedOp

    m = copy.deepcopy(module)
    for sub in m.modules():
        if isinstance(sub, MixedOp):
            sub.compile_mode = compile
    return m


def form_name(nhwc: bool, compile: str | None) -> str:
    return f"{compile or 'eager'}-{'nhwc' if nhwc else 'nchw'}"


def run_case(case: dict, form: str, device: str = "cpu") -> CaseResult:
    """Compare `form` with eager NCHW float32, both on `device`, and a float64 reference
    (eager NCHW on the CPU), in this process."""
    layout, compile = FORMS[form]
    is_op = "op" in case
    module = _op_module(case) if is_op else _supernet(case)
    tensors = _op_tensors if is_op else _supernet_tensors
    nchw, nhwc = torch.contiguous_format, torch.channels_last
    ref = tensors(copy.deepcopy(module), case, torch.float64, nchw)
    plains = [tensors(copy.deepcopy(module), case, torch.float32, nchw, device, jitter)
              for jitter in range(JITTERS + 1)]
    fast = tensors(_form_copy(module, compile), case, torch.float32,
                   nhwc if layout == "nhwc" else nchw, device)
    pixels = case["batch"] * case["hw"] ** 2
    checks = []
    for name, r in ref.items():
        p = max(relative_error(plain[name], r) for plain in plains)
        checks.append(TensorCheck(name, relative_error(fast[name], r), p, bound(p, pixels)))
    return CaseResult(case, form, torch.get_num_threads(), tuple(checks))


# ---- in a subprocess -------------------------------------------------------------------------

def run_in_subprocess(cases: list[dict], form: str, threads: int, timeout_s: float,
                      env: dict | None = None, on_wait: Callable[[], None] | None = None,
                      device: str = "cpu") -> tuple[list[CaseResult], str | None]:
    """The cases' results, and what went wrong if the process did not finish them all: a
    native abort or a hang past `timeout_s` is a finding about this machine, not a crash of
    the caller. The case being run when it died is named. `on_wait` is called every few
    seconds while the check runs (a worker reports progress through it)."""
    import subprocess

    cmd = [sys.executable, "-m", "petri.algos.darts.fastcheck", "--form", form,
           "--threads", str(threads), "--device", device, *map(json.dumps, cases)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=env)
    deadline, out, why = time.monotonic() + timeout_s, "", None
    while True:
        try:
            out = proc.communicate(timeout=min(5.0, max(deadline - time.monotonic(), 0.1)))[0]
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() >= deadline:
                proc.kill()
                out, why = proc.communicate()[0], f"did not finish in {timeout_s:.0f} s"
                break
            if on_wait is not None:
                on_wait()
    if why is None and proc.returncode != 0:
        why = f"exited with code {proc.returncode}"
    results, current = [], None
    for line in out.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:  # a line the process was killed in the middle of
            continue
        if "start" in msg:
            current = msg["start"]
        else:
            results.append(CaseResult.from_dict(msg))
            current = None
    if why is None and len(results) < len(cases):
        why = "ended early"
    if why:
        why = f"the check {why}" + (f" during {json.dumps(current)}" if current else "")
    return results, why


# ---- the verdict for this machine, cached -----------------------------------------------------

# What `petri doctor` and a worker check: FactorizedReduce at the widths of oneDNN's defect,
# and a first-order step of the two toy supernets (DARTS, PC-DARTS' 2-channel slices).
_TOY = {"channels": 8, "cells": 3, "nodes": 3, "stem_multiplier": 2}
MACHINE_CASES = (
    [{"op": "factorized_reduce", "c": c, "stride": 2, "hw": 28, "batch": 16, "offset": 3.0}
     for c in range(1, 9)]
    + [{"supernet": {**_TOY, "partial": k}, "in_channels": 1, "classes": 10, "hw": 28,
        "batch": 8} for k in (None, 4)])
CHECK_TIMEOUT_S = {"eager": 300.0, "inductor": 1800.0, "cudagraphs": 1800.0}


@dataclass(frozen=True)
class Verdict:
    form: str
    device: str
    threads: int
    ok: bool
    detail: str  # the worst tensor, or what went wrong
    checked: float  # when (epoch seconds)


def cache_path() -> Path:
    from petri.io import cache_dir

    return cache_dir() / "fastpaths.json"


def machine_key(form: str, threads: int, device: str) -> str:
    """What a verdict holds for: this host and CPU, this torch build and its oneDNN ISA,
    the form, the device and the thread count (one kernel failed at 1 thread only)."""
    from petri.doctor import cpu_model

    return json.dumps([platform.node(), cpu_model(), torch.__version__, torch.version.git_version,
                       torch.backends.cpu.get_cpu_capability(),
                       os.environ.get("ONEDNN_MAX_CPU_ISA"), device, form, threads])


def check_machine(form: str, threads: int, device: str = "cpu",
                  on_wait: Callable[[], None] | None = None,
                  cases: list[dict] = MACHINE_CASES) -> Verdict:
    """Run the machine cases for `form` in a fresh process and judge them (not cached)."""
    compile = FORMS[form][1] or "eager"
    results, why = run_in_subprocess(list(cases), form, threads,
                                     CHECK_TIMEOUT_S[compile], on_wait=on_wait, device=device)
    bad = [r for r in results if not r.ok]
    if why:
        ok, detail = False, why
    elif bad:
        ok, detail = False, bad[0].summary()
    else:
        ok, detail = True, max(results, key=lambda r: r.worst().fast / r.worst().bound).summary()
    return Verdict(form, device, threads, ok, detail, time.time())


def verdict(form: str, threads: int, device: str = "cpu",
            on_wait: Callable[[], None] | None = None, refresh: bool = False) -> Verdict:
    """This machine's verdict on `form` on `device` at `threads` threads: from the cache, or
    checked now and cached (two workers checking at once both write the same verdict)."""
    from petri.io import atomic_write_json

    path, key = cache_path(), machine_key(form, threads, device)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached and not refresh:
        return Verdict(**cached[key])
    v = check_machine(form, threads, device, on_wait)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            cached = json.loads(path.read_text())
        except (OSError, ValueError):
            cached = {}
        atomic_write_json(path, {**cached, key: asdict(v)}, durable=False)
    except OSError as e:  # a read-only home: the verdict holds for this process alone
        log.warning("could not cache the fast-path verdict in %s (%s); set PETRI_CACHE_DIR "
                    "to a writable folder", path, e)
    return v


def choose_form(nhwc: bool, compile: str | None, threads: int, device: str,
                on_wait: Callable[[], None] | None = None) -> tuple[bool, str | None]:
    """The (NHWC, compile) a supernet runs in: the one asked for if this machine's verdict
    trusts it on `device`, else the plain form, with one warning line."""
    form = form_name(nhwc, compile)
    if form == PLAIN:
        return nhwc, compile
    v = verdict(form, threads, device, on_wait)
    if v.ok:
        return nhwc, compile
    log.warning("the supernet's %s form disagrees with %s on this machine's %s at %d "
                "thread(s) (%s); training in %s instead (`petri doctor` for details)",
                form, PLAIN, device, threads, v.detail, PLAIN)
    return False, None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Run fast-path cases; one JSON line each.")
    ap.add_argument("--form", choices=list(FORMS), default=FAST)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("cases", nargs="+", type=json.loads)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    for case in args.cases:
        print(json.dumps({"start": case}), flush=True)
        print(json.dumps(run_case(case, args.form, args.device).to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
