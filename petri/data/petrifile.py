"""petri's own dataset file (`NAME.petri`): uint8 images and labels, ready to memory-map.

Layout (format version 1)::

    b"PETRIDS\\n"                      8 bytes of magic
    train_x, test_x, train_y, test_y   raw little-endian arrays, each at a 64-byte boundary
    header                             UTF-8 JSON: classes, shape, mean/std, arrays' offsets
    uint64 header length, b"PETRIDS\\n"  the last 16 bytes

Why not HDF5 or .npz: a file of raw arrays is opened with `np.memmap` at an offset, so a
streaming loader reads exactly the rows a batch needs through the OS page cache, from any
number of processes and threads, with no library lock (h5py serialises every read behind one
global lock, which would stall the prefetch thread against everything else) and no
decompression (.npz members cannot be mapped at all). The header sits at the end, as in
Parquet, so the writer streams images of any number to disk and only then writes what it
learnt (counts, mean/std, hash). The content hash (sha256 of the data bytes and the header's
content fields) is checked before a file is trained on; a file from a newer petri is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from petri.errors import DataError
from petri.io import fsync_dir

MAGIC = b"PETRIDS\n"
FORMAT = "petri-dataset"
VERSION = 1
SUFFIX = ".petri"
ALIGN = 64
_TAIL = struct.Struct("<Q8s")
# Header fields the hash covers; the rest (name, source, created) may be edited freely.
_CONTENT = ("classes", "shape", "arrays")


@dataclass(frozen=True)
class Header:
    path: Path
    name: str
    classes: tuple[str, ...]
    shape: tuple[int, int, int]  # C, H, W
    mean: tuple[float, ...]  # per channel, on the training images, in [0, 1]
    std: tuple[float, ...]
    val_size: int  # images held out of training for validation unless data.val_size says
    arrays: dict  # name -> {"offset", "shape", "dtype"}
    hash: str
    data_end: int  # where the arrays end and the header begins
    raw: dict  # the whole JSON header, for `petri data show`

    @property
    def has_test(self) -> bool:
        return "test_x" in self.arrays

    def count(self, split: str) -> int:
        a = self.arrays.get(f"{split}_y")
        return a["shape"][0] if a else 0


def _content_digest(f: BinaryIO, data_end: int, header: dict) -> str:
    h = hashlib.sha256()
    f.seek(len(MAGIC))
    left = data_end - len(MAGIC)
    while left > 0:
        chunk = f.read(min(left, 1 << 24))
        if not chunk:
            break
        h.update(chunk)
        left -= len(chunk)
    h.update(json.dumps({k: header[k] for k in _CONTENT}, sort_keys=True).encode())
    return "sha256:" + h.hexdigest()


class Writer:
    """Streams arrays into a temp file beside `path`; `commit` renames it into place.

    Used as a context manager: leaving it without `commit` (an error, Ctrl-C) deletes the
    temp file, so a failed import leaves nothing behind.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.",
                                        suffix=".tmp")
        self.f = os.fdopen(fd, "w+b")
        self.f.write(MAGIC)
        self.arrays: dict[str, dict] = {}
        self._open: tuple[str, tuple, np.dtype, int] | None = None

    def __enter__(self) -> "Writer":
        return self

    def __exit__(self, *exc) -> None:
        self.f.close()
        if os.path.exists(self.tmp):
            os.unlink(self.tmp)

    def begin(self, name: str, row_shape: tuple[int, ...], dtype) -> None:
        """Start array `name`, whose rows (of `row_shape`) arrive through `write`."""
        pad = -self.f.tell() % ALIGN
        self.f.write(b"\0" * pad)
        self._open = (name, tuple(row_shape), np.dtype(dtype).newbyteorder("<"), 0)
        self.arrays[name] = {"offset": self.f.tell()}

    def write(self, rows: np.ndarray) -> None:
        name, row_shape, dtype, n = self._open
        if rows.shape[1:] != row_shape:
            raise ValueError(f"{name}: rows of shape {rows.shape[1:]}, expected {row_shape}")
        self.f.write(np.ascontiguousarray(rows, dtype=dtype).tobytes())
        self._open = (name, row_shape, dtype, n + len(rows))

    def end(self) -> None:
        name, row_shape, dtype, n = self._open
        self.arrays[name].update(shape=[n, *row_shape], dtype=dtype.str)
        self._open = None

    def array(self, name: str, values: np.ndarray) -> None:
        self.begin(name, values.shape[1:], values.dtype)
        self.write(values)
        self.end()

    def commit(self, header: dict) -> Header:
        """Write the header (with the content hash), fsync, rename over `path`."""
        header = {"format": FORMAT, "version": VERSION, **header, "arrays": self.arrays}
        self.f.flush()
        data_end = self.f.tell()
        header["hash"] = _content_digest(self.f, data_end, header)
        self.f.seek(data_end)
        blob = json.dumps(header, indent=1).encode()
        self.f.write(blob + _TAIL.pack(len(blob), MAGIC))
        # mkstemp makes the file private; a dataset gets the usual permissions instead.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(self.f.fileno(), 0o666 & ~umask)
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()
        os.replace(self.tmp, self.path)
        fsync_dir(self.path.parent)
        return read_header(self.path)


