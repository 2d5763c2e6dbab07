"""Images/s of training steps: (a) DARTS_V2 at C=16, 8 cells, batch 64, 32×32×3 and (b) a
small Fashion-MNIST network (DARTS_V2 cells, C=8, 5 cells, batch 96, 28×28×1).

    python bench/train_throughput.py [--device cpu|cuda] [--steps N] [--runs R]

Data are random tensors already on the device, so this measures the model step alone
(forward, backward, clip, SGD), with warm-up steps excluded. Prints mean ± std over runs.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch
from torch import nn

from petri.space.build import build_model
from petri.space.genotypes import genotype
from petri.train.loop import TrainCfg, device_settings

CASES = {
    "darts_v2_c16_l8_cifar": (dict(channels=16, cells=8), (3, 32, 32), 64),
    "small_fashion_c8_l5": (dict(channels=8, cells=5, in_channels=1), (1, 28, 28), 96),
}


def measure(case: str, device: torch.device, steps: int, warmup: int, *, amp: bool,
            channels_last: bool) -> float:
    """Images/s; `amp`: bf16 autocast (on CPU too), `channels_last`: NHWC model and input."""
    macro, shape, batch = CASES[case]
    cuda = device.type == "cuda"
    model = build_model(genotype("DARTS_V2", **macro)).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
    x = torch.randn(batch, *shape, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    device = torch.device(args.device)
    name = (torch.cuda.get_device_name(device) if device.type == "cuda"
            else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    print(f"torch {torch.__version__} on {device} ({name})")
    with device_settings(device, TrainCfg()):  # what a training job runs under
        for case in CASES:
            # What the trainer does: bf16 and NHWC on CUDA only.
            cuda = device.type == "cuda"
            rates = [measure(case, device, args.steps, args.warmup, amp=cuda, channels_last=cuda)
                     for _ in range(args.runs)]
            sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
            print(f"{case:24s} {statistics.mean(rates):9.1f} ± {sd:6.1f} img/s  (batch "
                  f"{CASES[case][2]}, {args.runs} runs × {args.steps} steps)")


if __name__ == "__main__":
    main()
