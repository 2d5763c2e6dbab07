"""The gallery: frontier models in one HDF5 file, ready for long evaluation runs.

Layout (format `petri-gallery-1`)::

    /                     attrs: format, created, source (run dir), cost_metric, selection,
                                 config (the run's YAML)
    /models/<point id>/   attrs: desc, lineage, trainer, data (JSON), val_error, params, macs,
                                 activation_bytes, parent, stage, key,
                                 classes (JSON: the name of each output, by index),
                                 preprocessing (JSON: input shape, mean, std; galleries
                                 written before it have none)
    /models/<id>/weights/<tensor name>   one dataset per state-dict entry

Weights arrive as numpy arrays, so this module needs h5py and numpy only. A gallery is built
in memory, then written to a temp file beside the target, fsynced and renamed: readers never
see half a gallery, and a full disk is a Python OSError, not a crash inside HDF5.
"""
from __future__ import annotations

import io
import json
import operator
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path

from petri.errors import StoreError
from petri.io import atomic_write, check_free_space, write_error

FORMAT = "petri-gallery-1"
JSON_ATTRS = ("desc", "lineage", "trainer", "data")
NUMBER_ATTRS = ("val_error", "test_error", "params", "macs", "activation_bytes", "parent",
                "latency_ms")


@dataclass(frozen=True)
class Preprocessing:
    """What a model's input must be: float images of `shape` (C, H, W), each channel scaled
    as in training, `(pixel / 255 - mean) / std` for 8-bit pixels."""

    shape: tuple[int, int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d) -> "Preprocessing":
        """The preprocessing `d` describes; ValueError naming what is wrong with it."""
        if not isinstance(d, dict) or set(d) != {"shape", "mean", "std"}:
            raise ValueError("is not an object of shape, mean and std")
        shape, mean, std = d["shape"], d["mean"], d["std"]
        if not (isinstance(shape, list) and len(shape) == 3
                and all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                        for n in shape)):
            raise ValueError(f"has a shape that is not three positive integers ({shape!r})")
        for name, values in (("mean", mean), ("std", std)):
            if not (isinstance(values, list) and len(values) == shape[0]
                    and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                            for v in values)):
                raise ValueError(f"has a {name} that is not {shape[0]} numbers, one per "
                                 f"channel ({values!r})")
        if not all(v > 0 for v in std):
            raise ValueError(f"has a std that is not positive ({std!r})")
        return cls(tuple(shape), tuple(map(float, mean)), tuple(map(float, std)))


@dataclass
class GalleryModel:
    id: int
    key: str
    desc: dict
    val_error: float | None
    params: int | None
    macs: int | None
    activation_bytes: int | None
    parent: int | None
    stage: str
    lineage: dict
    trainer: dict
    data: dict
    test_error: float | None = None
    classes: list = field(default_factory=list)  # what output i predicts
    preprocessing: Preprocessing | None = None  # None in galleries written before it was kept
    weights: dict = field(default_factory=dict, repr=False)  # name -> numpy array
    latency_ms: float | None = None  # measured on the run's latency target (None: not)
    latency: dict | None = None  # that measurement and its target, as the store keeps it

    def to_dict(self) -> dict:
        """Everything but the weights, as plain JSON values."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "weights"}
        d["preprocessing"] = self.preprocessing and self.preprocessing.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GalleryModel":
        pre = d.get("preprocessing")
        return cls(**{**d, "preprocessing": None if pre is None
                      else Preprocessing.from_dict(pre)})


def write_gallery(path: str | Path, models: list[GalleryModel], meta: dict) -> None:
    """Write `models` (with their weights) and run metadata to `path`, atomically."""
    import h5py

    path = Path(path)
    image = io.BytesIO()
    with h5py.File(image, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["created"] = time.time()
        for k, v in meta.items():
            f.attrs[k] = v if isinstance(v, (int, float, str)) else json.dumps(v)
        group = f.create_group("models")
        for m in models:
            g = group.create_group(str(m.id))
            g.attrs["key"] = m.key
            g.attrs["stage"] = m.stage or ""
            for name in JSON_ATTRS:
                g.attrs[name] = json.dumps(getattr(m, name))
            g.attrs["classes"] = json.dumps(m.classes)
            if m.preprocessing is not None:
                g.attrs["preprocessing"] = json.dumps(m.preprocessing.to_dict())
            if m.latency is not None:
                g.attrs["latency"] = json.dumps(m.latency)
            for name in NUMBER_ATTRS:
                value = getattr(m, name)
                if value is not None:
                    g.attrs[name] = value
            w = g.create_group("weights")
            for name, array in m.weights.items():
                w.create_dataset(name, data=array)
    data = image.getbuffer()
    # Room for the file system's own blocks beside the file.
    check_free_space(path, len(data) + len(data) // 100 + 2**20, "gallery")
    try:
        atomic_write(path, lambda fh: fh.write(data))
    except OSError as e:
        raise write_error(e, path, "gallery") from None


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _open(path: str | Path):
    import h5py

    path = Path(path)
    if not path.exists():
        raise StoreError(f"gallery {path} does not exist; write one with "
                         f"`petri export RUN_DIR -o {path.name}`")
    if not path.is_file():
        raise StoreError(f"{path} is not a file; pass the .h5 file `petri export` wrote")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise StoreError(f"{path} is not a readable HDF5 file ({_one_line(e)}); export the "
                         f"gallery again with `petri export`") from None
    fmt = f.attrs.get("format")
    if not (isinstance(fmt, str) and fmt == FORMAT and isinstance(f.get("models"), h5py.Group)):
        f.close()
        raise StoreError(f"{path} is an HDF5 file but not a petri gallery ({FORMAT}); export "
                         f"one with `petri export`")
    return f


@contextmanager
def _reading(path: str | Path):
    """The open gallery; HDF5's errors on a damaged or truncated file become one StoreError."""
    with _open(path) as f:
        try:
            yield f
        except (OSError, KeyError, RuntimeError, TypeError, ValueError) as e:
            raise StoreError(f"gallery {path} is damaged ({_one_line(e)}); export it again "
                             f"with `petri export`") from None


