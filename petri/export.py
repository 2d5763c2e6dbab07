"""`petri export RUN -o DIR --format torchscript|pt2|onnx|safetensors`: each selected model of a
run as a file of its own, with `model-<id>.json` beside it (an `ExportedModel`: input shape,
mean/std, class names, cost, errors, lineage and the desc).

    torchscript  model-<id>.pt           torch.jit.load(path)(x); also from C++ (libtorch)
    pt2          model-<id>.pt2          torch.export.load(path).module()(x)
    onnx         model-<id>.onnx         onnxruntime.InferenceSession(path), input "images"
    safetensors  model-<id>.safetensors  weights only: load them into
                                         build_model(ModelDesc.from_dict(json["desc"]))

TorchScript files are traced, not scripted. `torch.jit.script` would need the cell's forward
rewritten for TorchScript's typing: the set of live nodes, the `None` states of dead nodes,
the optional grower hook Petridish's search attaches and the drop-path branch all become
typed, statically unrolled code, for an API torch has deprecated in favour of torch.export.
All of that is fixed when a network is built, so a trace of the eval-mode network records
exactly the computation the desc describes; the one thing a trace bakes in is the input's
height and width (FactorizedReduce pads odd sizes by comparing shapes), which is the
dataset's and is written in the JSON. pt2 (torch.export's ExportedProgram, the path torch
recommends now) and ONNX (written from that program) leave the batch dimension free.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Callable

from petri.errors import PetriError, StoreError, install_extra
from petri.io import (atomic_write, atomic_write_json, check_writable, remove_stale_temps_in,
                      write_error)
from petri.store.gallery import GalleryModel, Preprocessing

FORMATS = {"torchscript": ".pt", "pt2": ".pt2", "onnx": ".onnx", "safetensors": ".safetensors"}
GALLERY = "hdf5"  # the format of `petri.gallery.export`: all models in one file
SIDECAR_FORMAT = "petri-export-1"
EXAMPLE_BATCH = 2  # a trace at batch 1 may fold the batch size into reshapes


@dataclass(frozen=True)
class ExportedModel:
    """One exported model: the JSON written beside its file, and a row of the summary."""

    id: int
    format: str
    file: str  # the model's file (beside this JSON), or the gallery that holds it
    preprocessing: Preprocessing | None  # None only for points whose job named no dataset
    classes: tuple[str, ...]  # what output i predicts
    params: int | None
    macs: int | None
    activation_bytes: int | None
    val_error: float | None
    test_error: float | None
    parent: int | None
    stage: str
    lineage: dict
    desc: dict
    source: str  # the run directory the model was found in
    latency_ms: float | None = None  # measured on the run's latency target (None: not)
    latency: dict | None = None  # that measurement and its target

    @classmethod
    def of(cls, m: GalleryModel, fmt: str, file: str, source: str) -> "ExportedModel":
        return cls(id=m.id, format=fmt, file=file, preprocessing=m.preprocessing,
                   classes=tuple(m.classes), params=m.params, macs=m.macs,
                   activation_bytes=m.activation_bytes, val_error=m.val_error,
                   test_error=m.test_error, parent=m.parent, stage=m.stage, lineage=m.lineage,
                   desc=m.desc, source=source, latency_ms=m.latency_ms, latency=m.latency)

    def to_dict(self) -> dict:
        return {"petri_format": SIDECAR_FORMAT, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "ExportedModel":
        kw = {f.name: d[f.name] for f in fields(cls)  # sidecars before latency lack it
              if f.name in d or f.default is MISSING}
        pre = kw["preprocessing"]
        kw["preprocessing"] = None if pre is None else Preprocessing.from_dict(pre)
        kw["classes"] = tuple(kw["classes"])
        return cls(**kw)


@dataclass(frozen=True)
class ExportStep:
    """How far an export is, reported before each model and once at the end."""

    done: int  # models written so far
    total: int
    model_id: int | None  # the model being written now; None once every one is


@dataclass(frozen=True)
class ExportSummary:
    """What `petri export` wrote: `--json` prints it."""

    output: str
    format: str
    cost_metric: str
    selection: str
    models: tuple[ExportedModel, ...]

    def to_dict(self) -> dict:
        return {**asdict(self), "models": [m.to_dict() for m in self.models]}

    @classmethod
    def from_dict(cls, d: dict) -> "ExportSummary":
        return cls(**{**d, "models": tuple(ExportedModel.from_dict(m) for m in d["models"])})


def export(run_dir: str | Path, out: str | Path, fmt: str = GALLERY, eps: float | None = None,
           metric: str | None = None,
           on_step: Callable[[ExportStep], None] = lambda step: None) -> ExportSummary:
    """Export the selected points of `run_dir` (frontier, or the `eps` band by `metric`) to
    the gallery file `out` (fmt "hdf5") or as one file each into the folder `out`. The
    formats that convert a model at a time (ONNX: seconds to a minute each) report
    each model to `on_step` as they start it; a gallery is one quick write."""
    from petri import gallery

    run_dir, out = Path(run_dir), Path(out)
    if fmt == GALLERY:
        models = gallery.export(run_dir, out, eps, metric)
        meta = gallery.read_meta(out)
        files = {m.id: str(out) for m in models}
    else:
        write = _writer(fmt)
        # The run is read first: a wrong run or an empty frontier leaves no folder behind.
        models, meta = gallery.frontier_models(run_dir, eps, metric)
        _check_folder(out)
        files = {}
        for i, m in enumerate(models):
            on_step(ExportStep(i, len(models), m.id))
            path = out / f"model-{m.id}{FORMATS[fmt]}"
            module = gallery.build_module(m, run_dir)
            try:
                write(module, m, path)
                atomic_write_json(out / f"model-{m.id}.json",
                                  ExportedModel.of(m, fmt, path.name, meta["source"]).to_dict())
            except OSError as e:
                raise write_error(e, path, "exported model") from None
            files[m.id] = str(path)
    on_step(ExportStep(len(models), len(models), None))
    return ExportSummary(str(out), fmt, meta["cost_metric"], meta["selection"],
                         tuple(ExportedModel.of(m, fmt, files[m.id], meta["source"])
                               for m in models))


def _check_folder(out: Path) -> None:
    """Refuse, before any model is written, a folder that cannot be made or written; and
    clear what killed exports left in it."""
    if out.exists() and not out.is_dir():
        raise PetriError(f"{out} is a file; these formats write one file per model into a "
                         f"folder: give a folder with -o")
    check_writable(out / "model.json", "export folder")
    remove_stale_temps_in(out)


def _writer(fmt: str) -> Callable:
    """The function that writes one model in `fmt`; what it needs is checked here, first."""
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401  torch's exporter needs both, and says so only late
            import onnxscript  # noqa: F401
        except ImportError as e:
            raise PetriError(f"--format onnx needs the onnx extra ({e.name} is missing): "
                             f"{install_extra('onnx')}") from None
    writers = {"torchscript": _torchscript, "pt2": _pt2, "onnx": _onnx,
               "safetensors": _safetensors}
    if fmt not in writers:
        raise PetriError(f"unknown export format {fmt!r}; use one of {GALLERY}, "
                         f"{', '.join(FORMATS)}")
    return writers[fmt]


def _example(m: GalleryModel):
    import torch

    if m.preprocessing is None:
        raise StoreError(f"model {m.id}: its job names no dataset, so its input size is "
                         f"unknown; export it with --format {GALLERY}")
    return torch.zeros(EXAMPLE_BATCH, *m.preprocessing.shape)


@contextlib.contextmanager
def quiet_exporters():
    """Hide what torch's exporters say about themselves: the deprecation of tracing (chosen
    knowingly, see the module docstring), tracer warnings about shape checks a trace fixes
    at the dataset's size, and onnx's notes on torchvision ops petri never uses."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def _torchscript(module, m: GalleryModel, path: Path) -> None:
    import torch

    with quiet_exporters():
        with torch.no_grad():
            traced = torch.jit.trace(module, _example(m))
        atomic_write(path, lambda f: torch.jit.save(traced, f))


