"""Atomic file writes: a reader sees the old file or the new one, never half of either."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Callable


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable, durable: bool = True) -> None:
    """Call `write(fileobj)` on a temp file beside `path`, fsync it, then rename over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def remove_stale_temp_files(root: Path) -> int:
    """Delete the temp files that killed `atomic_write`s left in `root` and the job dirs.

    Only safe for the run's single writer (the daemon, holding the lock, after it has killed
    the workers of its predecessor): nobody else may be writing one of them right now.
    """
    n = 0
    for pattern in (".*.tmp", "jobs/*/.*.tmp"):
        for tmp in Path(root).glob(pattern):
            tmp.unlink(missing_ok=True)
            n += 1
    return n


def atomic_write_json(path: str | Path, obj, durable: bool = True) -> None:
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    atomic_write(path, lambda f: f.write(data), durable)


def read_json(path: str | Path, default=None):
    """Read a JSON file; a missing or unparsable file gives `default`."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default
