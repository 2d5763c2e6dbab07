"""What users bring: an image folder, or arrays in an `.npz` or HDF5 file, read as chunks of
uint8 (N, C, H, W) images with int64 labels. Pillow decodes, converts and resizes.

Folder layout: `ROOT/<class>/<image>` (any depth below the class folder), optionally under
`ROOT/train/` with `ROOT/test/` or `ROOT/val/` beside it as the test split. Arrays: `x` uint8
N×H×W, N×H×W×C or N×C×H×W, `y` integer labels, optionally `x_test`, `y_test` and `classes`
(names for labels 0..K-1).
"""
from __future__ import annotations

import zipfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from PIL import Image

from petri.errors import DataError

# Every extension Pillow can open (it registers some, like .pdf, for saving only).
IMAGE_EXTS = frozenset(ext for ext, fmt in Image.registered_extensions().items()
                       if fmt in Image.OPEN)
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "F"})
CHUNK_BYTES = 32 << 20  # images per chunk: enough to amortise the writes, little memory
Advance = Callable[[int], None]
Stage = Callable[[str, int], Advance]  # start a progress stage of `total` steps


@dataclass(frozen=True)
class ImportOptions:
    size: tuple[int, int] | None = None  # H, W every image is resized to
    channels: int | None = None  # 1 or 3; None: 1 when every image is gray, else 3
    val_size: int | None = None  # the dataset's default validation hold-out; None: a tenth
    skip_bad: bool = False  # skip unreadable images (and count them) instead of failing