def _program(module, m: GalleryModel):
    """The network as torch.export's ExportedProgram, any batch size."""
    import torch

    with quiet_exporters():
        return torch.export.export(module, (_example(m),),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))


def _pt2(module, m: GalleryModel, path: Path) -> None:
    import torch

    program = _program(module, m)
    atomic_write(path, lambda f: torch.export.save(program, f))


def _onnx(module, m: GalleryModel, path: Path) -> None:
    import torch

    program = _program(module, m)
    try:
        with quiet_exporters():
            onnx_program = torch.onnx.export(program, input_names=["images"],
                                             output_names=["logits"], dynamo=True,
                                             verbose=False)
    except Exception as e:  # torch's exporter raises many kinds; the cause is in the text
        raise PetriError(f"model {m.id}: torch could not export it to ONNX "
                         f"({' '.join(str(e).split())[:300]}); --format pt2, torchscript or "
                         f"safetensors still work") from None
    # One self-contained file: the weights inside, not in a `.onnx.data` beside it.
    data = onnx_program.model_proto.SerializeToString()
    atomic_write(path, lambda f: f.write(data))


def _safetensors(module, m: GalleryModel, path: Path) -> None:
    from safetensors.torch import save

    data = save({k: v.contiguous() for k, v in module.state_dict().items()})
    atomic_write(path, lambda f: f.write(data))
