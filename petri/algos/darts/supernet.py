"""The DARTS / PC-DARTS search network: every edge a softmax-weighted mix of the primitives.

Architecture weights (α per edge and op; PC-DARTS' β per edge) are plain tensors kept apart
from the network's parameters, so no weight optimiser, weight decay, gradient clipping or
regulariser ever touches them (`arch_parameters()` vs `parameters()`); they are saved with
`arch_state()`. One α table per cell type, shared by every cell of that type.

PC-DARTS (`partial=K`): each edge runs its ops on the first C/K channels only, passes the
rest through (max-pooled when the edge reduces), concatenates and shuffles channels in K
groups; node inputs are weighted by softmax(β) over the node's incoming edges.

MOOD (`regularise`): the weight step minimises (1-ν)·CE + ν·R(θ), R the L1 or L2 (no ½)
norm of every network weight — never α or β — through the training loop's `ce_weight` and
`extra_loss` hooks.
"""
from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch import nn

from petri.space.desc import PRIMITIVES, CellDesc, EdgeDesc, ModelDesc, NodeDesc
from petri.space.ops import BatchNorm, FactorizedReduce, ReLUConvBN, create_op, is_nhwc


_WEIGHTED_OPS = tuple(i for i, p in enumerate(PRIMITIVES) if p != "none")
_POOLS = (PRIMITIVES.index("max_pool_3x3"), PRIMITIVES.index("avg_pool_3x3"))
_GRAPHS = 64


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave `groups` channel groups, keeping x's memory layout (the original's
    `.contiguous()` turns an NHWC supernet back into NCHW at every edge)."""
    n, c, h, w = x.shape
    if is_nhwc(x):
        y = x.permute(0, 2, 3, 1).reshape(n, h, w, groups, c // groups).transpose(3, 4)
        return y.reshape(n, h, w, c).permute(0, 3, 1, 2)
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EdgeInput(NamedTuple):
    """What an edge computes from its input alone, before any weight of its own: the same
    for every edge leaving a state (cell input or node; its out-edges share their stride),
    so the cell computes it once per state and hands it to each of them."""

    x: torch.Tensor                 # the ops' input: PC-DARTS' first C/K channels
    relu: torch.Tensor | None       # its ReLU, the head of every conv primitive
    pools: tuple                    # max and avg pool, each with its parameter-free search BN
    rest: torch.Tensor | None       # PC-DARTS: the bypassed channels (pooled when reducing)


class MixedOp(nn.Module):
    def __init__(self, c: int, stride: int, partial: int | None):
        super().__init__()
        self.partial = partial
        width = c // partial if partial else c
        self.ops = nn.ModuleList(create_op(p, width, stride, affine=False, search=True)
                                 for p in PRIMITIVES)
        self.bypass_pool = nn.MaxPool2d(2, 2) if partial and stride == 2 else None
        # The conv primitives' tails after their ReLU (the same modules, not registered
        # twice) run on EdgeInput.relu.
        self.tails = {i: nn.Sequential(*list(self.ops[i])[1:]) for i in _WEIGHTED_OPS
                      if _relu_first(self.ops[i])}
        self.compile_mode: str | None = None  # set by SearchNetwork; see `compiled`

    def prepare(self, x: torch.Tensor) -> EdgeInput:
        """The EdgeInput of x, computed with this edge's pool BNs (`share_pool_stats` gives
        their running statistics to the node's other out-edges)."""
        rest = None
        if self.partial:
            k = x.shape[1] // self.partial
            # A channel slice of an NHWC tensor is contiguous in neither layout; copying it
            # once here spares each op its own conversion.
            layout = torch.channels_last if is_nhwc(x) else torch.contiguous_format
            x, rest = x[:, :k].contiguous(memory_format=layout), x[:, k:]
            if self.bypass_pool is not None:
                rest = self.bypass_pool(rest)
        return EdgeInput(x, torch.relu(x) if self.tails else None,
                         tuple(self.ops[i](x) for i in _POOLS), rest)

    def mix(self, inp: EdgeInput, weights: torch.Tensor) -> torch.Tensor | tuple:
        """The edge's output; PC-DARTS': its two channel parts, the ops' output on the first
        C/K channels and the bypassed rest, which `node_sum` joins once per node."""
        # `none` adds w·0: skipping it changes no value and no gradient (its α still gets
        # its share through the softmax), and saves two kernels per edge each way.
        out = None
        for i in _WEIGHTED_OPS:
            y = (self.tails[i](inp.relu) if i in self.tails
                 else inp.pools[_POOLS.index(i)] if i in _POOLS else self.ops[i](inp.x))
            out = _add_weighted(out, weights[i], y)
        return out if inp.rest is None else (out, inp.rest)

    def forward(self, inp: EdgeInput, weights: torch.Tensor) -> torch.Tensor | tuple:
        return self._run("mix", inp, weights)

    def edge_input(self, x: torch.Tensor) -> EdgeInput:
        return self._run("prepare", x)

    def _run(self, method: str, *args):
        # Evaluation (running BN statistics, no grad) stays eager: it runs once per search
        # and would only add graphs to compile.
        if self.compile_mode and self.training:
            return compiled(method, self.compile_mode)(self, *args)
        return getattr(self, method)(*args)


