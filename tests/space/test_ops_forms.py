"""The forms petri computes two ops in on CPU compute what the textbook forms compute (float64,
so only the arithmetic's order differs): batch norm of an NHWC input, and FactorizedReduce at
unit stride on the subsampled grids. That they are also accurate in float32, on this machine's
kernels, is tests/algos/darts/test_fastcheck.py's."""
import copy

import pytest
import torch
from torch import nn

from bench.supernet_throughput import _reference_reduce
from petri.space.ops import NHWC_BN_MIN_CHANNELS, BatchNorm, FactorizedReduce

NHWC = torch.channels_last


@pytest.mark.parametrize("channels", [4, NHWC_BN_MIN_CHANNELS, 40])
@pytest.mark.parametrize("affine,momentum", [(False, 0.1), (True, 0.1), (True, None)])
def test_batch_norm_of_an_nhwc_input_is_nn_batch_norm(channels, affine, momentum):
    torch.manual_seed(0)
    ours = BatchNorm(channels, affine=affine, momentum=momentum).double()
    if affine:
        with torch.no_grad():
            ours.weight.uniform_(0.5, 2)
            ours.bias.uniform_(-1, 1)
    ref = nn.BatchNorm2d(channels, affine=affine, momentum=momentum).double()
    ref.load_state_dict(ours.state_dict())
    x = 3 + torch.randn(6, channels, 5, 7, dtype=torch.float64)  # offset, as ReLU outputs
    g = torch.randn_like(x)
    for _ in range(3):  # running statistics over several batches
        xs = x.contiguous(memory_format=NHWC).requires_grad_()
        xr = x.clone().requires_grad_()
        y, y_ref = ours(xs), ref(xr)
        assert y.is_contiguous(memory_format=NHWC)  # the next op pays no conversion
        grads = torch.autograd.grad(y, [xs, *ours.parameters()], g.contiguous(memory_format=NHWC))
        grads_ref = torch.autograd.grad(y_ref, [xr, *ref.parameters()], g)
        assert torch.allclose(y, y_ref, atol=1e-12)
        assert all(torch.allclose(a, b, atol=1e-11) for a, b in zip(grads, grads_ref))
        x = x * 1.1 + 0.2
    for a, b in zip(ours.buffers(), ref.buffers()):
        assert torch.equal(a, b) if not a.is_floating_point() else torch.allclose(a, b)
    ours.eval(), ref.eval()
    assert torch.allclose(ours(x.contiguous(memory_format=NHWC)), ref(x), atol=1e-12)


@pytest.mark.parametrize("side", [8, 7])  # 7: the odd grid is a row and column short
@pytest.mark.parametrize("layout", [torch.contiguous_format, NHWC])
@pytest.mark.parametrize("c_in", [1, 3, 8])
def test_factorized_reduce_at_unit_stride_is_darts_stride_two_form(side, layout, c_in):
    torch.manual_seed(0)
    op = FactorizedReduce(c_in, 6).double().to(memory_format=layout)
    x = torch.randn(4, c_in, side, side, dtype=torch.float64).contiguous(memory_format=layout)
    x.requires_grad_()
    twin = copy.deepcopy(op)
    y, y_ref = op(x), _reference_reduce(twin, x)
    assert y.shape == y_ref.shape == (4, 6, (side + 1) // 2, (side + 1) // 2)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, [x, *op.parameters()], g)
    grads_ref = torch.autograd.grad(y_ref, [x, *twin.parameters()], g)
    assert torch.allclose(y, y_ref, atol=1e-12)
    assert all(torch.allclose(a, b, atol=1e-11) for a, b in zip(grads, grads_ref))
