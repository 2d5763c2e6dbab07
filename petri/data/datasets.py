"""Readers for the standard dataset files, with md5-checked downloads where there is network,
and for user datasets (`.petri` files, memory-mapped).

Everything here returns numpy uint8 arrays (N, C, H, W) and int64 labels; nothing imports
torch or torchvision. Files found locally (a data dir, Debian's `dataset-fashion-mnist`) are
checked for structure (IDX magic, counts, label range) because distributions may re-compress
them; files petri downloads are checked against the published md5.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import struct
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from petri.data.info import (DATASETS, dataset_info, dataset_plugin, default_data_dir,
                              named_datasets, resolve_dataset)
from petri.errors import DataError

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Published md5 of each downloadable file (the torchvision resource lists carry the same).
_IDX_SOURCES = {
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                      ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe",
                       "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")),
    "mnist": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
              ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432",
               "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")),
}
_CIFAR_SOURCES = {
    "cifar10": ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                "c58f30108f718f92721af3b95e74349a", "cifar-10-batches-py"),
    "cifar100": ("https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                 "eb9058c3a382ffc7106e4002c42a8d85", "cifar-100-python"),
}


@dataclass
class RawDataset:
    name: str
    train_x: np.ndarray  # uint8 (N, C, H, W); a read-only memory map for a .petri file
    train_y: np.ndarray  # int64 (N,)
    test_x: np.ndarray | None  # None: the dataset has no test split
    test_y: np.ndarray | None


def md5sum(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(url: str, dest: Path, md5: str, timeout: float = 30.0) -> Path:
    """Fetch `url` into `dest` through a temp file; the md5 must match before it lands."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            for chunk in iter(lambda: resp.read(1 << 20), b""):
                out.write(chunk)
        got = md5sum(Path(tmp))
        if got != md5:
            raise DataError(f"downloaded {url} has md5 {got}, expected {md5}; try again later "
                            f"or place the file in {dest.parent} by hand")
        os.replace(tmp, dest)
    except OSError as e:
        raise DataError(f"cannot download {url}: {e}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def read_idx(path: Path) -> np.ndarray:
    """Parse a (gzipped) IDX file of unsigned bytes into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path} is not a readable IDX file ({e}); delete it and fetch it "
                        f"again") from None
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes; delete it and fetch it "
                        f"again")
    ndim = data[3]
    dims = struct.unpack(f">{ndim}I", data[4:4 + 4 * ndim])
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise DataError(f"{path} is truncated: {body.size} bytes of data for shape {dims}; "
                        f"delete it and fetch it again")
    return body.reshape(dims)


def _idx_dirs(name: str, data_dir: Path) -> list[Path]:
    dirs = [data_dir / name, data_dir]
    if name == "fashion-mnist":
        dirs.append(DEBIAN_FASHION)
    return dirs


def _load_idx_dataset(name: str, data_dir: Path, download_ok: bool) -> RawDataset:
    base, md5s = _IDX_SOURCES[name]
    found = next((d for d in _idx_dirs(name, data_dir)
                  if all((d / f).is_file() for f in IDX_FILES)), None)
    if found is None:
        target = data_dir / name
        if not download_ok:
            raise DataError(_missing_message(name, data_dir, "download disabled"))
        try:
            for f, md5 in zip(IDX_FILES, md5s):
                if not (target / f).is_file():
                    download(base + f, target / f, md5)
        except DataError as e:
            raise DataError(_missing_message(name, data_dir, str(e))) from None
        found = target
    tx, ty, sx, sy = (read_idx(found / f) for f in IDX_FILES)
    _check_pairs(name, found, tx, ty, sx, sy, n_classes=10)
    return RawDataset(name, tx[:, None], ty.astype(np.int64), sx[:, None], sy.astype(np.int64))


def _load_cifar(name: str, data_dir: Path, download_ok: bool) -> RawDataset:
    url, md5, folder = _CIFAR_SOURCES[name]
    root = data_dir / folder
    if not root.is_dir():
        archive = data_dir / Path(url).name
        if not archive.is_file():
            if not download_ok:
                raise DataError(_missing_message(name, data_dir, "download disabled"))
            try:
                download(url, archive, md5)
            except DataError as e:
                raise DataError(_missing_message(name, data_dir, str(e))) from None
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(data_dir, filter="data")
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"{archive} is corrupt ({e}); delete it and fetch it again") from None
    if name == "cifar10":
        train_parts = [root / f"data_batch_{i}" for i in range(1, 6)]
        test_parts, label_key, n_classes = [root / "test_batch"], b"labels", 10
    else:
        train_parts, test_parts, label_key, n_classes = ([root / "train"], [root / "test"],
                                                         b"fine_labels", 100)

    def read(parts: list[Path]):
        xs, ys = [], []
        for p in parts:
            try:
                with open(p, "rb") as f:
                    d = pickle.load(f, encoding="bytes")
            except (OSError, pickle.UnpicklingError, EOFError) as e:
                raise DataError(f"{p} is missing or corrupt ({e}); delete {root} and fetch "
                                f"{name} again") from None
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[label_key], dtype=np.int64))
        return np.concatenate(xs), np.concatenate(ys)

    tx, ty = read(train_parts)
    sx, sy = read(test_parts)
    _check_pairs(name, root, tx, ty, sx, sy, n_classes)
    return RawDataset(name, tx, ty, sx, sy)


def _load_plugin(name: str, data_dir: Path) -> RawDataset:
    plugin = dataset_plugin(name)
    where = f"the petri.datasets plug-in {name!r}"
    try:
        tx, ty, sx, sy = plugin.load(data_dir)
    except DataError:
        raise
    except Exception as e:  # the plug-in's own failure, said in one line
        raise DataError(f"{where} could not read its data: {type(e).__name__}: {e}") from None
    tx, ty = np.asarray(tx), np.asarray(ty, dtype=np.int64)
    if tx.dtype != np.uint8 or tx.ndim != 4:
        raise DataError(f"{where} must return uint8 images of shape (N, C, H, W), got "
                        f"{tx.dtype} {tx.shape}; fix the plug-in")
    if sx is not None:
        sx, sy = np.asarray(sx, dtype=np.uint8), np.asarray(sy, dtype=np.int64)
    _check_pairs(name, where, tx, ty, sx if sx is not None else tx[:0],
                 sy if sy is not None else ty[:0], plugin.info.num_classes)
    return RawDataset(name, tx, ty, sx, sy)


def _check_pairs(name, where, tx, ty, sx, sy, n_classes: int) -> None:
    if len(tx) != len(ty) or len(sx) != len(sy):
        raise DataError(f"{name} in {where}: image and label counts differ; fetch it again")
    for y in (ty, sy):
        if y.size and (y.min() < 0 or y.max() >= n_classes):
            raise DataError(f"{name} in {where}: labels outside 0..{n_classes - 1}; fetch it again")


def _missing_message(name: str, data_dir: Path, why: str) -> str:
    hint = {
        "fashion-mnist": "install it with `apt-get install dataset-fashion-mnist` or put the "
                         f"four IDX .gz files in {data_dir / name}",
        "mnist": f"put the four MNIST IDX .gz files in {data_dir / name}",
        "cifar10": f"put cifar-10-python.tar.gz in {data_dir}",
        "cifar100": f"put cifar-100-python.tar.gz in {data_dir}",
    }[name]
    return f"dataset {name} not found and could not be downloaded ({why}): {hint}"


def load_dataset(name: str, data_dir: str | Path | None = None,
                 download_ok: bool = True) -> RawDataset:
    """Load a dataset's train and test sets as uint8 arrays."""
    if name not in named_datasets():
        from petri.data.petrifile import open_arrays

        path = resolve_dataset(name, data_dir)
        _, a = open_arrays(path)
        return RawDataset(path, a["train_x"], a["train_y"], a.get("test_x"), a.get("test_y"))
    info = dataset_info(name)
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if name not in DATASETS:
        raw = _load_plugin(name, data_dir)
        if raw.train_x.shape[1:] != info.shape:
            raise DataError(f"{name}: images have shape {raw.train_x.shape[1:]}, expected "
                            f"{info.shape}; fix the petri.datasets plug-in")
        return raw
    # PETRI_OFFLINE=1 turns downloads off for machines that must not reach the network.
    download_ok = download_ok and not os.environ.get("PETRI_OFFLINE")
    if name in _IDX_SOURCES:
        raw = _load_idx_dataset(name, data_dir, download_ok)
    elif name in _CIFAR_SOURCES:
        raw = _load_cifar(name, data_dir, download_ok)
    else:
        raise DataError(f"petri has no reader for {name}; use one of "
                        f"{', '.join(list(_IDX_SOURCES) + list(_CIFAR_SOURCES))} or your own "
                        f"data (`petri data import`)")
    if raw.train_x.shape[1:] != info.shape:
        raise DataError(f"{name}: images have shape {raw.train_x.shape[1:]}, expected {info.shape}")
    return raw


def split_indices(n: int, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-seed split of the training set into (train, validation) indices.

    `val_size` 0 trains on every image (final evaluation runs) and leaves validation empty."""
    if not 0 <= val_size < n:
        raise DataError(f"validation size {val_size} must be between 0 and {n - 1}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])
