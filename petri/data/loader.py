"""Batches from uint8 tensors kept on the training device, augmented there.

The whole (subset of the) dataset lives on the device once; crop, flip and cutout are batched
tensor ops; there are no DataLoader worker processes. Each batch's order and augmentation are
drawn from a generator seeded by (seed, epoch, step), so a resumed run sees exactly the
batches an uninterrupted one would, with no sampler state to save.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from petri.data.config import DataCfg
from petri.data.datasets import RawDataset, load_dataset, split_indices
from petri.data.info import DatasetInfo, dataset_info


def step_generator(seed: int, epoch: int, step: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    # A large odd multiplier keeps (epoch, step) pairs from colliding for any realistic run.
    g.manual_seed((seed * 1_000_003 + epoch) * 1_000_003 + step)
    return g


class DeviceData:
    """A labelled set of images on one device, served in (augmented) batches."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, info: DatasetInfo, cfg: DataCfg,
                 device: torch.device, train: bool):
        self.x = x.to(device)
        self.y = y.to(device)
        self.info = info
        self.cfg = cfg
        self.device = device
        self.train = train
        self.crop = cfg.crop and train and info.crop_pad > 0
        self.flip = (info.flip if cfg.flip is None else cfg.flip) and train
        self.cutout = cfg.cutout if train else 0
        shape = (1, -1, 1, 1)
        self.mean = torch.tensor(info.mean, device=device).view(shape) * 255.0
        self.std = torch.tensor(info.std, device=device).view(shape) * 255.0
        self._perm_key: tuple[int, int] | None = None
        self._perm: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.y)

    def split(self, n: int) -> tuple["DeviceData", "DeviceData"]:
        """The first `n` images and the rest, as two sets on the same device."""
        return (DeviceData(self.x[:n], self.y[:n], self.info, self.cfg, self.device, self.train),
                DeviceData(self.x[n:], self.y[n:], self.info, self.cfg, self.device, self.train))

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self) // batch_size)  # drop_last, so every step has a full batch

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def batch(self, seed: int, epoch: int, step: int, batch_size: int):
        """Training batch `step` of `epoch`: the same tensors whenever it is asked for."""
        if self._perm_key != (seed, epoch):  # one permutation per epoch, cached
            g_epoch = step_generator(seed, epoch, -1, self.device)
            self._perm = torch.randperm(len(self), generator=g_epoch, device=self.device)
            self._perm_key = (seed, epoch)
        idx = self._perm[step * batch_size:(step + 1) * batch_size]
        x, y = self.x[idx], self.y[idx]
        g = step_generator(seed, epoch, step, self.device)
        if self.crop:
            x = random_crop(x, self.info.crop_pad, g)
        if self.flip:
            x = random_flip(x, g)
        x = self._normalise(x)
        if self.cutout:
            x = cutout(x, self.cutout, g)
        return x, y

    def eval_batches(self, batch_size: int):
        for i in range(0, len(self), batch_size):
            yield self._normalise(self.x[i:i + batch_size]), self.y[i:i + batch_size]


def random_crop(x: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    n, c, h, w = x.shape
    padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n, 1), generator=g, device=x.device)
    ox = torch.randint(0, 2 * pad + 1, (n, 1), generator=g, device=x.device)
    rows = (oy + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    x = padded.gather(2, rows)
    cols = (ox + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return x.gather(3, cols)


def random_flip(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    mask = torch.rand(x.shape[0], generator=g, device=x.device) < 0.5
    return torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)


def cutout(x: torch.Tensor, size: int, g: torch.Generator) -> torch.Tensor:
    """Zero a size×size square (clipped at the border) centred at a random pixel per image."""
    n, _, h, w = x.shape
    cy = torch.randint(0, h, (n, 1, 1), generator=g, device=x.device)
    cx = torch.randint(0, w, (n, 1, 1), generator=g, device=x.device)
    y0, x0 = cy - size // 2, cx - size // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= y0) & (ys < y0 + size) & (xs >= x0) & (xs < x0 + size)
    return x * (~inside).unsqueeze(1).to(x.dtype)


@dataclass
class Splits:
    train: DeviceData
    val: DeviceData
    test: DeviceData | None
    info: DatasetInfo


def _take(n: int | None, idx: np.ndarray) -> np.ndarray:
    return idx if n is None else idx[:n]


def make_splits(cfg: DataCfg, device: torch.device | str = "cpu", with_test: bool = False,
                raw: RawDataset | None = None) -> Splits:
    """Train/validation split of the training set (and the test set only when asked)."""
    device = torch.device(device)
    info = dataset_info(cfg.dataset)
    raw = raw or load_dataset(cfg.dataset, cfg.data_dir, cfg.download)
    tr, va = split_indices(len(raw.train_y), cfg.val_size, cfg.split_seed)
    tr, va = _take(cfg.subset, tr), _take(cfg.val_subset, va)

    def dev(xs, ys, idx, train):
        return DeviceData(torch.from_numpy(np.ascontiguousarray(xs[idx])),
                          torch.from_numpy(ys[idx]), info, cfg, device, train)

    test = None
    if with_test:
        all_test = np.arange(len(raw.test_y))
        test = dev(raw.test_x, raw.test_y, all_test, False)
    return Splits(dev(raw.train_x, raw.train_y, tr, True), dev(raw.train_x, raw.train_y, va, False),
                  test, info)
