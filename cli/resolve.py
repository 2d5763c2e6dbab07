"""Turn what a user types (a genotype name or a desc file, plus macro options) into a desc."""
from __future__ import annotations

from petri.data.info import dataset_info
from petri.space.desc import ModelDesc, load_desc
from petri.space.genotypes import genotype, is_genotype


def resolve_desc(arch: str, dataset: str | None, channels: int | None, cells: int | None,
                 auxiliary: bool | None = None) -> ModelDesc:
    """A genotype name builds the published network for the dataset; a file is taken as is,
    with the dataset's input channels and classes and any macro options applied on top."""
    info = dataset_info(dataset) if dataset else None
    network = "imagenet" if dataset == "imagenet" else "cifar"
    if is_genotype(arch):
        desc = genotype(arch, network)
    else:
        desc = load_desc(arch)
    changes = {"channels": channels, "cells": cells, "auxiliary": auxiliary}
    if info is not None:
        changes.update(in_channels=info.shape[0], num_classes=info.num_classes)
    return desc.scaled(**{k: v for k, v in changes.items() if v is not None}).validate()