def _model_name(model_id) -> str | None:
    """The group name model `model_id` is stored under; None for what is no model id."""
    if isinstance(model_id, str):
        return str(int(model_id)) if model_id.isascii() and model_id.isdigit() else None
    if isinstance(model_id, bool):
        return None
    try:
        return str(operator.index(model_id))
    except TypeError:
        return None


def _ids(models) -> list[str]:
    return sorted(models.keys(), key=lambda k: (len(k), k))  # numeric order for digit names


def _model(g, with_weights: bool, path) -> GalleryModel:
    import h5py

    name = g.name.rsplit("/", 1)[1]

    def damaged(problem: str) -> StoreError:
        return StoreError(f"gallery {path}: model {name} {problem}; the entry is damaged: "
                          f"export the gallery again with `petri export`")

    if _model_name(name) != name:
        raise damaged("is not named by a point id")
    attrs = g.attrs
    kw = {}
    for attr in (*JSON_ATTRS, "classes"):
        kind = list if attr == "classes" else dict
        if attr not in attrs:
            if attr == "classes":  # galleries exported before class names were kept have none
                kw[attr] = []
                continue
            raise damaged(f"has no {attr} attribute")
        try:
            kw[attr] = json.loads(attrs[attr])
        except (TypeError, ValueError) as e:
            raise damaged(f"has a {attr} attribute that is not JSON ({_one_line(e)})") from None
        if not isinstance(kw[attr], kind) or kind is list and not all(
                isinstance(c, str) for c in kw[attr]):
            raise damaged(f"has a {attr} attribute that is not a JSON "
                          f"{'object' if kind is dict else 'list of names'}")
    for attr in NUMBER_ATTRS:
        value = attrs.get(attr)
        value = None if value is None else getattr(value, "item", lambda: value)()
        if not (value is None or isinstance(value, (int, float)) and not isinstance(value, bool)):
            raise damaged(f"has a {attr} attribute that is not a number ({value!r})")
        kw[attr] = value
    for attr in ("key", "stage"):
        if not isinstance(attrs.get(attr), str):
            raise damaged(f"has no {attr} attribute")
    if "latency" in attrs:
        try:
            kw["latency"] = json.loads(attrs["latency"])
        except (TypeError, ValueError) as e:
            raise damaged(f"has a latency attribute that is not JSON ({_one_line(e)})") from None
    if "preprocessing" in attrs:
        try:
            pre = json.loads(attrs["preprocessing"])
        except (TypeError, ValueError) as e:
            raise damaged(f"has a preprocessing attribute that is not JSON "
                          f"({_one_line(e)})") from None
        try:
            kw["preprocessing"] = Preprocessing.from_dict(pre)
        except ValueError as e:
            raise damaged(f"has a preprocessing attribute that {e}") from None
    weights = g.get("weights")
    if not isinstance(weights, h5py.Group) or not all(
            isinstance(v, h5py.Dataset) for v in weights.values()):
        raise damaged("has no weights group of tensors")
    return GalleryModel(id=int(name), key=attrs["key"], stage=attrs["stage"],
                        weights={k: v[()] for k, v in weights.items()} if with_weights else {},
                        **kw)


def read_meta(path: str | Path) -> dict:
    with _reading(path) as f:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}


def read_models(path: str | Path, with_weights: bool = False) -> list[GalleryModel]:
    """Every model of the gallery, cheapest first by MACs (weights only when asked)."""
    with _reading(path) as f:
        models = [_model(f["models"][k], with_weights, path) for k in _ids(f["models"])]
    return sorted(models, key=lambda m: (m.macs or 0, m.id))


def read_model(path: str | Path, model_id: int | str, with_weights: bool = True) -> GalleryModel:
    """The model `model_id` (an integer, or a string of digits), with its weights unless
    `with_weights` is false."""
    with _reading(path) as f:
        group = f["models"]
        name = _model_name(model_id)
        if name is None or name not in group:
            raise StoreError(f"gallery {path} has no model {model_id!r}; model ids are the "
                             f"integers `petri gallery show` lists; it holds: "
                             f"{', '.join(_ids(group)) or 'none'}")
        return _model(group[name], with_weights, path)
