"""What petri knows about each dataset without loading it (no torch import).

A dataset is a built-in name, the name of a `petri.datasets` plug-in, or a path: a `.petri`
file (whose header answers), or an image folder / `.npz` / HDF5 file, imported into the data
dir on first use under a name keyed by its path, file sizes and mtimes, so an edited source is
imported again and an unchanged one never is.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from petri import plugins
from petri.errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    """What petri knows of a dataset without loading it.

    Attributes:
        name: A built-in name, a plug-in's entry-point name, or the absolute path of a
            .petri file.
        shape: (C, H, W) of one image.
        classes: What label i means, for every label.
        mean: Per channel, of the training images scaled to [0, 1]: the normalisation.
        std: Per channel, likewise.
        flip: Whether horizontal flips preserve labels (the default of `data.flip`).
        crop_pad: The padding of random crops in training (0: no crops).
        val_size: Training images held out for validation unless `data.val_size` says.
        train_size: Images of the training split before that hold-out (None: unknown
            until loaded).
    """

    name: str
    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    flip: bool
    crop_pad: int
    val_size: int = 10000
    train_size: int | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)


_DIGITS = tuple("0123456789")
_FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
            "Bag", "Ankle boot")
_CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
            "truck")
# The fine labels in the order of cifar-100-python/meta.
_CIFAR100 = tuple("""apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy
bridge bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach
couch crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo
keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse
mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy
porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper snail
snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television tiger
tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split())

DATASETS: dict[str, DatasetInfo] = {
    "fashion-mnist": DatasetInfo("fashion-mnist", (1, 28, 28), _FASHION, (0.2860,), (0.3530,),
                                 True, 2, train_size=60000),
    "mnist": DatasetInfo("mnist", (1, 28, 28), _DIGITS, (0.1307,), (0.3081,), False, 2,
                         train_size=60000),
    "cifar10": DatasetInfo("cifar10", (3, 32, 32), _CIFAR10, (0.4914, 0.4822, 0.4465),
                           (0.2470, 0.2435, 0.2616), True, 4, train_size=50000),
    "cifar100": DatasetInfo("cifar100", (3, 32, 32), _CIFAR100, (0.5071, 0.4865, 0.4409),
                            (0.2673, 0.2564, 0.2762), True, 4, train_size=50000),
    # ImageNet is known for cost counting only; petri ships no ImageNet reader.
    "imagenet": DatasetInfo("imagenet", (3, 224, 224), tuple(map(str, range(1000))),
                            (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), True, 0),
}


@dataclass(frozen=True)
class DatasetPlugin:
    """What a `petri.datasets` entry point names: the dataset's info (its `name` is the
    entry point's) and a reader `load(data_dir) -> (train_x, train_y, test_x, test_y)`:
    uint8 images (N, C, H, W) of `info.shape`, integer labels; no test split: None, None.
    The module should not import torch, so that checking a config stays quick."""

    info: DatasetInfo
    load: Callable[[Path], tuple]


def named_datasets() -> tuple[str, ...]:
    """Datasets known by name: the built-in ones, then the installed plug-ins'."""
    return tuple(DATASETS) + tuple(n for n in plugins.names(plugins.DATASETS) if n not in DATASETS)


def dataset_plugin(name: str) -> DatasetPlugin:
    plugin = plugins.load(plugins.DATASETS, name)
    if not isinstance(plugin, DatasetPlugin) or plugin.info.name != name:
        raise DataError(f"the petri.datasets plug-in {name!r} must name a DatasetPlugin whose "
                        f"info.name is {name!r}; fix the plug-in")
    return plugin


def default_data_dir() -> Path:
    return Path(os.environ.get("PETRI_DATA", Path.home() / ".cache" / "petri" / "data"))


def _fingerprint(src: Path) -> str:
    h = hashlib.sha256(str(src).encode())
    files = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
    for p in files:
        st = p.stat()
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def resolve_dataset(name: str, data_dir: str | Path | None = None) -> str:
    """A built-in name as is; otherwise the absolute path of a `.petri` file, importing an
    image folder, .npz or .h5 into `DATA_DIR/imported/` the first time it is named."""
    from petri.data.importer import import_dataset, progress_bar
    from petri.data.petrifile import SUFFIX

    if name in named_datasets():
        if name not in DATASETS:
            dataset_plugin(name)  # a broken plug-in fails here, not in every worker
        return name
    path = Path(name).expanduser().resolve()
    if not path.exists():
        if path.suffix in (SUFFIX, ".npz", ".h5", ".hdf5") or "/" in name:
            where = "" if Path(name).expanduser().is_absolute() else f" in {Path.cwd()}"
            raise DataError(f"dataset {name} does not exist{where}; import your data with "
                            f"`petri data import SRC -o NAME.petri`")
        raise unknown_dataset(name)
    if path.suffix == SUFFIX:
        return str(path)
    target = (Path(data_dir) if data_dir else default_data_dir()) / "imported" / \
        f"{path.stem}-{_fingerprint(path)}{SUFFIX}"
    if not target.is_file():
        with progress_bar() as stage:
            import_dataset(path, target, stage=stage)
    return str(target)


def dataset_info(name: str, data_dir: str | Path | None = None) -> DatasetInfo:
    """The info of a built-in dataset, or of a user dataset from its `.petri` header.

    User images get no flips by default (a flipped digit or letter is another symbol; set
    `data.flip: true` for photos) and CIFAR's crop padding of an eighth of the side."""
    if name in DATASETS:
        return DATASETS[name]
    if name in plugins.names(plugins.DATASETS):
        return dataset_plugin(name).info
    from petri.data.petrifile import read_header

    h = read_header(resolve_dataset(name, data_dir))
    return DatasetInfo(str(h.path), h.shape, h.classes, h.mean, h.std, flip=False,
                       crop_pad=max(1, min(h.shape[1:]) // 8), val_size=h.val_size,
                       train_size=h.count("train"))


def unknown_dataset(name: str) -> DataError:
    return DataError(f"unknown dataset {name!r}: use one of {', '.join(named_datasets())}, a .petri "
                     f"file (`petri data import`), an image folder, an .npz or an .h5 file")
