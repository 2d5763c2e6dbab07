"""Images/s of a DARTS and a PC-DARTS supernet search step in several forms, and each form's
ratio to the first form measured in the same process (by default the `reference` form: the
original DARTS code's computation): C=16, 8 cells, 4 nodes, batch 32, 32×32×3, first order
(an architecture step on a validation batch, then a weight step).

    python bench/supernet_throughput.py [--device cpu|cuda] [--steps N] [--rounds R]
        [--threads T] [--variants darts pc-darts] [--forms reference-nchw eager-nhwc ...]
        [--profile FORM]

Forms: `reference` (petri's supernet computing as the original code does: `reference_code`),
eager (petri's own), `inductor` (`SearchNetwork(compile="inductor")`: each edge's shared
input and mixed op through `torch.compile` graphs, one per shape, forward and backward) or
`cudagraphs` (the same replayed as CUDA graphs), in NCHW or NHWC.
Each form is warmed up once (the compiled forms' warm-up is their compile time, printed),
then the forms are timed in interleaved rounds, so the ratios, taken per round against the
first form, survive this VM's drifting speed; the figure is their median. It times petri's
own training loop (`petri.train.loop.train` with the `ArchHook`) on random uint8 images held
on the device: augmentation, the persistent validation stream, clipping, SGD and Adam are
inside the figure. Images/s counts weight-step images, as the reference scripts do.
`--profile FORM` prints instead the top kernels of one step of that form (torch.profiler).
"""
from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import time
from unittest import mock

import torch
from torch import nn

from petri.algos.darts import supernet
from petri.algos.darts.algorithm import ArchCfg
from petri.algos.darts.bilevel import ArchHook
from petri.algos.darts.supernet import MixedOp, SearchNetwork
from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.data.loader import DeviceData, Splits
from petri.space.ops import BatchNorm, DilatedDepthwise, FactorizedReduce
from petri.train.config import TrainCfg
from petri.train.loop import ModelHooks, train

BATCH = 32
VARIANTS = {"darts": None, "pc-darts": 4}
SIZE = dict(channels=16, cells=8, nodes=4, batch=BATCH, hw=32)
# form -> (SearchNetwork's compile setting, NHWC); the first form given is the ratios' base.
# `reference` is eager with petri's levers undone (`reference_code`).
FORMS = {f"{c}-{layout}": (None if c in ("eager", "reference") else c, layout == "nhwc")
         for c in ("reference", "eager", "inductor", "cudagraphs") for layout in ("nchw", "nhwc")}