def share_pool_stats(first: MixedOp, others: list[MixedOp]) -> None:
    """Copy the running statistics of `first`'s pool BNs to the other out-edges of its node:
    theirs have seen the same batches since they were built (the pools of the same input),
    so they hold the same values, now without computing them. Their pool BNs never run
    (`first` prepares the node for all), so no autograd graph holds the buffers written."""
    if not others:
        return
    src = [b for i in _POOLS for b in first.ops[i].buffers()]
    with torch.no_grad():
        for other in others:
            torch._foreach_copy_([b for i in _POOLS for b in other.ops[i].buffers()], src)


def _add_weighted(total: torch.Tensor | None, w: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """total + w·y in one kernel (addcmul) rather than a product and a sum, each a pass over
    the feature map; the first term starts the total (`sum()` would add it to a zero)."""
    return w * y if total is None else torch.addcmul(total, w, y)


def node_sum(outs: list, edge_weights: torch.Tensor | None, partial: int | None) -> torch.Tensor:
    """A node: the sum of its incoming edges' outputs; PC-DARTS': Σ β_e·shuffle(cat(y_e,
    rest_e)), computed as shuffle(cat(Σ β_e·y_e, Σ β_e·rest_e)) — the same numbers, as a
    permutation and a concatenation commute with an elementwise sum, with one copy for the
    concatenation and one for the shuffle per node instead of per edge."""
    if edge_weights is None:
        total = outs[0]
        for out in outs[1:]:
            total = total + out
        return total
    ys = rests = None
    for w, (y, rest) in zip(edge_weights, outs):
        ys, rests = _add_weighted(ys, w, y), _add_weighted(rests, w, rest)
    return channel_shuffle(torch.cat([ys, rests], dim=1), partial)


def _relu_first(op: nn.Module) -> bool:
    return isinstance(op, nn.Sequential) and isinstance(op[0], nn.ReLU)


# `compile` settings -> torch.compile modes. `cudagraphs` replays each compiled edge as a CUDA
# graph (CUDA only; elsewhere torch compiles it like `inductor`).
COMPILE_MODES = {"inductor": "default", "cudagraphs": "reduce-overhead"}


@functools.cache
def compiled(method: str, compile: str):
    """`MixedOp.prepare` or `MixedOp.mix` compiled once per process and setting: one graph
    per input shape and stride (for `mix` also per whether α needs a gradient) serves every
    edge of that shape in every cell, and every later job of the worker. Shapes are static;
    a supernet has a handful of them."""
    return torch.compile(getattr(MixedOp, method), dynamic=False, mode=COMPILE_MODES[compile])


class SearchCell(nn.Module):
    def __init__(self, steps: int, c_pp: int, c_p: int, c: int, reduction: bool,
                 reduction_prev: bool, partial: int | None):
        super().__init__()
        self.reduction = reduction
        self.steps, self.partial = steps, partial
        self.pre0 = (FactorizedReduce(c_pp, c, affine=False) if reduction_prev
                     else ReLUConvBN(c_pp, c, affine=False))
        self.pre1 = ReLUConvBN(c_p, c, affine=False)
        self.edges = nn.ModuleList()
        for j in range(steps):
            for i in range(j + 2):
                self.edges.append(MixedOp(c, 2 if reduction and i < 2 else 1, partial))
        # out_edges[i]: the edges leaving state i, in the order the forward reaches them
        self.out_edges = [[self.edges[sum(t + 2 for t in range(j)) + i]
                           for j in range(max(i - 1, 0), steps)] for i in range(steps + 1)]

    def forward(self, s0, s1, weights: torch.Tensor, edge_weights: torch.Tensor | None):
        states = [self.pre0(s0), self.pre1(s1)]
        inputs, offset = [], 0
        for _ in range(self.steps):
            n = len(states)
            for i in range(len(inputs), n):  # a new state: prepared by its edge into this node
                inputs.append(self.edges[offset + i].edge_input(states[i]))
            outs = [self.edges[offset + i](inp, weights[offset + i])
                    for i, inp in enumerate(inputs)]
            states.append(node_sum(outs, None if edge_weights is None
                                   else edge_weights[offset:offset + n], self.partial))
            offset += n
        if self.training:
            for edges in self.out_edges:
                share_pool_stats(edges[0], edges[1:])
        return torch.cat(states[2:], dim=1)


def n_edges(steps: int) -> int:
    return sum(j + 2 for j in range(steps))


class SearchNetwork(nn.Module):
    """DARTS' `Network` (CIFAR stem, reductions at L//3 and 2L//3)."""

    def __init__(self, channels: int = 16, cells: int = 8, num_classes: int = 10,
                 in_channels: int = 3, steps: int = 4, stem_multiplier: int = 3,
                 partial: int | None = None, seed: int = 0, compile: str | None = None):
        super().__init__()
        self.channels, self.cells, self.steps = channels, cells, steps
        self.num_classes, self.in_channels, self.partial = num_classes, in_channels, partial
        self.stem_multiplier = stem_multiplier
        c_stem = stem_multiplier * channels
        self.stem = nn.Sequential(nn.Conv2d(in_channels, c_stem, 3, padding=1, bias=False),
                                  BatchNorm(c_stem))
        self.reductions = [cells // 3, 2 * cells // 3] if cells >= 3 else []
        c_pp, c_p, c = c_stem, c_stem, channels
        self.layers = nn.ModuleList()
        reduction_prev = False
        for i in range(cells):
            reduction = i in self.reductions
            if reduction:
                c *= 2
            self.layers.append(SearchCell(steps, c_pp, c_p, c, reduction, reduction_prev,
                                          partial))
            reduction_prev = reduction
            c_pp, c_p = c_p, steps * c
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_p, num_classes)
        g = torch.Generator().manual_seed(seed)
        shape = (n_edges(steps), len(PRIMITIVES))
        self.alphas = {k: (1e-3 * torch.randn(shape, generator=g)).requires_grad_()
                       for k in ("normal", "reduce")}
        self.betas = ({k: (1e-3 * torch.randn(shape[0], generator=g)).requires_grad_()
                       for k in ("normal", "reduce")} if partial else None)
        self.reg_kind: str | None = None
        self.nu = 0.0
        # The weight step needs no gradient for α/β; the bilevel hook turns it off there and
        # on for its own step, which saves a reduction per op and edge in every backward.
        self.arch_grad = True
        if compile is not None and compile not in COMPILE_MODES:
            raise ValueError(f"unknown compile setting {compile!r}; choose one of "
                             f"{', '.join(COMPILE_MODES)} or None (eager)")
        for m in self.modules():
            if isinstance(m, MixedOp):
                m.compile_mode = compile

    # ---- MOOD's complexity regulariser --------------------------------------------------------
    def regularise(self, kind: str | None, nu: float) -> None:
        if kind not in (None, "l1", "l2"):
            raise ValueError(f"unknown regulariser {kind!r}; choose l1 or l2")
        if not 0.0 <= nu < 1.0:
            raise ValueError(f"the regularisation weight nu must be in [0, 1), got {nu}")
        self.reg_kind, self.nu = kind, (nu if kind else 0.0)

    def regulariser(self) -> torch.Tensor:
        """R(θ): Σθ² when regularising with l2, else Σ|θ|, over the network weights."""
        l2 = self.reg_kind == "l2"
        terms = [p.pow(2).sum() if l2 else p.abs().sum() for p in self.parameters()]
        return torch.stack(terms).sum()

    @property
    def ce_weight(self) -> float:
        return 1.0 - self.nu

    def extra_loss(self) -> torch.Tensor | None:
        return self.nu * self.regulariser() if self.reg_kind and self.nu else None

    # ---- architecture weights, kept out of parameters() ------------------------------------
    def arch_parameters(self) -> list[torch.Tensor]:
        return list(self.alphas.values()) + (list(self.betas.values()) if self.betas else [])

    def arch_state(self) -> dict:
        return {f"alpha_{k}": v.detach().clone() for k, v in self.alphas.items()} | (
            {f"beta_{k}": v.detach().clone() for k, v in self.betas.items()} if self.betas
            else {})

    def load_arch_state(self, state: dict) -> None:
        with torch.no_grad():
            for k, v in self.alphas.items():
                v.copy_(state[f"alpha_{k}"])
            for k, v in (self.betas or {}).items():
                v.copy_(state[f"beta_{k}"])

    def _apply(self, fn, *args, **kwargs):
        # .to()/.cuda() move the architecture weights too, in place, as nn.Module does for
        # parameters: an optimiser built before the move must keep updating the same tensors.
        out = super()._apply(fn, *args, **kwargs)
        with torch.no_grad():
            for t in self.arch_parameters():
                t.data = fn(t.data)
                if t.grad is not None:
                    t.grad.data = fn(t.grad.data)
        return out

    def edge_weights(self, kind: str) -> torch.Tensor | None:
        """PC-DARTS: softmax of β over each node's incoming edges."""
        if not self.betas:
            return None
        beta, parts, start = self.betas[kind], [], 0
        if not self.arch_grad:
            beta = beta.detach()
        for j in range(self.steps):
            parts.append(torch.softmax(beta[start:start + j + 2], dim=-1))
            start += j + 2
        return torch.cat(parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        weights = {k: torch.softmax(a if self.arch_grad else a.detach(), dim=-1)
                   for k, a in self.alphas.items()}
        edges = {k: self.edge_weights(k) for k in ("normal", "reduce")}
        # Each edge shape, with and without α's gradient, is one graph: more than dynamo's
        # default of 8 per function for a full supernet (scoped to this forward).
        with torch._dynamo.config.patch(recompile_limit=_GRAPHS):
            for cell in self.layers:
                kind = "reduce" if cell.reduction else "normal"
                s0, s1 = s1, cell(s0, s1, weights[kind], edges[kind])
        return self.classifier(self.pool(s1).flatten(1))

    # ---- derivation -----------------------------------------------------------------------
    def genotype(self, **macro) -> ModelDesc:
        """Top-2 incoming edges per node by their strongest non-`none` op, argmax op each."""
        none = PRIMITIVES.index("none")

        def cell(kind: str) -> CellDesc:
            w = torch.softmax(self.alphas[kind].detach().float().cpu(), dim=-1)
            ew = self.edge_weights(kind)
            if ew is not None:
                w = w * ew.detach().float().cpu().unsqueeze(1)
            nodes, start = [], 0
            for j in range(self.steps):
                rows = w[start:start + j + 2].clone()
                rows[:, none] = -1.0
                strength = rows.max(dim=1).values
                keep = sorted(range(j + 2), key=lambda i: -float(strength[i]))[:2]
                nodes.append(NodeDesc(tuple(EdgeDesc(PRIMITIVES[int(rows[i].argmax())], i)
                                            for i in keep)))
                start += j + 2
            return CellDesc(tuple(nodes), tuple(range(2, self.steps + 2)))

        kw = {"channels": self.channels, "cells": self.cells, "reductions": 2,
              "in_channels": self.in_channels, "num_classes": self.num_classes, **macro}
        return ModelDesc(normal=cell("normal"), reduce=cell("reduce"), **kw).validate()
