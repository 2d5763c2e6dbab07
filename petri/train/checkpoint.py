"""Checkpoints written atomically, with the previous one kept as a fallback.

`save` writes a temp file and fsyncs it, moves the current checkpoint to `<name>.prev`, then
renames the temp file into place; a crash at any point leaves at least one whole checkpoint.
`load` detects a truncated or corrupt file, warns, and falls back to the previous one; None
means there is no checkpoint yet, a fresh start. A file that is not a petri checkpoint, or a
damaged one with nothing whole to fall back to, is refused and left as it is: the next save
would move it aside and overwrite it.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch

from petri.errors import PetriError
from petri.io import atomic_write, fsync_dir, remove_stale_temps, write_error

log = logging.getLogger("petri")
FORMAT = "petri-ckpt-1"
REQUIRED = ("format", "model", "optimizer", "scheduler", "epoch", "step")
ZIP_MAGIC = b"PK\x03\x04"  # what torch.save writes


class CheckpointError(PetriError):
    """A checkpoint file that must not be resumed from nor overwritten."""


def prev_path(path: Path) -> Path:
    return path.with_name(path.name + ".prev")


def staged_path(path: Path) -> Path:
    return path.with_name(path.name + ".new")


def save(state: dict, path: str | Path) -> None:
    path = Path(path)
    data = {"format": FORMAT, **state}
    staged = staged_path(path)
    remove_stale_temps(staged)
    try:
        atomic_write(staged, lambda f: torch.save(data, f))  # whole and fsynced before renames
        if path.exists():
            os.replace(path, prev_path(path))
        os.replace(staged, path)
        fsync_dir(path.parent)
    except OSError as e:
        raise write_error(e, path, "checkpoint") from e


def _read(path: Path, map_location) -> tuple[dict | None, str | None]:
    """(the petri checkpoint at `path`, None) or (None, why it cannot be read), or raise
    `CheckpointError` for a file that reads but is no petri checkpoint."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != ZIP_MAGIC:
                return None, "not a file torch.save wrote"
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for a damaged zip/pickle
        return None, f"{type(e).__name__}: {' '.join(str(e).split())}"[:200]
    if not isinstance(state, dict) or state.get("format") != FORMAT \
            or any(k not in state for k in REQUIRED):
        what = ("a dict without petri's format mark" if isinstance(state, dict)
                else f"a {type(state).__name__}")
        raise CheckpointError(f"{path} is not a petri checkpoint (it holds {what}); it was left "
                              f"untouched: choose another checkpoint path or move the file away")
    return state, None


def load(path: str | Path, map_location="cpu") -> dict | None:
    """The newest whole checkpoint at `path` (or its staged or previous copy); None if there
    is none yet."""
    path = Path(path)
    unreadable = []
    # A crash between save's two renames leaves the new file staged and the old one as .prev.
    for p in (path, staged_path(path), prev_path(path)):
        if p.exists():
            state, why = _read(p, map_location)
            if state is not None:
                for bad, bad_why in unreadable:
                    log.warning("checkpoint %s is unreadable (%s); resuming from %s", bad,
                                bad_why, p)
                return state
            unreadable.append((p, why))
    if unreadable:
        p, why = unreadable[0]
        raise CheckpointError(f"{p} is not a readable petri checkpoint ({why}), and no whole "
                              f"earlier one lies beside it; it was left untouched: choose "
                              f"another checkpoint path, or remove the file to start afresh")
    return None


def check_fits(model: torch.nn.Module, state: dict, path: Path) -> None:
    """Raise `CheckpointError` when `state` was written for a network other than `model`."""
    own, saved = model.state_dict(), state["model"]
    missing = sorted(own.keys() - saved.keys())
    extra = sorted(saved.keys() - own.keys())
    resized = sorted(k for k in own.keys() & saved.keys()
                     if tuple(own[k].shape) != tuple(saved[k].shape))
    if not (missing or extra or resized):
        return
    parts = []
    if missing:
        parts.append(f"{len(missing)} tensors of this network are not in it (e.g. {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} of its tensors are not in this network (e.g. {extra[0]})")
    if resized:
        k = resized[0]
        parts.append(f"{len(resized)} tensors differ in shape (e.g. {k}: "
                     f"{'x'.join(map(str, saved[k].shape))} there, "
                     f"{'x'.join(map(str, own[k].shape))} here)")
    raise CheckpointError(f"{path} is a checkpoint of another network: {'; '.join(parts)}; it "
                          f"was left untouched: train the network it was written for, or "
                          f"choose another checkpoint path")
