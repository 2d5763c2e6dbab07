"""Turn a `ModelDesc` into an `nn.Module`: stems, cells, auxiliary head, classifier.

Module names are stable (`cells.{i}.nodes.{j}.{k}` is edge k of node j in cell i), so weights
can be carried from a parent network to a grown child by name.
"""
from __future__ import annotations

import torch
from torch import nn

from petri.errors import DescError
from petri.space.desc import CellDesc, ModelDesc
from petri.space.ops import FactorizedReduce, ReLUConvBN, create_op, is_identity


def drop_path(x: torch.Tensor, drop_prob: float) -> torch.Tensor:
    """Zero whole samples with probability `drop_prob`, rescaling the rest (training only)."""
    keep = 1.0 - drop_prob
    mask = torch.empty(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype).bernoulli_(keep)
    return x * mask / keep


class Cell(nn.Module):
    def __init__(self, desc: CellDesc, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, affine: bool, label: str):
        super().__init__()
        self.reduction = reduction
        self.pre0 = (FactorizedReduce(c_pp, c, affine) if reduction_prev
                     else ReLUConvBN(c_pp, c, affine=affine))
        self.pre1 = ReLUConvBN(c_p, c, affine=affine)
        self.inputs = [[e.input for e in node.edges] for node in desc.nodes]
        self.concat = list(desc.concat)
        self.live = desc.live_nodes()
        self.nodes = nn.ModuleList()
        for j, node in enumerate(desc.nodes):
            edges = nn.ModuleList()
            for k, e in enumerate(node.edges if j in self.live else ()):
                stride = 2 if reduction and e.input < 2 else 1
                try:
                    edges.append(create_op(e.op, c, stride, affine))
                except DescError as err:
                    raise DescError(f"{label}, node {j}, edge {k} ({e.op}): {err}") from None
            self.nodes.append(edges)
        self.out_channels = len(self.concat) * c
        # Set only inside a Petridish search job (petri.algos.petridish.grow): candidate layers that
        # add a zero-valued, gradient-carrying term to node outputs and to the cell output.
        self.grower = None

    def forward(self, s0: torch.Tensor, s1: torch.Tensor, drop_prob: float = 0.0) -> torch.Tensor:
        states = [self.pre0(s0), self.pre1(s1)]
        for j, (edges, inputs) in enumerate(zip(self.nodes, self.inputs)):
            if j not in self.live:
                states.append(None)
                continue
            total = None
            for op, i in zip(edges, inputs):
                h = op(states[i])
                if drop_prob > 0.0 and self.training and not is_identity(op):
                    h = drop_path(h, drop_prob)
                total = h if total is None else total + h
            if self.grower is not None:
                total = self.grower(j, states, total)
            states.append(total)
        outs = [states[i] for i in self.concat]
        if self.grower is not None:
            outs[-1] = self.grower("new", states, outs[-1])
        return torch.cat(outs, dim=1)


class AuxiliaryHead(nn.Module):
    """DARTS' auxiliary classifier, as published for each stem.

    CIFAR: AvgPool(5, stride 3) of the 8×8 map to 2×2, and a BN after the 768-channel conv.
    ImageNet: AvgPool(5, stride 2) of the 7×7 map, without that BN (the reference left it out
    on purpose). An input the published pooling does not bring to 2×2 (Fashion-MNIST's 7×7
    with the CIFAR stem, say) is average-pooled to 2×2 adaptively, so the head fits any size.
    """

    def __init__(self, c: int, num_classes: int, imagenet: bool = False):
        super().__init__()
        self.pool = nn.AvgPool2d(5, stride=2 if imagenet else 3, padding=0,
                                 count_include_pad=False)
        layers = [nn.Conv2d(c, 128, 1, bias=False), nn.BatchNorm2d(128), nn.ReLU(inplace=False),
                  nn.Conv2d(128, 768, 2, bias=False)]
        if not imagenet:
            layers.append(nn.BatchNorm2d(768))
        layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(768, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(x)
        stride = self.pool.stride
        if all((n - 5) // stride + 1 == 2 for n in x.shape[-2:]):
            x = self.pool(x)
        else:
            x = nn.functional.adaptive_avg_pool2d(x, 2)
        return self.classifier(self.features(x).flatten(1))


class Network(nn.Module):
    """A cell network. In training mode with an auxiliary head, returns (logits, aux_logits)."""

    def __init__(self, desc: ModelDesc, affine: bool = True):
        super().__init__()
        desc.validate()
        self.desc = desc
        self.drop_path_prob = 0.0
        c = desc.channels
        if desc.stem == "cifar":
            c_stem = desc.stem_multiplier * c
            self.stem = nn.Sequential(
                nn.Conv2d(desc.in_channels, c_stem, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_stem),
            )
            self.stem1 = None
            c_pp, c_p, reduction_prev = c_stem, c_stem, False
        else:  # imagenet: three stride-2 convs, the first cell sees 56² and 28² inputs
            if c % 2:
                raise DescError(f"the imagenet stem needs even channels, got {c}")
            self.stem = nn.Sequential(
                nn.Conv2d(desc.in_channels, c // 2, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c // 2),
                nn.ReLU(inplace=True),
                nn.Conv2d(c // 2, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
            )
            self.stem1 = nn.Sequential(
                nn.ReLU(inplace=True),
                nn.Conv2d(c, c, 3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
            )
            c_pp, c_p, reduction_prev = c, c, True

        reductions = set(desc.reduction_indices())
        aux_at = desc.aux_index()
        self.cells = nn.ModuleList()
        self.aux_head = None
        self._aux_at = aux_at
        c_curr = c
        for i in range(desc.cells):
            reduction = i in reductions
            if reduction:
                c_curr *= 2
            cell_desc = desc.reduce if reduction else desc.normal
            label = f"cell {i} ({'reduce' if reduction else 'normal'})"
            cell = Cell(cell_desc, c_pp, c_p, c_curr, reduction, reduction_prev, affine, label)
            self.cells.append(cell)
            reduction_prev = reduction
            c_pp, c_p = c_p, cell.out_channels
            if i == aux_at:
                self.aux_head = AuxiliaryHead(c_p, desc.num_classes, desc.stem == "imagenet")
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, desc.num_classes)

    def set_drop_path(self, p: float) -> None:
        self.drop_path_prob = p

    def forward(self, x: torch.Tensor):
        if self.stem1 is None:
            s0 = s1 = self.stem(x)
        else:
            s0 = self.stem(x)
            s1 = self.stem1(s0)
        aux = None
        for i, cell in enumerate(self.cells):
            s0, s1 = s1, cell(s0, s1, self.drop_path_prob)
            if i == self._aux_at and self.training:
                aux = self.aux_head(s1)
        logits = self.classifier(self.pool(s1).flatten(1))
        return (logits, aux) if aux is not None else logits


def build_model(desc: ModelDesc, affine: bool = True) -> Network:
    """Build the network a desc describes; a desc that cannot be built raises `DescError`."""
    return Network(desc, affine=affine)
