"""FactorizedReduce forward + backward: petri's unit-stride form (1×1 convs on the even and
odd pixel grids) against DARTS' stride-2 form, in NCHW and NHWC, timed interleaved.

    python bench/reduce_forms.py [--threads T] [--rounds R]

petri computes the unit-stride form because oneDNN's strided 1×1 conv, backward for the
weights in NHWC with few input channels, corrupts the heap on AVX2 CPUs (oneDNN issue 6035);
this measures what that costs or saves at the shapes the shipped configs build.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.supernet_throughput import _reference_reduce as strided
from petri.space.ops import FactorizedReduce

# (batch, channels in, channels out, side): the toy supernets' reductions (PC-DARTS' 2-8-channel
# slices, DARTS' full edges) and a CIFAR-10 search's, and an evaluation network's preprocessing.
SHAPES = [(32, 2, 2, 28), (32, 8, 8, 28), (32, 16, 16, 14), (64, 4, 4, 32), (64, 16, 16, 32),
          (96, 36, 36, 32), (96, 72, 72, 16)]


def time_once(fn, op, x, reps: int) -> float:
    t = time.perf_counter()
    for _ in range(reps):
        fn(op, x).sum().backward()
    return (time.perf_counter() - t) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} interleaved rounds of {args.reps} forward+backward passes")
    print("shape (N, C_in, C_out, side)   layout   stride-2 ms   unit-stride ms   ratio")
    for n, c_in, c_out, side in SHAPES:
        for layout in (torch.contiguous_format, torch.channels_last):
            op = FactorizedReduce(c_in, c_out, affine=False).to(memory_format=layout)
            x = torch.randn(n, c_in, side, side).contiguous(memory_format=layout)
            x.requires_grad_()
            forms = {"strided": strided, "unit": type(op).forward}
            for fn in forms.values():
                time_once(fn, op, x, 2)  # warm-up: oneDNN primitives, allocator
            times = {k: [] for k in forms}
            for _ in range(args.rounds):
                for k, fn in forms.items():
                    times[k].append(time_once(fn, op, x, args.reps))
            s, u = (statistics.median(times[k]) * 1e3 for k in ("strided", "unit"))
            name = "NHWC" if layout == torch.channels_last else "NCHW"
            print(f"{str((n, c_in, c_out, side)):30s} {name:8s} {s:11.3f} {u:15.3f} "
                  f"{s / u:7.2f}x", flush=True)


if __name__ == "__main__":
    main()
