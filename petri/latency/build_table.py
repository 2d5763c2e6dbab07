"""Measure the per-op latency table of a target (`petri latency table`) and read it back.

Each `Layer` is built as the network builds it (ops from the registry, the stems from a
one-cell `Network`) and timed alone on random inputs of its size, by the table's protocol.
A table grows: measuring more channels or nodes adds their entries to the kept file. Then a
few whole networks of the space are measured, and the table's `Overhead` is fitted to what
they spend beyond the sum of their layers.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable

from petri.errors import PetriError
from petri.io import atomic_write_json, read_json
from petri.latency.measure import TABLE_PROTOCOL, Protocol, measure
from petri.latency.run import timer, torch_threads
from petri.latency.table import (Layer, Table, fit_overhead, layer_sum, layers, table_command,
                                 table_path)
from petri.latency.target import Target, TargetInfo, describe_target
from petri.space.desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc


def _stem(layer: Layer):
    """The stem of a one-cell network whose stem outputs `layer.c_out` channels."""
    from torch import nn

    from petri.space.build import build_model

    cell = CellDesc((NodeDesc((EdgeDesc("skip_connect", 0),)),), (2,))
    stem = layer.kind.split(":", 1)[1]
    net = build_model(ModelDesc(cell, cell, channels=layer.c_out, cells=1, reductions=0,
                                in_channels=layer.c_in, stem=stem, stem_multiplier=1))
    return net.stem if net.stem1 is None else nn.Sequential(net.stem, net.stem1)


def layer_call(layer: Layer, batch: int, device: str = "cpu") -> Callable[[], object]:
    """A function that runs `layer` once on a random input batch of its size (built as a
    network's layers are, outside inference mode, so its weights dispatch alike)."""
    import torch

    with torch.inference_mode(False):
        return _layer_call(layer, batch, device)


def _layer_call(layer: Layer, batch: int, device: str) -> Callable[[], object]:
    import torch
    from torch import nn

    from petri.space.ops import FactorizedReduce, ReLUConvBN, create_op

    x = torch.randn(batch, layer.c_in, layer.h, layer.w, device=device)
    if layer.kind == "add":
        y = torch.randn_like(x)
        return lambda: x + y
    if layer.kind == "cat":
        parts = [x] * (layer.c_out // layer.c_in)
        return lambda: torch.cat(parts, dim=1)
    if layer.kind == "relu_conv_bn":
        module = ReLUConvBN(layer.c_in, layer.c_out)
    elif layer.kind == "factorized_reduce":
        module = FactorizedReduce(layer.c_in, layer.c_out)
    elif layer.kind == "head":
        module = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                               nn.Linear(layer.c_in, layer.c_out))
    elif layer.kind.startswith("stem:"):
        module = _stem(layer)
    else:
        module = create_op(layer.kind, layer.c_in, layer.stride)
    module = module.to(device).eval()
    return lambda: module(x)


def load_table(info: TargetInfo, input_shape: tuple[int, int, int], dataset: str,
               data_dir: Path | None = None) -> Table:
    """The kept table of this target at this input size; none is a PetriError naming the
    command that measures it."""
    path = table_path(info, input_shape, data_dir)
    d = read_json(path)
    try:
        return Table.from_dict(d)
    except (ValueError, KeyError, TypeError, AttributeError):
        problem = "there is none" if d is None else f"{path} is damaged"
        raise PetriError(f"no latency table for {info.line()} at input "
                         f"{'x'.join(map(str, input_shape))} ({problem}); measure it with "
                         f"`{table_command(info, dataset)}`") from None


def measure_table(target: Target, input_shape: tuple[int, int, int], dataset: str,
                  wanted: list[Layer], protocol: Protocol = TABLE_PROTOCOL,
                  data_dir: Path | None = None,
                  on_layer: Callable[[int, int], None] = lambda done, total: None,
                  calibrate: list[ModelDesc] = ()) -> Table:
    """Measure the layers of `wanted` (and of the `calibrate` networks) the kept table lacks,
    add them to it; with `calibrate`, fit the table's overhead on those networks measured
    whole (else keep the kept one); keep the table."""
    import torch

    from petri.latency.run import measure_desc

    if target.kind == "onnxruntime":
        raise PetriError("the latency table is measured with torch: use --target cpu (or "
                         "cuda), and measure ONNX files whole with `petri latency FILE.onnx`")
    info = describe_target(target)
    try:
        table = load_table(info, input_shape, dataset, data_dir)
    except PetriError:
        table = Table(info, tuple(input_shape), dataset)
    wanted = sorted({*wanted, *(x for d in calibrate for x in layers(d, input_shape[1:]))})
    todo = [layer for layer in wanted if layer not in table.entries]
    entries = dict(table.entries)
    device = "cuda" if target.kind == "cuda" else "cpu"
    with torch_threads(target.threads), torch.inference_mode():
        for i, layer in enumerate(todo):
            on_layer(i, len(todo))
            time_once = timer(layer_call(layer, target.batch, device), device == "cuda")
            entries[layer] = measure(time_once, protocol).median_ms
    on_layer(len(todo), len(todo))
    table = replace(table, entries=entries)
    if calibrate:
        walked = [layer_sum(d, table) for d in calibrate]
        whole = [measure_desc(d, target, input_shape, protocol, cache=False).timings.median_ms
                 for d in calibrate]
        table = replace(table, overhead=fit_overhead([s for s, _ in walked],
                                                     [n for _, n in walked], whole))
    atomic_write_json(table_path(info, input_shape, data_dir), table.to_dict())
    return table
