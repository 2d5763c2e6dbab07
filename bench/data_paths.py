"""Images/s of the two data paths for the same model: images kept on the device (`DeviceData`)
and images streamed from the memory-mapped .petri file (`StreamData`: one prefetch thread,
pinned memory and non-blocking copies on CUDA). Same augmentation (crop, flip) either way.

    python bench/data_paths.py [--device cpu|cuda] [--images N] [--side S] [--steps N] [--runs R]

A synthetic .petri file of N random S×S×3 images is written to a temp dir first (the page
cache holds it, as it would after a first epoch). For each path it prints the loader alone
(batches produced, no model) and training steps of DARTS_V2 cells at C=16, 8 cells, batch 64
(forward, backward, clip, SGD; bf16 autocast and channels_last on CUDA), warm-up excluded,
mean ± std over runs.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from petri.data.config import DataCfg
from petri.data.loader import make_splits
from petri.data.petrifile import Writer
from petri.space.build import build_model
from petri.space.genotypes import genotype
from petri.train.loop import TrainCfg, device_settings

BATCH = 64


def synthetic(path: Path, n: int, side: int) -> Path:
    rng = np.random.default_rng(0)
    with Writer(path) as w:
        w.begin("train_x", (3, side, side), np.uint8)
        for i in range(0, n, 4096):
            w.write(rng.integers(0, 256, (min(4096, n - i), 3, side, side), dtype=np.uint8))
        w.end()
        w.array("train_y", rng.integers(0, 10, n))
        w.commit({"name": "synthetic", "classes": [str(i) for i in range(10)],
                  "shape": [3, side, side], "mean": [0.5] * 3, "std": [0.29] * 3,
                  "val_size": 0})
    return path


def measure(train, device: torch.device, steps: int, warmup: int, model=None) -> float:
    """Images/s over `steps` batches after `warmup`; with `model`, full training steps."""
    cuda = device.type == "cuda"
    if model is not None:
        opt = torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, weight_decay=3e-4)
        loss_fn = nn.CrossEntropyLoss()
    per_epoch = train.steps_per_epoch(BATCH)
    for i in range(warmup + steps):
        if i == warmup:
            if cuda:
                torch.cuda.synchronize(device)
            t = time.perf_counter()
        x, y = train.batch(0, i // per_epoch, i % per_epoch, BATCH)
        if model is None:
            continue
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = loss_fn(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    if cuda:
        torch.cuda.synchronize(device)
    return steps * BATCH / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--images", type=int, default=20000)
    ap.add_argument("--side", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--loader-steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    device = torch.device(args.device)
    with device_settings(device, TrainCfg()):  # what a training job runs under
        name = (torch.cuda.get_device_name(device) if device.type == "cuda"
                else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
        print(f"torch {torch.__version__} on {device} ({name}); {args.images} images "
              f"{args.side}×{args.side}×3, batch {BATCH}, {args.runs} runs")
        with tempfile.TemporaryDirectory() as tmp:
            path = synthetic(Path(tmp) / "synthetic.petri", args.images, args.side)
            paths = {label: make_splits(DataCfg(dataset=str(path), val_size=0, on_device=on_device),
                                        device).train
                     for label, on_device in (("on device", True), ("streamed", False))}
            rates = {(label, what): [] for label in paths for what in ("loader only", "training")}
            # Runs alternate between the paths, so a machine that slows down (a shared VM) slows
            # both alike.
            for _ in range(args.runs):
                for label, train in paths.items():
                    rates[label, "loader only"].append(
                        measure(train, device, args.loader_steps, args.warmup))
                    torch.manual_seed(0)
                    model = build_model(genotype("DARTS_V2", channels=16, cells=8)).to(device)
                    if device.type == "cuda":
                        model = model.to(memory_format=torch.channels_last)
                    rates[label, "training"].append(
                        measure(train, device, args.steps, args.warmup, model))
            for (label, what), r in rates.items():
                sd = statistics.stdev(r) if len(r) > 1 else 0.0
                print(f"{label:10s} {what:12s} {statistics.mean(r):10.1f} ± {sd:8.1f} img/s")


if __name__ == "__main__":
    main()
