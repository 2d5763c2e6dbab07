import gzip
import struct

import numpy as np
import pytest
import torch

from petri.data.datasets import load_dataset, read_idx, split_indices
from petri.data.loader import DataCfg, cutout, make_splits, random_crop
from petri.errors import DataError
from tests.conftest import needs_fashion


def _write_idx(path, arr):
    header = b"\0\0\x08" + bytes([arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def _fake_mnist(dirpath, n_train=50, n_test=20, truncate=False):
    dirpath.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _write_idx(dirpath / "train-images-idx3-ubyte.gz", rng.integers(0, 255, (n_train, 28, 28)))
    _write_idx(dirpath / "train-labels-idx1-ubyte.gz", rng.integers(0, 10, n_train))
    _write_idx(dirpath / "t10k-images-idx3-ubyte.gz", rng.integers(0, 255, (n_test, 28, 28)))
    _write_idx(dirpath / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, n_test))
    if truncate:
        p = dirpath / "train-images-idx3-ubyte.gz"
        with gzip.open(p, "rb") as f:
            data = f.read()
        with gzip.open(p, "wb") as f:
            f.write(data[:-100])


def test_idx_files_from_a_data_dir(tmp_path):
    _fake_mnist(tmp_path / "mnist")
    raw = load_dataset("mnist", tmp_path, download_ok=False)
    assert raw.train_x.shape == (50, 1, 28, 28) and raw.train_x.dtype == np.uint8
    assert raw.test_y.shape == (20,)


def test_truncated_idx_file_is_a_clear_error(tmp_path):
    _fake_mnist(tmp_path / "mnist", truncate=True)
    with pytest.raises(DataError, match="truncated.*fetch it again"):
        load_dataset("mnist", tmp_path, download_ok=False)
    (tmp_path / "junk.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a readable IDX file"):
        read_idx(tmp_path / "junk.gz")


def test_missing_dataset_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="cifar10 not found.*cifar-10-python.tar.gz"):
        load_dataset("cifar10", tmp_path, download_ok=False)
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("svhn", tmp_path)


def test_cifar_reader_reads_the_python_batches(tmp_path):
    import pickle
    import tarfile

    root = tmp_path / "src" / "cifar-10-batches-py"
    root.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
             b"labels": list(rng.integers(0, 10, 4))}
        (root / name).write_bytes(pickle.dumps(d))
    with tarfile.open(tmp_path / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="cifar-10-batches-py")
    raw = load_dataset("cifar10", tmp_path, download_ok=False)
    assert raw.train_x.shape == (20, 3, 32, 32) and raw.test_x.shape == (4, 3, 32, 32)


def test_split_is_fixed_by_seed_and_disjoint():
    a_tr, a_va = split_indices(1000, 100, seed=3)
    b_tr, b_va = split_indices(1000, 100, seed=3)
    assert np.array_equal(a_va, b_va) and len(a_va) == 100
    assert not set(a_tr) & set(a_va) and len(a_tr) + len(a_va) == 1000
    assert not np.array_equal(split_indices(1000, 100, seed=4)[1], a_va)


@needs_fashion
def test_fashion_mnist_from_debian_package():
    splits = make_splits(DataCfg(dataset="fashion-mnist", subset=512, val_subset=256,
                                 data_dir="/nonexistent", download=False), with_test=True)
    assert len(splits.train) == 512 and len(splits.val) == 256 and len(splits.test) == 10000
    assert splits.train.x.dtype == torch.uint8
    x, y = splits.train.batch(seed=0, epoch=0, step=1, batch_size=64)
    assert x.shape == (64, 1, 28, 28) and x.dtype == torch.float32
    x2, y2 = splits.train.batch(seed=0, epoch=0, step=1, batch_size=64)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    x3, _ = splits.train.batch(seed=0, epoch=1, step=1, batch_size=64)
    assert not torch.equal(x, x3)
    # Normalised on the fly: roughly zero mean and unit std over a batch.
    assert abs(x.mean().item()) < 0.3 and 0.7 < x.std().item() < 1.3


def test_crop_shifts_and_cutout_zeroes_a_square():
    g = torch.Generator().manual_seed(0)
    x = torch.arange(16.0).view(1, 1, 4, 4).repeat(8, 1, 1, 1)
    out = random_crop(x, 1, g)
    assert out.shape == x.shape
    # Every crop is the image shifted by at most one pixel (zero padding at the border).
    for img in out[:, 0]:
        assert any(torch.equal(img, torch.nn.functional.pad(x[0, 0], (1, 1, 1, 1))[dy:dy + 4, dx:dx + 4])
                   for dy in range(3) for dx in range(3))
    ones = torch.ones(16, 1, 10, 10)
    cut = cutout(ones, 4, torch.Generator().manual_seed(0))
    zeros = (cut == 0).sum(dim=(1, 2, 3))
    assert zeros.max() == 16 and zeros.min() >= 4  # 4×4, clipped at the border to at least 2×2
