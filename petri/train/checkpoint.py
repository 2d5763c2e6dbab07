"""Checkpoints written atomically, with the previous one kept as a fallback.

`save` writes a temp file and fsyncs it, moves the current checkpoint to `<name>.prev`, then
renames the temp file into place; a crash at any point leaves at least one whole checkpoint.
`load` detects a truncated or corrupt file, warns, and falls back to the previous one (or to
None, meaning a fresh start).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from petri.io import atomic_write, fsync_dir

log = logging.getLogger("petri")
FORMAT = "petri-ckpt-1"
REQUIRED = ("format", "model", "optimizer", "scheduler", "epoch", "step")


def prev_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def staged_path(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def save(state: dict, path: str | Path) -> None:
    path = Path(path)
    data = {"format": FORMAT, **state}
    staged = staged_path(path)
    atomic_write(staged, lambda f: torch.save(data, f))  # whole and fsynced before any rename
    if path.exists():
        os.replace(path, prev_path(path))
    os.replace(staged, path)
    fsync_dir(path.parent)


def _try_load(path: Path, map_location) -> dict | None:
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        log.warning("checkpoint %s is unreadable (%s: %s); ignoring it", path, type(e).__name__, e)
        return None
    if not isinstance(state, dict) or any(k not in state for k in REQUIRED) \
            or state["format"] != FORMAT:
        log.warning("checkpoint %s is not a petri checkpoint; ignoring it", path)
        return None
    return state


def load(path: str | Path, map_location="cpu") -> dict | None:
    """The newest readable checkpoint at `path` (or its `.prev`), or None."""
    path = Path(path)
    # A crash between save's two renames leaves the new file staged and the old one as .prev.
    for p in (path, staged_path(path), prev_path(path)):
        if p.exists():
            state = _try_load(p, map_location)
            if state is not None:
                if p != path:
                    log.warning("resuming from the previous checkpoint %s", p)
                return state
    return None
