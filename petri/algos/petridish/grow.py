"""Petridish growth: candidate layers trained beside a frozen parent, then the grown child.

The search network (`GrowthNet`) is the parent with, in every cell, candidate operations for

* a **new node** (target ``"new"``) reading s0, s1 and every existing node, and optionally
* every **existing node** j (target ``j``) reading the states node j may read.

Each candidate sees ``stop_gradient(x)``, and their α-weighted sum enters the network through
``stop_forward(y) = y - y.detach()``: its forward value is zero, so the parent computes exactly
what it computed before, while α and the candidates' weights receive the gradient the loss
would send to that place (the gradient-boosting view of the paper). The parent itself is
frozen (eval mode, no gradients), which also makes the search cheaper.

After training, the top-k candidates of each cell type by |α| (``none`` is never a candidate)
are merged by sum: new-node picks form one new node appended to the cell and to its output
concatenation; existing-node picks become extra edges of that node. The child is warm-started:
every parent tensor is copied; where the child's tensor is larger (the 1×1 convolutions and the
classifier that read a grown cell output), the parent's part is copied and the new input
columns are zero, so the child computes exactly the parent's function at the start of
post-training. Candidate weights move into the new edges; for existing-node edges α is folded
into the op's final batch norm, so the child starts at parent + the learned correction.
"""
from __future__ import annotations

import random
from dataclasses import asdict, dataclass

import torch
from torch import nn

from petri.errors import DescError
from petri.space.build import Network, build_model
from petri.space.desc import SEARCH_OPS, CellDesc, EdgeDesc, ModelDesc, NodeDesc
from petri.space.ops import create_op

NEW = "new"
# A new node may take any of the space's ops (SEARCH_OPS unless pareto.ops says). Existing
# nodes only take built-in ops that end in a batch norm, because α must be folded into the op
# for the child to start where search ended.
EXISTING_NODE_OPS = ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5")


@dataclass(frozen=True)
class Pick:
    """One chosen candidate: op on `input`, for the new node or existing node `target`."""

    cell: str  # "normal" or "reduce"
    target: str  # NEW or the index of an existing node, as text
    input: int
    op: str
    alpha: float

    def to_dict(self) -> dict:
        return asdict(self)


def targets(cell: CellDesc, grow_existing: bool, ops: tuple[str, ...] | None = None
            ) -> dict[str, tuple[int, tuple[str, ...]]]:
    """Growth targets of a cell type: name -> (number of inputs, candidate ops)."""
    out = {NEW: (cell.n_nodes + 2, tuple(ops or SEARCH_OPS))}
    if grow_existing:
        for j in range(cell.n_nodes):
            out[str(j)] = (j + 2, EXISTING_NODE_OPS)
    return out


def _op_key(target: str, i: int, op: str) -> str:
    return f"{target}_{i}_{op}"


class Candidates(nn.Module):
    """The candidate ops of one cell; α lives on the `GrowthNet`, shared by the cell type."""

    def __init__(self, kind: str, plan: dict, c: int, reduction: bool, alphas: nn.ParameterDict):
        super().__init__()
        self.kind = kind
        self.plan = plan
        self._alphas = (alphas,)  # a tuple, so the shared α is not registered once per cell
        self.ops = nn.ModuleDict()
        for target, (n_in, ops) in plan.items():
            for i in range(n_in):
                stride = 2 if reduction and i < 2 else 1
                for op in ops:
                    self.ops[_op_key(target, i, op)] = create_op(op, c, stride, affine=True)

    def forward(self, target, states: list, value: torch.Tensor) -> torch.Tensor:
        target = str(target)
        if target not in self.plan:
            return value
        n_in, ops = self.plan[target]
        alpha = self._alphas[0][f"{self.kind}_{target}"]
        total = None
        for i in range(n_in):
            if states[i] is None:  # a dead node of the parent: not computed, not offered
                continue
            x = states[i].detach()  # stop-gradient: the parent gets nothing from candidates
            for k, op in enumerate(ops):
                h = alpha[i, k] * self.ops[_op_key(target, i, op)](x)
                total = h if total is None else total + h
        if total is None:
            return value
        return value + (total - total.detach())  # stop-forward: adds 0, passes the gradient


