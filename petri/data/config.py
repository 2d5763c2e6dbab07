"""Which data a job trains on: a frozen dataclass with no torch import."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from petri.config import from_mapping, setting


@dataclass(frozen=True)
class DataCfg:
    # A built-in name, a .petri file, or an image folder / .npz / .h5 (imported on first use).
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    # Held out of the training set by split_seed; None: the dataset's default (10,000 for the
    # built-ins, `--val-size` of `petri data import`).
    val_size: int | None = setting(None, ge=0)
    split_seed: int = setting(0, ge=0)
    # Training images used (after the split); None = all.
    subset: int | None = setting(None, ge=1)
    val_subset: int | None = setting(None, ge=1)  # validation images used; None = all
    crop: bool = True
    flip: bool | None = None  # None: the dataset's default
    cutout: int = setting(0, ge=0)  # side of the cutout square in pixels, 0 = off
    download: bool = True
    # Keep the images on the training device (true) or stream them from the dataset file
    # (false); auto keeps them there when they take at most half its free memory.
    on_device: bool | Literal["auto"] = "auto"

    @classmethod
    def from_dict(cls, d: dict | None) -> "DataCfg":
        """The checked config, with `dataset` resolved: a path becomes the absolute path of
        its .petri file (imported now if it is a folder or array file), so every job of a
        run reads the same file."""
        from petri.data.importer import resolve_dataset

        cfg = from_mapping(cls, d, "data")
        # An unknown dataset fails here, naming the known ones.
        return replace(cfg, dataset=resolve_dataset(cfg.dataset, cfg.data_dir))

    def to_dict(self) -> dict:
        return asdict(self)


def absolute_paths(section: dict) -> dict:
    """A config's `data` mapping with relative `dataset` and `data_dir` paths made absolute
    from the current directory: the daemon and its workers run elsewhere (in the run dir)."""
    from petri.data.info import named_datasets

    out = dict(section)
    for key in ("dataset", "data_dir"):
        value = out.get(key)
        if isinstance(value, str) and value not in named_datasets():
            out[key] = str(Path(value).expanduser().absolute())
    return out
