"""DARTS / PC-DARTS supernet, genotype derivation and the second-order architecture gradient."""
import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call

from petri.space.build import build_model
from petri.space.desc import PRIMITIVES
from petri.algos.darts.supernet import SearchNetwork, channel_shuffle
from petri.algos.darts.algorithm import ArchCfg
from petri.algos.darts.bilevel import Architect


def arch_args(**overrides) -> dict:
    a = ArchCfg(**overrides)
    return {"lr": a.lr, "betas": a.betas, "weight_decay": a.weight_decay,
            "second_order": a.second_order}


def tiny(partial=None, dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    net = SearchNetwork(channels=4, cells=3, num_classes=3, in_channels=1, steps=2,
                        stem_multiplier=1, partial=partial, seed=seed)
    return net.to(dtype)


def batch(n=6, size=8, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, size, size, generator=g, dtype=dtype), torch.randint(0, 3, (n,), generator=g)


def test_architecture_weights_are_kept_apart_from_network_weights():
    net = SearchNetwork(channels=4, cells=5, in_channels=1)
    assert [tuple(a.shape) for a in net.arch_parameters()] == [(14, 8), (14, 8)]
    ids = {id(p) for p in net.parameters()}
    assert not any(id(a) in ids for a in net.arch_parameters())
    assert net.reductions == [1, 3]
    pc = SearchNetwork(channels=8, cells=5, in_channels=1, partial=4)
    assert len(pc.arch_parameters()) == 4 and pc.arch_parameters()[2].shape == (14,)
    state = pc.arch_state()
    pc.load_arch_state({k: torch.zeros_like(v) for k, v in state.items()})
    assert all(float(a.detach().abs().sum()) == 0 for a in pc.arch_parameters())


@pytest.mark.parametrize("partial", [None, 2])
def test_forward_and_gradients_reach_alpha(partial):
    net = tiny(partial)
    x, y = batch()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in net.arch_parameters())


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(8.0).view(1, 8, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_genotype_takes_top2_edges_and_never_none():
    net = tiny()
    with torch.no_grad():
        for a in net.arch_parameters():
            a.zero_()
        a = net.alphas["normal"]
        none, sep3, skip = (PRIMITIVES.index(p) for p in ("none", "sep_conv_3x3", "skip_connect"))
        a[0, none] = 10.0  # `none` strongest on edge 0: ignored, edge 0 still ranks by sep3
        a[0, sep3] = 2.0
        a[1, skip] = 3.0
        a[4, sep3] = 4.0  # node 1 reads states 0..2 through edges 2, 3, 4
        a[2, skip] = 1.0
    desc = net.genotype()
    n0, n1 = desc.normal.nodes
    assert [(e.op, e.input) for e in n0.edges] == [("skip_connect", 1), ("sep_conv_3x3", 0)]
    assert [(e.op, e.input) for e in n1.edges][0] == ("sep_conv_3x3", 2)
    assert all(e.op != "none" for n in desc.normal.nodes + desc.reduce.nodes for e in n.edges)
    assert build_model(desc)(batch()[0]).shape == (6, 3)


def test_pc_darts_edge_weights_rerank_edges():
    net = tiny(partial=2)
    with torch.no_grad():
        for a in net.arch_parameters():
            a.zero_()
        net.alphas["normal"][0, PRIMITIVES.index("max_pool_3x3")] = 1.0
        net.alphas["normal"][1, PRIMITIVES.index("avg_pool_3x3")] = 1.0
        net.betas["normal"][1] = 5.0  # edge 1 (from s1) dominates node 0
    edges = net.genotype().normal.nodes[0].edges
    assert (edges[0].op, edges[0].input) == ("avg_pool_3x3", 1)


class SmoothMixed(nn.Module):
    """A tiny model of the DARTS kind (softmax(α)-mixed ops, α apart from the weights) with
    smooth ops: central differences at DARTS' ε = 0.01/‖v‖ are then accurate to O(ε²).
    (The real supernet's ReLUs and max-pools bend at that scale on a tiny batch.)"""

    def __init__(self):
        super().__init__()
        self.ops = nn.ModuleList([nn.Linear(5, 5) for _ in range(3)])
        self.head = nn.Linear(5, 3)
        self.alpha = (1e-1 * torch.randn(2, 3, dtype=torch.float64)).requires_grad_()

    def arch_parameters(self):
        return [self.alpha]

    def forward(self, x):
        for w in torch.softmax(self.alpha, dim=-1):
            x = sum(wk * f(op(x)) for wk, op, f in zip(w, self.ops, (torch.tanh, torch.sin,
                                                                       torch.sigmoid)))
        return self.head(x)


def test_second_order_gradient_matches_autograd_through_the_unrolled_step():
    torch.manual_seed(0)
    net = SmoothMixed().double()
    g = torch.Generator().manual_seed(1)
    x_t, y_t = torch.randn(16, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,))
    x_v, y_v = torch.randn(16, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,))
    w_opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9, weight_decay=3e-4)
    nn.functional.cross_entropy(net(x_t), y_t).backward()  # a real step: momentum is not zero
    w_opt.step()
    w_opt.zero_grad()
    xi = 0.5
    fd, _ = Architect(net, w_opt, **arch_args(second_order=True)).unrolled_grads(x_t, y_t, x_v, y_v, xi)

    # Exact: differentiate L_val(w'(α), α), with w'(α) built keeping the graph.
    names = [n for n, _ in net.named_parameters()]
    params = [p for _, p in net.named_parameters()]
    grads = torch.autograd.grad(nn.functional.cross_entropy(net(x_t), y_t), params,
                                create_graph=True)
    virtual = {n: p - xi * (0.9 * w_opt.state[p]["momentum_buffer"] + gi + 3e-4 * p)
               for n, p, gi in zip(names, params, grads)}
    loss = nn.functional.cross_entropy(functional_call(net, virtual, (x_v,)), y_v)
    exact = torch.autograd.grad(loss, net.arch_parameters())[0]
    assert torch.allclose(fd[0], exact, rtol=1e-4, atol=1e-9), (fd[0] - exact).abs().max()
    detached = {k: v.detach() for k, v in virtual.items()}
    first = torch.autograd.grad(nn.functional.cross_entropy(
        functional_call(net, detached, (x_v,)), y_v), net.arch_parameters())[0]
    # The Hessian term is not negligible here, so the match above is not by accident.
    assert (exact - first).abs().max() > 100 * (fd[0] - exact).abs().max()


