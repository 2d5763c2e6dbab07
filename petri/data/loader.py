"""Batches of uint8 images, augmented on the training device, from one of two places.

`DeviceData`: the whole (subset of the) dataset lives on the device once. `StreamData`: for a
dataset that does not fit, one background thread reads each batch's rows from the memory-mapped
dataset file a few batches ahead, into pinned memory when the device is CUDA, and the copy to
the device does not block. Either way crop, flip and cutout are batched tensor ops on the
device, with no DataLoader worker processes, and each batch's order and augmentation are drawn
on the device from a generator seeded by (seed, epoch, step): the two paths yield identical
batches, and a resumed run sees exactly the batches an uninterrupted one would, with no
sampler state to save. `data.on_device` chooses (auto: on the device when the images take at
most half its free memory).
"""
from __future__ import annotations

import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from petri.data.config import DataCfg
from petri.data.datasets import RawDataset, load_dataset, split_indices
from petri.data.info import DatasetInfo, dataset_info
from petri.errors import DataError

log = logging.getLogger("petri.data")
DEVICE_SHARE = 0.5  # of free memory the images may take; the rest is the model's
PREFETCH = 2  # batches read ahead of the one being trained on


def step_seed(seed: int, epoch: int, step: int) -> int:
    """The seed of training step `step` of `epoch` in a run seeded `seed` (step -1: the
    epoch's batch order), for the batch's augmentation here and the trainer's drop-path."""
    # A large odd multiplier keeps (epoch, step) pairs from colliding for any realistic run.
    # Modulo 2**64, the seeds torch takes: a seed of any size fits, and a negative one keeps
    # the bits torch itself gives it.
    return ((seed * 1_000_003 + epoch) * 1_000_003 + step) % 2 ** 64


