"""The supernet's fast path (`compile="inductor"`: regional torch.compile of each edge's
shared input and mixed op) computes the eager path's loss, α/β and weight gradients and BN
statistics within float tolerance, and one compiled graph per shape serves every edge and
every later model."""
import contextlib

import pytest
import torch
import torch._dynamo
from torch import nn

from petri.algos.darts.bilevel import frozen
from petri.algos.darts.supernet import MixedOp, SearchNetwork, compiled
from petri.space.desc import PRIMITIVES

TOL = dict(rtol=1e-4, atol=1e-6)


def pair(**kw):
    """An eager and a compiled supernet with the same weights and α/β."""
    nets = []
    for compile in (None, "inductor"):
        torch.manual_seed(0)
        # three cells: a normal one and two reductions (stride-2 edges, PC-DARTS' bypass pool)
        nets.append(SearchNetwork(channels=4, cells=3, num_classes=3, in_channels=1, steps=2,
                                  stem_multiplier=1, seed=0, compile=compile, **kw))
    return nets


def grads(net, x, y, arch_grad: bool):
    """The first-order architecture step's α/β gradients (weights frozen, as the `Architect`
    takes them), or the weight step's weight gradients."""
    net.arch_grad = arch_grad
    with frozen(net.parameters()) if arch_grad else contextlib.nullcontext():
        loss = nn.functional.cross_entropy(net(x), y)
        inputs = net.arch_parameters() if arch_grad else list(net.parameters())
        return loss, torch.autograd.grad(loss, inputs)


@pytest.mark.slow
def test_compiled_supernet_matches_eager_and_compiles_each_edge_shape_once():
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(4, 1, 8, 8, generator=g), torch.randint(0, 3, (4,), generator=g)
    eager, fast = pair(partial=2)
    for arch_grad in (True, False):  # the architecture step, then the weight step
        loss_e, g_e = grads(eager, x, y, arch_grad)
        loss_f, g_f = grads(fast, x, y, arch_grad)
        assert torch.allclose(loss_e, loss_f, **TOL)
        for a, b in zip(g_e, g_f):
            assert torch.allclose(a, b, **TOL), (a - b).abs().max()
    for a, b in zip(eager.buffers(), fast.buffers()):  # running BN statistics
        assert torch.allclose(a.float(), b.float(), **TOL)
    # A fresh supernet (the worker's next job) reuses the graphs: nothing new to compile.
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    _, again = pair(partial=2)
    grads(again, x, y, True)
    grads(again, x, y, False)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs
    # Evaluation stays eager and agrees too.
    eager.eval(), fast.eval()
    with torch.no_grad():
        assert torch.allclose(eager(x), fast(x), **TOL)


@pytest.mark.slow
def test_compiled_strided_mixed_op_matches_eager():
    torch.manual_seed(0)
    op = MixedOp(4, 2, None)
    x = torch.randn(2, 4, 8, 8, requires_grad=True)
    w = torch.softmax(torch.randn(len(PRIMITIVES)), 0).requires_grad_()

    def run(prepare, mix):
        out = mix(op, prepare(op, x), w)
        return out, torch.autograd.grad(out.square().sum(), [x, w, *op.parameters()])

    # Each backward before the next forward, which moves the BN statistics autograd saved.
    (out_e, g_e) = run(MixedOp.prepare, MixedOp.mix)
    (out_f, g_f) = run(compiled("prepare", "inductor"), compiled("mix", "inductor"))
    assert torch.allclose(out_e, out_f, **TOL)
    for a, b in zip(g_e, g_f):
        assert torch.allclose(a, b, **TOL), (a - b).abs().max()


def test_an_unknown_compile_setting_is_refused():
    with pytest.raises(ValueError, match="inductor"):
        SearchNetwork(channels=4, cells=1, in_channels=1, steps=1, compile="jit")
