"""The gallery: frontier models in one HDF5 file, ready for long evaluation runs.

Layout (format `petri-gallery-1`)::

    /                     attrs: format, created, source (run dir), cost_metric, selection,
                                 config (the run's YAML)
    /models/<point id>/   attrs: desc, lineage, trainer, data (JSON), val_error, params, macs,
                                 activation_bytes, parent, stage, key
    /models/<id>/weights/<tensor name>   one dataset per state-dict entry

Weights arrive as numpy arrays, so this module needs h5py and numpy only. A gallery is written
to a temp file beside the target, fsynced and renamed: readers never see half a gallery.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from petri.errors import StoreError
from petri.io import fsync_dir

FORMAT = "petri-gallery-1"
JSON_ATTRS = ("desc", "lineage", "trainer", "data")
NUMBER_ATTRS = ("val_error", "test_error", "params", "macs", "activation_bytes", "parent")


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
    weights: dict = field(default_factory=dict, repr=False)  # name -> numpy array


def write_gallery(path: str | Path, models: list[GalleryModel], meta: dict,
                  on_model=None) -> None:
    """Write `models` (with their weights) and run metadata to `path`, atomically."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
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
                for name in NUMBER_ATTRS:
                    value = getattr(m, name)
                    if value is not None:
                        g.attrs[name] = value
                w = g.create_group("weights")
                for name, array in m.weights.items():
                    w.create_dataset(name, data=array)
                if on_model is not None:
                    on_model(m)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open(path: str | Path):
    import h5py

    path = Path(path)
    if not path.is_file():
        raise StoreError(f"gallery {path} does not exist; write one with "
                         f"`petri export RUN_DIR -o {path.name}`")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise StoreError(f"{path} is not a readable HDF5 file ({e}); export the gallery "
                         f"again with `petri export`") from None
    if f.attrs.get("format") != FORMAT or "models" not in f:
        f.close()
        raise StoreError(f"{path} is an HDF5 file but not a petri gallery ({FORMAT}); export "
                         f"one with `petri export`")
    return f


def _model(g, with_weights: bool) -> GalleryModel:
    attrs = g.attrs
    kw = {name: json.loads(attrs[name]) for name in JSON_ATTRS}
    for name in NUMBER_ATTRS:
        value = attrs.get(name)
        kw[name] = None if value is None else value.item()
    weights = {k: v[()] for k, v in g["weights"].items()} if with_weights else {}
    return GalleryModel(id=int(g.name.rsplit("/", 1)[1]), key=str(attrs["key"]),
                        stage=str(attrs["stage"]), weights=weights, **kw)


def read_meta(path: str | Path) -> dict:
    with _open(path) as f:
        return {k: (v.item() if hasattr(v, "item") else v) for k, v in f.attrs.items()}


def read_models(path: str | Path, with_weights: bool = False) -> list[GalleryModel]:
    """Every model of the gallery, cheapest first by MACs (weights only when asked)."""
    with _open(path) as f:
        models = [_model(g, with_weights) for g in f["models"].values()]
    return sorted(models, key=lambda m: (m.macs or 0, m.id))


def read_model(path: str | Path, model_id: int) -> GalleryModel:
    with _open(path) as f:
        if str(model_id) not in f["models"]:
            ids = ", ".join(sorted(f["models"].keys(), key=int))
            raise StoreError(f"gallery {path} has no model {model_id}; it holds: {ids}")
        return _model(f["models"][str(model_id)], with_weights=True)
