"""Which data a job trains on: a frozen dataclass with no torch import."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from petri.config import from_mapping


@dataclass(frozen=True)
class DataCfg:
    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    val_size: int = 10000  # held out from the training set, fixed by split_seed
    split_seed: int = 0
    subset: int | None = None  # training images used (after the split); None = all
    val_subset: int | None = None  # validation images used; None = all
    crop: bool = True
    flip: bool | None = None  # None: the dataset's default
    cutout: int = 0  # side of the cutout square in pixels, 0 = off
    download: bool = True

    @classmethod
    def from_dict(cls, d: dict | None) -> "DataCfg":
        from petri.data.info import dataset_info

        cfg = from_mapping(cls, d, "data")
        dataset_info(cfg.dataset)  # an unknown dataset fails here, naming the known ones
        return cfg

    def to_dict(self) -> dict:
        return asdict(self)
