"""Which data a job trains on: a frozen dataclass with no torch import."""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from petri.config import from_mapping, setting


@dataclass(frozen=True)
class DataCfg:
    dataset: str = setting(
        "fashion-mnist", help="A built-in name, a `petri.datasets` plug-in, a .petri file, "
                              "or an image folder / .npz / .h5 (imported on first use).")
    data_dir: str | None = setting(None, help="Where built-in datasets are found or "
                                              "downloaded (null: $PETRI_DATA, else "
                                              "~/.cache/petri/data).")
    val_size: int | None = setting(
        None, ge=0, help="Training images held out for validation (null: the dataset's "
                         "default, 10,000 for the built-ins, `--val-size` of an import).")
    split_seed: int = setting(0, ge=0, help="Seed of the train/validation split.")
    subset: int | None = setting(None, ge=1, help="Training images used after the split "
                                                  "(null: all).")
    val_subset: int | None = setting(None, ge=1, help="Validation images used (null: all).")
    crop: bool = setting(True, help="Random padded crops in training, where the dataset "
                                    "defines a padding.")
    flip: bool | None = setting(None, help="Random horizontal flips in training (null: the "
                                           "dataset's default).")
    cutout: int = setting(0, ge=0, help="Side in pixels of the cutout square in training "
                                        "(0: off).")
    download: bool = setting(True, help="Download a missing built-in dataset (false: fail, "
                                        "naming where to put its files).")
    on_device: bool | Literal["auto"] = setting(
        "auto", help="Keep the images on the training device (true) or stream them from the "
                     "dataset file (false); auto keeps them when they take at most half its "
                     "free memory.")

    @classmethod
    def from_dict(cls, d: dict | None) -> "DataCfg":
        """The checked config, with `dataset` resolved: a path becomes the absolute path of
        its .petri file (imported now if it is a folder or array file), so every job of a
        run reads the same file."""
        from petri.data.info import resolve_dataset

        cfg = from_mapping(cls, d, "data")
        # An unknown dataset fails here, naming the known ones.
        return replace(cfg, dataset=resolve_dataset(cfg.dataset, cfg.data_dir))

    def to_dict(self) -> dict:
        return asdict(self)

    def size_warnings(self) -> list[str]:
        """One line for each way the data is too small for what this config asks of it:
        subsets larger than what they take from, and a validation split too small to rank
        models by. Nothing where the dataset's size is unknown without loading it."""
        from petri.data.info import dataset_info

        info = dataset_info(self.dataset, self.data_dir)
        n = info.train_size
        if n is None:
            return []
        held = min(info.val_size if self.val_size is None else self.val_size, n)
        name = Path(info.name).name
        out = []
        if self.subset is not None and self.subset > n - held:
            out.append(f"data.subset {self.subset} exceeds the {n - held} training images "
                       f"{name} has beside its {held} validation images: all {n - held} are "
                       f"used; lower data.subset or leave it unset")
        if held and self.val_subset is not None and self.val_subset > held:
            out.append(f"data.val_subset {self.val_subset} exceeds the {held} validation "
                       f"images of {name}: all {held} are used; lower data.val_subset or "
                       f"raise data.val_size")
        n_val = held if self.val_subset is None else min(held, self.val_subset)
        if 0 < n_val < MIN_VAL_IMAGES:
            fix = (f"use at least {MIN_VAL_IMAGES} (data.val_size and data.val_subset)"
                   if n - MIN_VAL_IMAGES >= MIN_VAL_IMAGES else
                   f"add images: {name} has {n} training images, too few to hold out "
                   f"{MIN_VAL_IMAGES} and still train on as many")
            out.append(f"the validation split has only {n_val} images, too few to rank "
                       f"models: errors move in steps of {100 / n_val:.3g} points and are "
                       f"uncertain by about ±{100 * noise(n_val):.3g} (one binomial sd), more "
                       f"than models differ by; {fix}")
        return out


# Below this many validation images, one binomial sd of an error (0.5/sqrt(n) at 50% error:
# 2.2 points at 500) exceeds the 1-3 points that neighbours on a frontier differ by, and
# a model's place in the ranking is noise.
MIN_VAL_IMAGES = 500


def warn_if_small(cfg: DataCfg) -> None:
    for line in cfg.size_warnings():
        logging.getLogger("petri").warning(line)


def noise(n: int) -> float:
    """The binomial sd of an error rate measured on `n` images, at its worst (50% error)."""
    return 0.5 / n ** 0.5


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