class GrowthNet(nn.Module):
    """A frozen parent network with trainable candidate layers in every cell."""

    def __init__(self, parent: Network, grow_existing: bool = False, l1: float = 0.0,
                 seed: int = 0, ops: tuple[str, ...] | None = None):
        super().__init__()
        self.net = parent
        self.l1 = l1
        for p in parent.parameters():
            p.requires_grad_(False)
        desc = parent.desc
        self.plans = {"normal": targets(desc.normal, grow_existing, ops),
                      "reduce": targets(desc.reduce, grow_existing, ops)}
        g = torch.Generator().manual_seed(seed)
        self.alphas = nn.ParameterDict()
        for kind, plan in self.plans.items():
            for target, (n_in, ops) in plan.items():
                init = (torch.rand(n_in, len(ops), generator=g) * 2 - 1) * 0.1  # U(-0.1, 0.1)
                self.alphas[f"{kind}_{target}"] = nn.Parameter(init)
        reductions = set(desc.reduction_indices())
        channels = desc.channels
        for i, cell in enumerate(parent.cells):
            if i in reductions:
                channels *= 2
            kind = "reduce" if i in reductions else "normal"
            cell.grower = Candidates(kind, self.plans[kind], channels, cell.reduction,
                                     self.alphas)

    def forward(self, x: torch.Tensor):
        return self.net(x)

    def train(self, mode: bool = True) -> "GrowthNet":
        """Candidates follow `mode`; the parent stays in eval mode so its function is fixed."""
        super().train(mode)
        self.net.eval()
        for cell in self.net.cells:
            cell.grower.train(mode)
        return self

    # Hooks the training loop looks for (see petri.train.loop.train).
    def param_groups(self, weight_decay: float) -> list[dict]:
        ops = [p for cell in self.net.cells for p in cell.grower.parameters()]
        return [{"params": ops, "weight_decay": weight_decay},
                {"params": list(self.alphas.parameters()), "weight_decay": 0.0}]

    def extra_loss(self) -> torch.Tensor | None:
        """The L1 penalty on α that makes candidate selection sparse (really applied)."""
        if self.l1 <= 0:
            return None
        return self.l1 * sum(a.abs().sum() for a in self.alphas.values())

    def candidates(self, kind: str) -> list[Pick]:
        """Every candidate of one cell type that can change the child, in a fixed order
        (new node first, then existing nodes; by input, then op)."""
        alive = self._alive_inputs()[kind]
        out = []
        for target, (n_in, ops) in sorted(self.plans[kind].items(),
                                          key=lambda t: (t[0] != NEW, t[0])):
            if target != NEW and int(target) + 2 not in alive:
                continue  # a dead node of the parent: growing it changes nothing
            alpha = self.alphas[f"{kind}_{target}"].detach().cpu()
            out += [Pick(kind, target, i, op, float(alpha[i, o]))
                    for i in range(n_in) if i in alive for o, op in enumerate(ops)]
        return out

    def select(self, k: int) -> list[Pick]:
        """The top-k candidates by |α| of each cell type (ties broken by position)."""
        return [p for kind in self.plans
                for p in sorted(self.candidates(kind), key=lambda p: -abs(p.alpha))[:k]]

    def select_random(self, k: int, rng: random.Random) -> list[Pick]:
        """k candidates of each cell type uniformly at random: the control for `select`.
        They keep their trained weights and α, so the child is warm-started the same way."""
        picks = []
        for kind in self.plans:
            cands = self.candidates(kind)
            picks += [cands[i] for i in sorted(rng.sample(range(len(cands)),
                                                          min(k, len(cands))))]
        return picks

    def _alive_inputs(self) -> dict[str, set[int]]:
        out = {}
        for kind, cell_desc in (("normal", self.net.desc.normal), ("reduce", self.net.desc.reduce)):
            cell = next((c for c in self.net.cells if c.grower.kind == kind), None)
            live = cell.live if cell is not None else set(range(cell_desc.n_nodes))
            out[kind] = {0, 1} | {j + 2 for j in live}
        return out