def step_generator(seed: int, epoch: int, step: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(step_seed(seed, epoch, step))
    return g


class ImageSet:
    """A labelled set of images served in (augmented) batches; subclasses say where the uint8
    pixels live. Labels always live on the device: they are small."""

    def __init__(self, y: torch.Tensor, info: DatasetInfo, cfg: DataCfg, device: torch.device,
                 train: bool):
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
        # Two epochs' permutations: a streaming set reads into the next epoch ahead of time.
        self._perms: dict[tuple[int, int], torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.y)

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, len(self) // batch_size)  # drop_last, so every step has a full batch

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        return (x.float() - self.mean) / self.std

    def _perm(self, seed: int, epoch: int) -> torch.Tensor:
        if (seed, epoch) not in self._perms:
            if len(self._perms) == 2:
                del self._perms[min(self._perms)]
            g_epoch = step_generator(seed, epoch, -1, self.device)
            self._perms[(seed, epoch)] = torch.randperm(len(self), generator=g_epoch,
                                                        device=self.device)
        return self._perms[(seed, epoch)]

    def _pixels(self, seed: int, epoch: int, step: int, batch_size: int,
                idx: torch.Tensor) -> torch.Tensor:
        """The uint8 images of training batch (epoch, step), rows `idx`, on the device."""
        raise NotImplementedError

    def _eval_pixels(self, batch_size: int) -> Iterator[torch.Tensor]:
        raise NotImplementedError

    def split(self, n: int) -> tuple["ImageSet", "ImageSet"]:
        """The first `n` images and the rest, as two sets served the same way."""
        raise NotImplementedError

    def batch(self, seed: int, epoch: int, step: int, batch_size: int):
        """Training batch `step` of `epoch`: the same tensors whenever it is asked for."""
        idx = self._perm(seed, epoch)[step * batch_size:(step + 1) * batch_size]
        x, y = self._pixels(seed, epoch, step, batch_size, idx), self.y[idx]
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
        for i, x in enumerate(self._eval_pixels(batch_size)):
            yield self._normalise(x), self.y[i * batch_size:(i + 1) * batch_size]


class DeviceData(ImageSet):
    """Every image on the device as one uint8 tensor."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, info: DatasetInfo, cfg: DataCfg,
                 device: torch.device, train: bool):
        super().__init__(y, info, cfg, device, train)
        self.x = x.to(device)

    def split(self, n: int) -> tuple["DeviceData", "DeviceData"]:
        return (DeviceData(self.x[:n], self.y[:n], self.info, self.cfg, self.device, self.train),
                DeviceData(self.x[n:], self.y[n:], self.info, self.cfg, self.device, self.train))

    def _pixels(self, seed, epoch, step, batch_size, idx):
        return self.x[idx]

    def _eval_pixels(self, batch_size):
        for i in range(0, len(self), batch_size):
            yield self.x[i:i + batch_size]


class StreamData(ImageSet):
    """Rows `rows` of an (N, C, H, W) uint8 array, usually a memory map, read in batches by
    one background thread ahead of use and copied to the device without blocking."""

    def __init__(self, images: np.ndarray, rows: np.ndarray, y: torch.Tensor,
                 info: DatasetInfo, cfg: DataCfg, device: torch.device, train: bool):
        super().__init__(y, info, cfg, device, train)
        self.images, self.rows = images, rows
        self._pin = device.type == "cuda"
        self._reader: ThreadPoolExecutor | None = None
        self._next: tuple[int, int, int, int] | None = None  # the batch the stream serves next
        self._stream: Iterator[torch.Tensor] | None = None

    def split(self, n: int) -> tuple["StreamData", "StreamData"]:
        return (StreamData(self.images, self.rows[:n], self.y[:n], self.info, self.cfg,
                           self.device, self.train),
                StreamData(self.images, self.rows[n:], self.y[n:], self.info, self.cfg,
                           self.device, self.train))

    def _read(self, rows: np.ndarray) -> torch.Tensor:
        out = torch.empty((len(rows), *self.images.shape[1:]), dtype=torch.uint8,
                          pin_memory=self._pin)
        # Rows in file order turn random reads into forward ones; then back in batch order.
        order = np.argsort(rows, kind="stable")
        out.numpy()[order] = self.images[rows[order]]
        return out

    def _ahead(self, batches: Iterator[np.ndarray]) -> Iterator[torch.Tensor]:
        """Yield the images of each array of rows on the device, PREFETCH reads ahead."""
        if self._reader is None:
            self._reader = ThreadPoolExecutor(1, thread_name_prefix="petri-prefetch")
        pending = deque()
        for rows in batches:
            pending.append(self._reader.submit(self._read, rows))
            if len(pending) > PREFETCH:
                yield pending.popleft().result().to(self.device, non_blocking=self._pin)
        while pending:
            yield pending.popleft().result().to(self.device, non_blocking=self._pin)

    def _train_rows(self, seed: int, epoch: int, step: int,
                    batch_size: int) -> Iterator[np.ndarray]:
        """Rows of every batch from (epoch, step) on, epoch after epoch. The permutation is
        drawn on the device (as `DeviceData` draws it) and brought to the host once an epoch."""
        while True:
            rows = self.rows[self._perm(seed, epoch).cpu().numpy()]
            for s in range(step, self.steps_per_epoch(batch_size)):
                yield rows[s * batch_size:(s + 1) * batch_size]
            epoch, step = epoch + 1, 0

    def _pixels(self, seed, epoch, step, batch_size, idx):
        key = (seed, epoch, step, batch_size)
        if key != self._next:  # a first batch, a resume or another batch size: restart
            self._stream = self._ahead(self._train_rows(*key))
        last = step + 1 == self.steps_per_epoch(batch_size)
        self._next = (seed, epoch + last, 0 if last else step + 1, batch_size)
        return next(self._stream)

    def _eval_pixels(self, batch_size):
        return self._ahead(self.rows[i:i + batch_size] for i in range(0, len(self), batch_size))


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
    train: ImageSet
    val: ImageSet
    test: ImageSet | None
    info: DatasetInfo


def _take(n: int | None, idx: np.ndarray) -> np.ndarray:
    return idx if n is None else idx[:n]


def free_memory(device: torch.device) -> int:
    """Bytes the device can still give: free GPU memory, or the host's available RAM."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:  # MemAvailable counts reclaimable page cache
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return kb * 1024
    except (OSError, StopIteration):
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def make_splits(cfg: DataCfg, device: torch.device | str = "cpu", with_test: bool = False,
                raw: RawDataset | None = None) -> Splits:
    """Train/validation split of the training set (and the test set only when asked)."""
    device = torch.device(device)
    info = dataset_info(cfg.dataset, cfg.data_dir)
    raw = raw or load_dataset(cfg.dataset, cfg.data_dir, cfg.download)
    val_size = info.val_size if cfg.val_size is None else cfg.val_size
    tr, va = split_indices(len(raw.train_y), val_size, cfg.split_seed)
    parts = [(raw.train_x, raw.train_y, _take(cfg.subset, tr), True),
             (raw.train_x, raw.train_y, _take(cfg.val_subset, va), False)]
    if with_test:
        if raw.test_x is None:
            raise DataError(f"dataset {info.name} has no test split; import it from a folder "
                            f"with test/ (or val/) beside train/, or from arrays with x_test "
                            f"and y_test")
        parts.append((raw.test_x, raw.test_y, np.arange(len(raw.test_y)), False))
    nbytes = sum(len(idx) for _, _, idx, _ in parts) * int(np.prod(info.shape))
    on_device = cfg.on_device
    if on_device == "auto":
        free = free_memory(device)
        on_device = nbytes <= DEVICE_SHARE * free
        log.info("%s: %.0f MiB of images %s (%.0f MiB free on %s)", info.name, nbytes / 2**20,
                 "kept on the device" if on_device else "streamed from the file",
                 free / 2**20, device)

    def make(xs: np.ndarray, ys: np.ndarray, idx: np.ndarray, train: bool) -> ImageSet:
        y = torch.from_numpy(np.asarray(ys[idx], dtype=np.int64))
        if on_device:
            return DeviceData(torch.from_numpy(np.ascontiguousarray(xs[idx])), y, info, cfg,
                              device, train)
        return StreamData(xs, idx, y, info, cfg, device, train)

    sets = [make(*p) for p in parts]
    return Splits(sets[0], sets[1], sets[2] if with_test else None, info)
