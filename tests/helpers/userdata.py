"""Small real user datasets written on the fly: image folders (Pillow), .npz and HDF5."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "eel")


def images(n: int, shape=(3, 12, 10), seed: int = 0) -> np.ndarray:
    """`n` uint8 images (N, C, H, W) whose mean differs by class index (i % 3): learnable."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 120, (n, *shape)).astype(np.uint8)
    return x + (np.arange(n) % 3 * 60).astype(np.uint8).reshape(-1, 1, 1, 1)


def write_folder(root: Path, counts: dict[str, int], shape=(3, 12, 10), fmt: str = "png",
                 seed: int = 0) -> dict[str, np.ndarray]:
    """`root/<split>/<class>/<i>.<fmt>` for each split in `counts` ("" for no split level);
    returns each split's images in the order petri reads them (class, then file name)."""
    out = {}
    for s, (split, n) in enumerate(counts.items()):
        x = images(n * len(CLASSES), shape, seed + s)
        ordered = []
        for c, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                img = x[i * len(CLASSES) + c]
                ordered.append(img)
                pil = Image.fromarray(img[0] if shape[0] == 1 else img.transpose(1, 2, 0))
                pil.save(folder / f"{i:03d}.{fmt}")
        out[split] = np.stack(ordered)
    return out


def arrays(n_train: int = 60, n_test: int = 15, shape=(3, 8, 8)) -> dict[str, np.ndarray]:
    """x, y, x_test, y_test in N×C×H×W, labels 0..2."""
    return {"x": images(n_train, shape), "y": np.arange(n_train) % 3,
            "x_test": images(n_test, shape, seed=1), "y_test": np.arange(n_test) % 3}


def write_h5(path: Path, data: dict[str, np.ndarray]) -> Path:
    import h5py

    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v)
    return path