def grow_desc(desc: ModelDesc, picks: list[Pick]) -> ModelDesc:
    """The child desc: new-node picks become one new node (in the output concat), the other
    picks extra edges of existing nodes."""
    cells = {}
    for kind, cell in (("normal", desc.normal), ("reduce", desc.reduce)):
        nodes = [list(n.edges) for n in cell.nodes]
        new_edges = []
        for p in picks:
            if p.cell != kind:
                continue
            if p.target == NEW:
                new_edges.append(EdgeDesc(p.op, p.input))
            else:
                nodes[int(p.target)].append(EdgeDesc(p.op, p.input))
        concat = tuple(cell.concat)
        if new_edges:
            nodes.append(new_edges)
            concat += (len(nodes) + 1,)
        cells[kind] = CellDesc(tuple(NodeDesc(tuple(e)) for e in nodes), concat)
    return desc.scaled(normal=cells["normal"], reduce=cells["reduce"], name="",
                       meta={}).validate()


def _edge_module_names(parent: ModelDesc, picks: list[Pick], kind: str) -> dict[Pick, tuple]:
    """(node index, edge index) in the child for every pick of one cell type."""
    cell = parent.normal if kind == "normal" else parent.reduce
    next_edge = {j: len(n.edges) for j, n in enumerate(cell.nodes)}
    new_node, new_edge = cell.n_nodes, 0
    out = {}
    for p in picks:
        if p.cell != kind:
            continue
        if p.target == NEW:
            out[p] = (new_node, new_edge)
            new_edge += 1
        else:
            j = int(p.target)
            out[p] = (j, next_edge[j])
            next_edge[j] += 1
    return out


def _last_bn(module: nn.Module) -> nn.BatchNorm2d | None:
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d) and m.affine]
    return bns[-1] if bns else None


@torch.no_grad()
def warm_start(child: Network, parent_state: dict, search: GrowthNet, picks: list[Pick]) -> None:
    """Load the parent's weights and the chosen candidates' weights into `child` (in place)."""
    state = child.state_dict()
    for name, t in state.items():
        src = parent_state.get(name)
        if src is None:
            continue
        if src.shape == t.shape:
            t.copy_(src)
        elif src.dim() == t.dim() and all(a <= b for a, b in zip(src.shape, t.shape)):
            # A consumer of a grown cell output: the new input channels come last; zero
            # columns there keep the parent's function exactly.
            t.zero_()
            t[tuple(slice(0, n) for n in src.shape)].copy_(src)
        else:
            raise DescError(f"cannot warm-start {name}: parent {tuple(src.shape)}, child "
                            f"{tuple(t.shape)}")
    child.load_state_dict(state)
    for kind in ("normal", "reduce"):
        where = _edge_module_names(search.net.desc, picks, kind)
        for i, cell in enumerate(child.cells):
            grower = search.net.cells[i].grower
            if grower.kind != kind:
                continue
            for p, (j, e) in where.items():
                src = grower.ops[_op_key(p.target, p.input, p.op)]
                dst = cell.nodes[j][e]
                dst.load_state_dict(src.state_dict())
                if p.target != NEW:
                    bn = _last_bn(dst)
                    bn.weight.mul_(p.alpha)
                    bn.bias.mul_(p.alpha)


def parent_state_dict(search: GrowthNet) -> dict:
    """The parent's own tensors (candidate weights excluded), as the child will see them."""
    return {k: v for k, v in search.net.state_dict().items() if ".grower." not in k}


def grow_child(search: GrowthNet, picks: list[Pick]) -> tuple[ModelDesc, Network]:
    """The child desc of `picks` and its network, warm-started from the trained search."""
    desc = grow_desc(search.net.desc, picks)
    child = build_model(desc)
    warm_start(child, parent_state_dict(search), search, picks)
    return desc, child