def _to_chw(im: Image.Image, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    if im.mode != mode:
        im = im.convert(mode)
    if size is not None and im.size != (size[1], size[0]):
        im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def _rows_per_chunk(shape: tuple[int, ...]) -> int:
    return max(1, CHUNK_BYTES // int(np.prod(shape)))


class FolderSource:
    """An image folder: class names from the folder names, sorted."""

    def __init__(self, root: Path, opts: ImportOptions, stage: Stage):
        self.root, self.opts = root, opts
        self.skipped: list[str] = []
        train, test = self._split_dirs(root)
        self.train_dir = train
        self.classes = tuple(sorted(d.name for d in train.iterdir()
                                    if d.is_dir() and not d.name.startswith(".")))
        if not self.classes:
            raise DataError(f"{train} has no class folders; lay images out as "
                            f"{train}/<class>/<image>.png")
        self.files = {"train": self._list(train)}
        if test is not None:
            extra = sorted({d.name for d in test.iterdir() if d.is_dir()} - set(self.classes))
            if extra:
                raise DataError(f"{test} has class folder(s) {', '.join(extra)} that {train} "
                                f"lacks; every test class must be a training class")
            self.files["test"] = self._list(test, allow_empty=True)
        self.splits = tuple(self.files)
        self._scan(stage)

    @staticmethod
    def _split_dirs(root: Path) -> tuple[Path, Path | None]:
        held = [root / d for d in ("test", "val") if (root / d).is_dir()]
        if not (root / "train").is_dir():
            if held:
                raise DataError(f"{root} has {held[0].name}/ but no train/ beside it")
            return root, None
        if len(held) == 2:
            raise DataError(f"{root} has both test/ and val/; petri holds its validation images "
                            f"out of train/ itself, so merge val/ into train/ or remove it")
        return root / "train", held[0] if held else None

    def _list(self, split_dir: Path, allow_empty: bool = False) -> list[tuple[Path, int]]:
        out = []
        for label, name in enumerate(self.classes):
            folder = split_dir / name
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTS
                           and not any(part.startswith(".") for part in
                                       p.relative_to(folder).parts) and p.is_file())
            if not files and not (allow_empty and not folder.exists()):
                raise DataError(f"class folder {folder} has no images (.png, .jpg, ... any "
                                f"format Pillow reads)")
            out += [(p, label) for p in files]
        return out

    def _bad(self, path: Path, err: Exception) -> None:
        if not self.opts.skip_bad:
            raise DataError(f"{path}: unreadable image ({type(err).__name__}: {err}); fix or "
                            f"remove it, or pass --skip-bad to skip such files")
        self.skipped.append(f"{path}: {err}")

    def _scan(self, stage: Stage) -> None:
        """Read every header (not the pixels): sizes must agree unless --size, and the
        channel count follows the modes unless --channels."""
        advance = stage("scanning", sum(map(len, self.files.values())))
        sizes: dict[tuple[int, int], Path] = {}
        gray = True
        for split, files in self.files.items():
            kept = []
            for path, label in files:
                try:
                    with Image.open(path) as im:
                        sizes.setdefault(im.size, path)
                        gray = gray and im.mode in GRAY_MODES
                    kept.append((path, label))
                except Exception as e:  # any decoder failure is this file's fault
                    self._bad(path, e)
                advance(1)
            self.files[split] = kept
        self._check_nonempty()
        if self.opts.size is None and len(sizes) > 1:
            (wa, ha), a = next(iter(sizes.items()))
            (wb, hb), b = list(sizes.items())[1]
            raise DataError(f"images differ in size ({a} is {ha}×{wa}, {b} is {hb}×{wb}); "
                            f"pass --size H W to resize them all")
        w, h = next(iter(sizes)) if self.opts.size is None else self.opts.size[::-1]
        self.mode = {1: "L", 3: "RGB"}[self.opts.channels or (1 if gray else 3)]
        self.shape = (len(self.mode), h, w)

    def _check_nonempty(self) -> None:
        have = {label for _, label in self.files["train"]}
        empty = [c for i, c in enumerate(self.classes) if i not in have]
        if empty:
            raise DataError(f"class folder {self.train_dir / empty[0]} has no readable images "
                            f"({len(self.skipped)} skipped)")

    def count(self, split: str) -> int:
        return len(self.files[split])

    def read(self, split: str, advance: Advance) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        files = self.files[split]
        per = _rows_per_chunk(self.shape)
        for i in range(0, len(files), per):
            xs, ys = [], []
            for path, label in files[i:i + per]:
                try:
                    with Image.open(path) as im:
                        xs.append(_to_chw(im, self.mode, self.opts.size))
                    ys.append(label)
                except Exception as e:  # truncated data shows only when decoding
                    self._bad(path, e)
                advance(1)
            if xs:
                yield np.stack(xs), np.asarray(ys, dtype=np.int64)


class ArraySource:
    """`x`/`y` (and `x_test`/`y_test`, `classes`) from an .npz or HDF5 file."""

    def __init__(self, path: Path, opts: ImportOptions, stage: Stage):
        self.path, self.opts = path, opts
        self.skipped: list[str] = []
        self._npz: dict[str, np.ndarray] | None = None
        with self._open() as f:
            keys = list(f.keys())
        for need in ("x", "y"):
            if need not in keys:
                raise DataError(f"{path} has no array {need!r} (it holds {', '.join(keys)}); "
                                f"save images as x and labels as y")
        splits = {"train": ("x", "y")}
        if "x_test" in keys or "y_test" in keys:
            splits["test"] = ("x_test", "y_test")
        with self._open() as f:
            self.labels = {s: self._labels(f, xk, yk) for s, (xk, yk) in splits.items()}
            self.layout = {s: self._layout(f[xk], xk) for s, (xk, _) in splits.items()}
            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in np.asarray(f["classes"])] if "classes" in keys else None
        n_classes = len(names) if names else int(self.labels["train"].max(initial=-1)) + 1
        for s, y in self.labels.items():
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                raise DataError(f"{path}: labels of the {s} split lie outside 0..{n_classes - 1} "
                                f"({'the classes array' if names else 'y'} gives {n_classes} "
                                f"classes); found {int(y.min())}..{int(y.max())}")
        self.classes = tuple(names or map(str, range(n_classes)))
        self.arrays_of = splits
        self.splits = tuple(splits)
        c, h, w = self.layout["train"][1]
        if "test" in splits and self.layout["test"][1] != (c, h, w) and opts.size is None:
            raise DataError(f"{path}: x_test images are {self.layout['test'][1]}, x images "
                            f"{(c, h, w)}; pass --size H W to resize both")
        channels = opts.channels or (c if c in (1, 3) else 3)
        self.mode = {1: "L", 3: "RGB"}[channels]
        self.shape = (channels, *(opts.size or (h, w)))

    def _open(self):
        if self.path.suffix == ".npz":
            # An .npz member is decompressed whole on every access: load each one once.
            if self._npz is None:
                try:
                    with np.load(self.path, allow_pickle=False) as f:
                        self._npz = dict(f)
                except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                    raise DataError(f"{self.path} is not a readable .npz file ({e})") from None
            return nullcontext(self._npz)
        import h5py

        try:
            return h5py.File(self.path, "r")
        except OSError as e:
            raise DataError(f"{self.path} is not a readable HDF5 file ({e})") from None

    def _labels(self, f, xk: str, yk: str) -> np.ndarray:
        if xk not in f or yk not in f:
            raise DataError(f"{self.path} has only one of {xk} and {yk}; give both or neither")
        y = np.asarray(f[yk])
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataError(f"{self.path}: {yk} must be a 1-D array of integer labels, got "
                            f"{y.dtype} of shape {y.shape}")
        if len(y) != f[xk].shape[0]:
            raise DataError(f"{self.path}: {xk} holds {f[xk].shape[0]} images but {yk} "
                            f"{len(y)} labels")
        return y.astype(np.int64)

    def _layout(self, x, key: str) -> tuple[str, tuple[int, int, int]]:
        """("nhwc" or "nchw", (C, H, W)) of the array `x`."""
        if x.dtype != np.uint8:
            raise DataError(f"{self.path}: {key} has dtype {x.dtype}; petri stores uint8 images, "
                            f"so scale them to 0..255 and save {key}.astype('uint8')")
        if x.ndim == 3:
            return "nhw", (1, *x.shape[1:])
        if x.ndim == 4 and x.shape[3] in (1, 3, 4):
            return "nhwc", (x.shape[3], *x.shape[1:3])
        if x.ndim == 4 and x.shape[1] in (1, 3, 4):
            return "nchw", (x.shape[1], *x.shape[2:])
        raise DataError(f"{self.path}: {key} has shape {x.shape}; expected N×H×W, N×H×W×C or "
                        f"N×C×H×W with C 1, 3 or 4")

    def count(self, split: str) -> int:
        return len(self.labels[split])

    def read(self, split: str, advance: Advance) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        xk, _ = self.arrays_of[split]
        layout, chw = self.layout[split]
        y = self.labels[split]
        # Pillow only when something changes; otherwise the rows are copied as they are.
        convert = chw != self.shape
        with self._open() as f:
            x = f[xk]
            for i in range(0, len(y), _rows_per_chunk(chw)):
                rows = np.asarray(x[i:i + _rows_per_chunk(chw)])
                # Only this layout's view: a 3-D array has no axes for the 4-D transpose.
                hwc = (rows[..., None] if layout == "nhw" else
                       rows.transpose(0, 2, 3, 1) if layout == "nchw" else rows)
                if convert:
                    out = np.stack([_to_chw(Image.fromarray(img[..., 0] if img.shape[2] == 1
                                                            else img), self.mode, self.opts.size)
                                    for img in hwc])
                else:
                    out = hwc.transpose(0, 3, 1, 2)
                advance(len(out))
                yield out, y[i:i + len(out)]


def open_source(path: Path, opts: ImportOptions, stage: Stage) -> FolderSource | ArraySource:
    if opts.channels not in (None, 1, 3):
        raise DataError(f"--channels {opts.channels}: petri takes 1 (gray) or 3 (RGB)")
    if opts.size is not None and min(opts.size) < 1:
        raise DataError(f"--size {opts.size[0]} {opts.size[1]}: both sides must be positive")
    if path.is_dir():
        return FolderSource(path, opts, stage)
    if path.suffix in (".npz", ".h5", ".hdf5"):
        return ArraySource(path, opts, stage)
    if not path.exists():
        raise DataError(f"{path} does not exist")
    raise DataError(f"{path}: petri imports an image folder, an .npz or an .h5/.hdf5 file")
