"""What `petri latency MODEL` can measure: a desc (a file or a known genotype), a gallery
model (`GALLERY.h5:ID`), or a file `petri export` wrote (.onnx, .pt2, TorchScript .pt)."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from petri.errors import PetriError
from petri.space.desc import ModelDesc

FILE_KINDS = {".onnx": "onnx", ".pt2": "pt2", ".pt": "torchscript"}


@dataclass(frozen=True)
class Subject:
    """A model ready to measure: what it is called, what identifies it in the cache, its
    input (C, H, W), its desc where known (to predict), and how to load it."""

    name: str
    identity: str  # desc:<key> or <kind>:<sha256 of the file>
    input_shape: tuple[int, int, int]
    desc: ModelDesc | None
    kind: str  # desc, onnx, pt2, torchscript
    path: Path | None = None  # the file of an exported model

    def torch_module(self):
        """The model as an nn.Module in eval mode (not for an .onnx file)."""
        import torch

        if self.kind == "desc":
            from petri.space.build import build_model

            return build_model(self.desc).eval()
        if self.kind == "pt2":
            return torch.export.load(self.path).module()
        return torch.jit.load(self.path).eval()


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def exported_subject(path: Path, dataset_shape: tuple) -> Subject:
    """An exported file; its input size and desc from the JSON `petri export` wrote beside
    it, or the dataset's size when there is none."""
    if not path.is_file():
        raise PetriError(f"{path} does not exist; pass a desc file, a known genotype, "
                         f"GALLERY.h5:ID or a file `petri export` wrote")
    try:
        side = json.loads(path.with_suffix(".json").read_text())
        shape, desc = tuple(side["preprocessing"]["shape"]), ModelDesc.from_dict(side["desc"])
    except (OSError, ValueError, KeyError, TypeError, PetriError):
        shape, desc = dataset_shape, None
    kind = FILE_KINDS[path.suffix.lower()]
    return Subject(str(path), f"{kind}:{_file_hash(path)}", shape, desc, kind, path)


def gallery_subject(spec: str, dataset_shape: tuple) -> Subject:
    from petri.space.desc import model_desc
    from petri.store.gallery import read_model

    path, _, model_id = spec.rpartition(":")
    m = read_model(path, model_id, with_weights=False)
    desc = model_desc(m, path)
    shape = m.preprocessing.shape if m.preprocessing else dataset_shape
    return desc_subject(desc, spec, shape)


def desc_subject(desc: ModelDesc, name: str, input_shape: tuple) -> Subject:
    return Subject(name, f"desc:{desc.key()}", tuple(input_shape), desc, "desc")


def is_exported(spec: str) -> bool:
    return Path(spec).suffix.lower() in FILE_KINDS


def is_gallery_model(spec: str) -> bool:
    return ":" in spec and spec.rpartition(":")[0].lower().endswith((".h5", ".hdf5"))
