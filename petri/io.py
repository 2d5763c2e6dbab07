"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Also the checks around a write (a writable folder, enough free space) and the one-line
messages for what fails, so commands refuse before the work and say what to fix.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable

from petri.errors import PetriError


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
            # Held until the rename, and dropped by the kernel if this process dies: how
            # `remove_stale_temps` tells a killed write from one still running. A file
            # system without locks leaves the temp file to that cleaner, not the write.
            with contextlib.suppress(OSError):
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)
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


def remove_stale_temps(path: str | Path, min_age_s: float = 10.0) -> int:
    """Delete the temp files that killed `atomic_write`s of `path` left beside it.

    Safe beside live writers, in any folder: a temp file is stale only when no process holds
    its lock. Files younger than `min_age_s` are spared, since a writer creates its file a
    moment before it locks it.
    """
    path = Path(path)
    return sum(_remove_if_stale(tmp, min_age_s)
               for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"))


def remove_stale_temps_in(folder: str | Path, min_age_s: float = 10.0) -> int:
    """`remove_stale_temps` for every file of `folder`."""
    return sum(_remove_if_stale(tmp, min_age_s) for tmp in Path(folder).glob(".*.tmp"))


def _remove_if_stale(tmp: Path, min_age_s: float) -> bool:
    try:
        fd = os.open(tmp, os.O_RDONLY)
    except OSError:
        return False
    try:
        if time.time() - os.fstat(fd).st_mtime < min_age_s:
            return False
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        tmp.unlink()
        return True
    except OSError:  # a live writer holds it, or the folder is read-only
        return False
    finally:
        os.close(fd)


def fmt_bytes(n: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path):
        path = path.parent
    return path


def write_error(e: OSError, path: Path, what: str) -> PetriError:
    """One line for an OSError met writing `what` to `path`: what failed, where, the fix."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return PetriError(f"the disk holding {path.parent} ({mount_point(path.parent)}) is full: "
                          f"the {what} {path} was not written and no partial file is left; "
                          f"free some space and try again")
    where = ""
    if e.filename and Path(e.filename) != path:
        # A temp file beside `path` means its folder refused it; else a parent folder failed.
        where = f"{path.parent if Path(e.filename).parent == path.parent else e.filename}: "
    return PetriError(f"cannot write the {what} {path}: {where}{e.strerror or e}; choose a "
                      f"writable path")


def check_writable(path: str | Path, what: str) -> None:
    """Fail now, not after the work, when the folder of `path` cannot take a new file."""
    path = Path(path)
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise PetriError(f"cannot write the {what} {path}: {parent} is a file, not a "
                                 f"folder; choose another path")
            break
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise write_error(e, path, what) from None


def check_free_space(path: str | Path, need: int, what: str) -> None:
    path = Path(path)
    folder = next(p for p in path.parents if p.is_dir())  # `path`'s own may not exist yet
    have = shutil.disk_usage(folder).free
    if have < need:
        raise PetriError(f"not enough space on {mount_point(folder)} for the {what} "
                         f"{path}: need {fmt_bytes(need)}, have {fmt_bytes(have)}; free some "
                         f"space or choose another path")


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


def cache_dir() -> Path:
    """Where petri keeps what it measured about this machine (fast-path verdicts, latencies):
    $PETRI_CACHE_DIR, else the user's cache folder's petri/."""
    base = os.environ.get("PETRI_CACHE_DIR") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "petri"
    return Path(base)