def _reference_edge(op: MixedOp, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    # The original MixedOp, from the edge's raw input (`prepare` passes it through): every
    # primitive on it, `none` included, each conv primitive with its own ReLU and each pool
    # with its own BN, sum() of the weighted terms; PC-DARTS' on a channel slice, then
    # concatenated with the bypass and shuffled, whose .contiguous() returns NCHW.
    if not op.partial:
        return sum(w * o(x) for w, o in zip(weights, op.ops))
    k = x.shape[1] // op.partial
    y = sum(w * o(x[:, :k]) for w, o in zip(weights, op.ops))
    rest = x[:, k:] if op.bypass_pool is None else op.bypass_pool(x[:, k:])
    out = torch.cat([y, rest], dim=1)
    n, c, h, w = out.shape
    out = out.view(n, op.partial, c // op.partial, h, w).transpose(1, 2).contiguous()
    return out.view(n, c, h, w)


def _reference_reduce(op: FactorizedReduce, x: torch.Tensor) -> torch.Tensor:
    # The original's two stride-2 1×1 convs, the second on the input shifted by one pixel
    # (oneDNN's strided-1×1 defect makes this crash on AVX2 CPUs in NHWC at PC-DARTS' slice
    # widths: petri computes the same sums at unit stride).
    x = op.relu(x)
    a = nn.functional.conv2d(x, op.conv_1.weight, stride=2)
    b = nn.functional.conv2d(x[:, :, 1:, 1:], op.conv_2.weight, stride=2)
    b = nn.functional.pad(b, (0, a.shape[-1] - b.shape[-1], 0, a.shape[-2] - b.shape[-2]))
    return op.bn(torch.cat([a, b], dim=1))


def _reference_node(outs: list, edge_weights: torch.Tensor | None, partial) -> torch.Tensor:
    return sum(outs if edge_weights is None else (w * o for w, o in zip(edge_weights, outs)))


@contextlib.contextmanager
def reference_code():
    """petri's supernet computing as the original DARTS / PC-DARTS code does (the same modules
    and weights), its levers in the supernet undone: nothing shared between the edges leaving a node (ReLU, pools and pool BNs,
    PC-DARTS' slice and bypass) or between the ops of an edge (the ReLU), `none`'s w·0
    computed, dilated convs as oneDNN's dilated kernels, FactorizedReduce's 1×1 convs at stride 2, sum() of products instead of fused
    multiply-adds, every batch norm in the tensor's own layout, PC-DARTS' channel shuffle on
    every edge and returning NCHW. The training loop stays petri's (data on the device, no
    per-step loss sync, no α gradient in the weight step), so this stand-in for the original
    code, which this repository does not ship, is if anything faster than it."""
    patches = [(MixedOp, "prepare", lambda op, x: x), (MixedOp, "mix", _reference_edge),
               (supernet, "share_pool_stats", lambda first, others: None),
               (supernet, "node_sum", _reference_node),
               (DilatedDepthwise, "forward", nn.Conv2d.forward),
               (FactorizedReduce, "forward", _reference_reduce),
               (BatchNorm, "forward", nn.BatchNorm2d.forward)]
    with contextlib.ExitStack() as stack:
        for owner, name, value in patches:
            stack.enter_context(mock.patch.object(owner, name, value))
        yield


def synthetic(n: int, device: torch.device, hw: int) -> DeviceData:
    info = dataset_info("cifar10")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, hw, hw), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return DeviceData(x, y, info, DataCfg(dataset="cifar10"), device, train=True)


def measure(variant: str, form: str, device: torch.device, steps: int,
            size: dict = SIZE) -> float:
    compile, nhwc = FORMS[form]
    batch = size["batch"]
    data = synthetic(2 * batch * steps, device, size["hw"])
    weights, arch = data.split(batch * steps)
    splits = Splits(weights, synthetic(0, device, size["hw"]), None, data.info)
    cfg = TrainCfg(epochs=1, batch_size=batch, lr=0.025, lr_min=0.001, weight_decay=3e-4,
                   channels_last=nhwc, checkpoint_every_s=1e9, progress_every_s=1e9,
                   deterministic=False)
    torch.manual_seed(0)
    model = SearchNetwork(channels=size["channels"], cells=size["cells"], steps=size["nodes"],
                          partial=VARIANTS[variant], compile=compile)
    if nhwc and device.type == "cpu":  # the loop turns NHWC on for CUDA only
        model = model.to(memory_format=torch.channels_last)
    arch_cfg = ArchCfg(lr=3e-4 if VARIANTS[variant] is None else 6e-4)
    hook = ArchHook(arch, seed=0, arch=arch_cfg, amp=cfg.amp, channels_last=nhwc)
    with reference_code() if form.startswith("reference") else contextlib.nullcontext():
        return train(model, splits, cfg, device, model_hooks=ModelHooks(step=hook)).images_per_s


def profile(variant: str, form: str, device: torch.device, top: int = 15) -> None:
    from torch.profiler import ProfilerActivity, profile as torch_profile

    measure(variant, form, device, 1)  # compile and warm up outside the profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda"
                                           else [])
    with torch_profile(activities=activities) as prof:
        measure(variant, form, device, 1)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(f"{variant} {form}: top {top} kernels of one step (architecture + weight step)")
    print(prof.key_averages().table(sort_by=key, row_limit=top))


def compare(variant: str, forms, device: torch.device, steps: int, rounds: int,
            size: dict = SIZE) -> dict[str, tuple[float, float, float]]:
    """form -> (mean img/s, median per-round ratio to the first form, warm-up s). Warm-up
    (allocator, oneDNN/cuDNN plans, compilation) comes first, then interleaved rounds."""
    warmup = {}
    for form in forms:
        t = time.perf_counter()
        measure(variant, form, device, 1, size)
        warmup[form] = time.perf_counter() - t
    rates = {form: [] for form in forms}
    for _ in range(rounds):
        for form in forms:
            rates[form].append(measure(variant, form, device, steps, size))
    base = rates[forms[0]]
    return {form: (statistics.mean(r), statistics.median(a / b for a, b in zip(r, base)),
                   warmup[form]) for form, r in rates.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=2, help="timed steps per form and round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads on CPU")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--forms", nargs="+", default=["reference-nchw", "eager-nchw", "eager-nhwc",
                                                "inductor-nhwc"],
                    choices=list(FORMS))
    ap.add_argument("--profile", choices=list(FORMS), default=None)
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"torch {torch.__version__}, {device} ({name or platform.machine()}), "
          f"{torch.get_num_threads()} threads, batch {BATCH}, {args.steps} steps x "
          f"{args.rounds} interleaved rounds", flush=True)
    for variant in args.variants:
        if args.profile:
            profile(variant, args.profile, device)
            continue
        result = compare(variant, args.forms, device, args.steps, args.rounds)
        for form, (rate, ratio, warmup_s) in result.items():
            print(f"{variant:9s} {form:16s} {rate:7.1f} img/s  {ratio:5.2f}x {args.forms[0]}"
                  f"   (warm-up {warmup_s:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