def test_a_first_order_step_moves_alpha_not_the_weights():
    net = tiny()
    w_opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before_w = [p.detach().clone() for p in net.parameters()]
    before_a = [a.detach().clone() for a in net.arch_parameters()]
    x, y = batch()
    Architect(net, w_opt, **arch_args(lr=0.01)).step(x, y, x, y, xi=0.1)
    assert all(torch.equal(a, b) for a, b in zip(before_w, net.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_a, net.arch_parameters()))


@pytest.mark.parametrize("stride", [1, 2])
def test_mixed_op_equals_the_full_weighted_sum_including_none(stride):
    from petri.algos.darts.supernet import MixedOp

    torch.manual_seed(0)
    op = MixedOp(4, stride, None)
    x = torch.randn(2, 4, 8, 8)
    w = torch.softmax(torch.randn(len(PRIMITIVES)), 0).requires_grad_()
    full = sum(wi * o(x) for wi, o in zip(w, op.ops))  # the textbook definition
    g_full = torch.autograd.grad(full.sum(), w)[0]
    out = op(op.prepare(x), w)
    g = torch.autograd.grad(out.sum(), w)[0]
    # fused multiply-adds round once where a product and a sum round twice
    assert torch.allclose(out, full, rtol=1e-6, atol=1e-6)
    assert torch.allclose(g, g_full, rtol=1e-6, atol=1e-6)
    assert g[PRIMITIVES.index("none")] == 0


