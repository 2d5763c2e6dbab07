"""Images/s of petri's whole training loop (`petri.train.loop.train`: batches from the loader,
the step, progress, checkpoints and the validation pass), on real Fashion-MNIST.

    python bench/train_loop.py [--images N] [--epochs E] [--threads T]

A DARTS_V2 network (C=8, 5 cells) trains on N images for E epochs, as a `train` job would,
then is measured on 1,000 held-out images. Prints the loop's images/s, its wall time and the
final losses: with the seeds fixed, the losses must be the same on two commits whose loop
computes the same thing, so one command checks speed and behaviour together.
"""
from __future__ import annotations

import argparse
import platform

import torch

from petri.data.config import DataCfg
from petri.data.loader import make_splits
from petri.space.build import build_model
from petri.space.genotypes import genotype
from petri.train.config import TrainCfg
from petri.train.loop import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=2048)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    splits = make_splits(DataCfg(subset=a.images, val_subset=1000))
    desc = genotype("DARTS_V2", channels=8, cells=5, in_channels=1, num_classes=10)
    cfg = TrainCfg(epochs=a.epochs, batch_size=96)
    result = train(build_model(desc), splits, cfg)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{a.threads} thread(s): {result.images_per_s:.1f} images/s, "
          f"{result.wall_s:.2f} s training; train loss {result.train_loss:.6f}, "
          f"val loss {result.val_loss:.6f}, val error {result.val_error:.4f}")


if __name__ == "__main__":
    main()