def read_header(path: str | Path) -> Header:
    """The header of a `.petri` file, checked for format and version (no data is read)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size < len(MAGIC) + _TAIL.size:
                raise DataError(f"{path} is empty or truncated; import it again with "
                                f"`petri data import`")
            f.seek(0)
            head = f.read(len(MAGIC))
            f.seek(size - _TAIL.size)
            length, tail = _TAIL.unpack(f.read(_TAIL.size))
            if head != MAGIC:
                raise DataError(f"{path} is not a petri dataset; make one with "
                                f"`petri data import SRC -o {path.name}`")
            if tail != MAGIC or length > size - _TAIL.size - len(MAGIC):
                raise DataError(f"{path} is truncated; import it again with "
                                f"`petri data import`")
            f.seek(size - _TAIL.size - length)
            raw = json.loads(f.read(length))
    except OSError as e:
        raise DataError(f"cannot read dataset {path}: {e.strerror or e}") from None
    except ValueError:
        raise DataError(f"{path} has a corrupt header; import it again with "
                        f"`petri data import`") from None
    if raw.get("format") != FORMAT:
        raise DataError(f"{path} is not a petri dataset (format {raw.get('format')!r})")
    if int(raw.get("version", 0)) > VERSION:
        raise DataError(f"{path} was written by a newer petri (dataset format "
                        f"{raw['version']}; this petri reads up to {VERSION}): upgrade petri")
    data_end = size - _TAIL.size - length
    for name, a in raw["arrays"].items():
        nbytes = int(np.prod(a["shape"])) * np.dtype(a["dtype"]).itemsize
        if a["offset"] + nbytes > data_end:
            raise DataError(f"{path} is truncated (array {name} runs past the data); import "
                            f"it again with `petri data import`")
    return Header(path=path, name=raw["name"], classes=tuple(raw["classes"]),
                  shape=tuple(raw["shape"]), mean=tuple(raw["mean"]), std=tuple(raw["std"]),
                  val_size=int(raw["val_size"]), arrays=raw["arrays"], hash=raw["hash"],
                  data_end=data_end, raw=raw)


def verify(header: Header) -> None:
    """Recompute the content hash; a mismatch means the file was damaged or edited."""
    with open(header.path, "rb") as f:
        got = _content_digest(f, header.data_end, header.raw)
    if got != header.hash:
        raise DataError(f"{header.path} is corrupt: its content hash does not match the one "
                        f"written at import; import it again with `petri data import`")


_verified: set[tuple[str, int, int]] = set()


def open_arrays(path: str | Path) -> tuple[Header, dict[str, np.ndarray]]:
    """The header and read-only memory maps of every array, hash-checked once per process
    for each version (size, mtime) of the file."""
    header = read_header(path)
    st = os.stat(header.path)
    key = (str(header.path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _verified:
        verify(header)
        _verified.add(key)
    arrays = {name: np.memmap(header.path, dtype=np.dtype(a["dtype"]), mode="r",
                              offset=a["offset"], shape=tuple(a["shape"]))
              if np.prod(a["shape"]) else np.empty(a["shape"], np.dtype(a["dtype"]))
              for name, a in header.arrays.items()}
    return header, arrays