def test_arch_weights_survive_a_device_or_dtype_move():
    # An optimiser built before `.to()` must keep updating the model's α/β.
    net = SearchNetwork(channels=4, cells=3, num_classes=3, in_channels=1, steps=2, partial=2)
    before = net.arch_parameters()
    opt = torch.optim.SGD(before, lr=1.0)
    net.to(torch.float64)
    after = net.arch_parameters()
    assert all(a is b for a, b in zip(before, after)) and after[0].dtype == torch.float64
    loss = net(torch.randn(2, 1, 8, 8, dtype=torch.float64)).sum()
    loss.backward()
    snapshot = [t.detach().clone() for t in after]
    opt.step()
    assert any(not torch.equal(s, t) for s, t in zip(snapshot, net.arch_parameters()))


@pytest.mark.parametrize("kernel,stride,size", [(3, 1, 8), (5, 1, 8), (3, 2, 8), (5, 2, 7),
                                                (3, 1, 7)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_even_phase_dilated_depthwise_equals_the_dilated_conv(kernel, stride, size,
                                                             channels_last):
    from petri.space.ops import DilatedDepthwise

    torch.manual_seed(0)
    fast = DilatedDepthwise(4, kernel, stride, kernel - 1)
    assert fast.even_phase == (stride == 2)  # stride 1 takes the dilated conv itself
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    fast = fast.to(memory_format=fmt)  # as the supernet converts its modules
    x = torch.randn(2, 4, size, size).contiguous(memory_format=fmt).requires_grad_()
    out = fast(x)
    ref = nn.functional.conv2d(x, fast.weight, stride=stride, padding=kernel - 1, dilation=2,
                               groups=4)
    assert out.shape == ref.shape and torch.allclose(out, ref, atol=1e-5)
    # the next op must not pay for a layout conversion
    assert out.is_contiguous(memory_format=fmt)
    g, g_ref = (torch.autograd.grad(o.square().sum(), [x, fast.weight]) for o in (out, ref))
    assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g, g_ref))


@pytest.mark.parametrize("partial", [None, 4])
@pytest.mark.parametrize("channels_last", [False, True])
def test_the_speed_levers_compute_what_the_original_code_computes(partial, channels_last):
    # bench/supernet_throughput.py times petri's supernet against `reference_code`, the
    # original DARTS / PC-DARTS computation on the same modules; the levers (what a node's
    # out-edges share, `none` skipped, even-phase dilated convs, fused multiply-adds, the
    # per-node shuffle) must leave the loss, every gradient — α, β and the weights — and
    # the running BN statistics as they were.
    from bench.supernet_throughput import reference_code

    torch.manual_seed(0)
    net = SearchNetwork(channels=8, cells=3, num_classes=3, in_channels=1, steps=3,
                        stem_multiplier=1, partial=partial).to(torch.float64)
    x, y = batch(n=4, size=16, dtype=torch.float64)
    if channels_last:
        net, x = net.to(memory_format=torch.channels_last), x.contiguous(
            memory_format=torch.channels_last)
    twin = copy.deepcopy(net)

    def loss_and_grads(net):
        wrt = net.arch_parameters() + list(net.parameters())
        loss = nn.functional.cross_entropy(net(x), y)
        net(x)  # a second step of the running BN statistics, which sibling edges copy
        return [loss.detach(), *torch.autograd.grad(loss, wrt), *net.buffers()]

    fast = loss_and_grads(net)
    with reference_code():
        ref = loss_and_grads(twin)
    assert len(fast) == len(ref) > 1 + len(net.arch_parameters()) + len(list(net.parameters()))
    for a, b in zip(fast, ref):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12), (a - b).abs().max()
    with torch.no_grad():  # and evaluation, from those statistics
        assert torch.allclose(net.eval()(x), twin.eval()(x), rtol=1e-9, atol=1e-12)
    # and the two really computed differently: sums in other orders differ in the last bits
    assert any(not torch.equal(a, b) for a, b in zip(fast, ref))
