"""Images/s of a DARTS and a PC-DARTS supernet search step: C=16, 8 cells, 4 nodes, batch 32,
32×32×3, first order (an architecture step on a validation batch, then a weight step).

    python bench/supernet_throughput.py [--device cpu|cuda] [--steps N] [--runs R]
        [--threads T] [--layout auto|nhwc|nchw] [--variants darts pc-darts]

It times petri's own training loop (`petri.train.loop.train` with the `ArchHook`) on random
uint8 images held on the device, so augmentation, the persistent validation stream, clipping
and SGD/Adam are all inside the figure; one untimed warm-up run comes first. Images/s counts
weight-step images, as the reference scripts do. `--layout auto` is what a `darts_search` job
uses: NHWC on CUDA, and on CPU for DARTS but not PC-DARTS. Peak memory: CUDA's max allocated,
or on CPU the process's peak RSS so far (run one variant per process for each one's own).
"""
from __future__ import annotations

import argparse
import platform
import resource
import statistics

import torch

from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.data.loader import DeviceData, Splits
from petri.algos.darts.supernet import SearchNetwork
from petri.algos.darts.algorithm import ArchCfg
from petri.algos.darts.bilevel import ArchHook
from petri.train.config import TrainCfg
from petri.train.loop import train

BATCH = 32
VARIANTS = {"darts": None, "pc-darts": 4}


def synthetic(n: int, device: torch.device) -> DeviceData:
    info = dataset_info("cifar10")
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    return DeviceData(x, y, info, DataCfg(dataset="cifar10"), device, train=True)


def measure(variant: str, device: torch.device, steps: int, channels_last: bool) -> float:
    data = synthetic(2 * BATCH * steps, device)
    weights, arch = data.split(BATCH * steps)
    splits = Splits(weights, synthetic(0, device), None, data.info)
    cfg = TrainCfg(epochs=1, batch_size=BATCH, lr=0.025, lr_min=0.001, weight_decay=3e-4,
                   channels_last=channels_last, checkpoint_every_s=1e9, progress_every_s=1e9,
                   deterministic=False)
    torch.manual_seed(0)
    model = SearchNetwork(channels=16, cells=8, steps=4, partial=VARIANTS[variant])
    if channels_last and device.type == "cpu":  # the loop turns NHWC on for CUDA only
        model = model.to(memory_format=torch.channels_last)
    arch_cfg = ArchCfg(lr=3e-4 if VARIANTS[variant] is None else 6e-4)
    hook = ArchHook(arch, seed=0, arch=arch_cfg, amp=cfg.amp, channels_last=channels_last)
    result = train(model, splits, cfg, device, hook=hook)
    return result.images_per_s


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch threads on CPU")
    ap.add_argument("--layout", choices=("auto", "nhwc", "nchw"), default="auto")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = ap.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(f"torch {torch.__version__}, {device} ({name or platform.machine()}), "
          f"{torch.get_num_threads()} threads, layout {args.layout}")
    for variant in args.variants:
        nhwc = args.layout == "nhwc" or (args.layout == "auto" and (
            device.type == "cuda" or VARIANTS[variant] is None))
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        measure(variant, device, 2, nhwc)  # warm-up: allocator, oneDNN/cuDNN plans
        rates = [measure(variant, device, args.steps, nhwc) for _ in range(args.runs)]
        sd = statistics.stdev(rates) if len(rates) > 1 else 0.0
        print(f"{variant:9s} {'NHWC' if nhwc else 'NCHW'} {statistics.mean(rates):8.1f} ± "
              f"{sd:.1f} img/s  peak memory {peak_memory_mb(device):.0f} MB")


if __name__ == "__main__":
    main()
