"""The DARTS primitives and helper blocks, behind one name registry.

`create_op(name, C, stride, affine)` builds a primitive. All convolutions are bias-free;
BN is affine in evaluation networks and not in search supernets (DARTS convention).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from petri.errors import DescError
from petri import plugins
from petri.space.desc import PRIMITIVES, known_ops


def is_nhwc(x: torch.Tensor) -> bool:
    """Channels-last strides (a tensor with one pixel or one channel is both layouts: False)."""
    return x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()


# Below this many channels an NHWC batch norm on CPU is faster copied to NCHW and back than
# computed in place (BENCHMARKS.md, "Supernet search step").
NHWC_BN_MIN_CHANNELS = 16


class BatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training-mode statistics of an NHWC input on CPU are as accurate as
    those of an NCHW one.

    ATen's channels-last CPU kernel sums each channel row by row into a float32 buffer, one
    per thread, where the NCHW kernel accumulates in double; on the offset inputs a supernet
    feeds it (ReLU outputs) that cost a DARTS step its weight gradients (issue 23). So petri
    normalises such an input itself with ATen's cascade sums (`_NHWCNorm`), or, at the few
    channels of PC-DARTS' slices where the copies cost less, in NCHW. Evaluation (running
    statistics, no sums) and every other device or layout run nn.BatchNorm2d's own kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (x.device.type != "cpu" or not is_nhwc(x) or not self.training
                or x.dtype not in (torch.float32, torch.float64)):  # bf16 keeps ATen's
            return super().forward(x)
        if x.shape[1] < NHWC_BN_MIN_CHANNELS:
            return super().forward(x.contiguous()).contiguous(memory_format=torch.channels_last)
        y, mean, var = _NHWCNorm.apply(x, self.eps)
        self._track(mean, var, x.numel() // x.shape[1])
        if self.affine:
            y = torch.addcmul(self.bias.view(1, -1, 1, 1), y, self.weight.view(1, -1, 1, 1))
        return y

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, var: torch.Tensor, n: int) -> None:
        """Running statistics as nn.BatchNorm2d keeps them (the variance unbiased)."""
        if not self.track_running_stats:
            return
        self.num_batches_tracked.add_(1)
        f = (1.0 / float(self.num_batches_tracked) if self.momentum is None
             else self.momentum)
        self.running_mean.lerp_(mean.flatten(), f)
        self.running_var.lerp_(var.flatten() * (n / max(n - 1, 1)), f)


class _NHWCNorm(torch.autograd.Function):
    """(x − mean)/√(var + eps) over each channel of an NHWC tensor, and its gradient
    g ↦ (g − mean(g) − y·mean(g·y))/√(var + eps), every sum one of ATen's cascade sums."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, eps: float):
        dims, n = (0, 2, 3), x.numel() // x.shape[1]
        mean = x.sum(dims, keepdim=True) / n
        centred = x - mean
        var = centred.square().sum(dims, keepdim=True) / n
        invstd = torch.rsqrt(var + eps)
        y = centred * invstd
        ctx.save_for_backward(y, invstd)
        ctx.mark_non_differentiable(mean, var)
        return y, mean, var

    @staticmethod
    def backward(ctx, g: torch.Tensor, _mean, _var):
        y, invstd = ctx.saved_tensors
        dims = (0, 2, 3)
        return (g - g.mean(dims, keepdim=True)
                - y * (g * y).mean(dims, keepdim=True)) * invstd, None


class ReLUConvBN(nn.Sequential):
    """ReLU, k×k conv, BN: the cell's input preprocessing (1×1) and the stems' building block."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, padding: int = 0,
                 affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            BatchNorm(c_out, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """Halve the resolution with two 1×1 convs, one on the even and one on the odd pixels.

    DARTS writes them as stride-2 convs (the second on the input shifted by one pixel).
    These are the same sums as stride-1 convs on the subsampled grids, computed so because
    oneDNN's strided 1×1 conv, backward for the weights in NHWC with fewer input channels
    than its vector width, writes past its workspace (oneDNN issue 6035): heap corruption,
    hangs and wrong gradients at PC-DARTS' 2-8-channel slices on AVX2 CPUs. The unit-stride
    conv never enters that code, in either layout."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True):
        super().__init__()
        if c_out % 2:
            raise DescError(f"FactorizedReduce needs an even number of output channels, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, bias=False)
        self.bn = BatchNorm(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        a = self.conv_1(x[:, :, ::2, ::2])
        b = self.conv_2(x[:, :, 1::2, 1::2])
        if b.shape[-2:] != a.shape[-2:]:
            # Odd inputs (e.g. 7×7 at Fashion-MNIST's last stage) give the odd grid one
            # row/column less; pad it back so the two halves line up.
            b = nn.functional.pad(b, (0, a.shape[-1] - b.shape[-1], 0, a.shape[-2] - b.shape[-2]))
        return self.bn(torch.cat([a, b], dim=1))


class SepConv(nn.Sequential):
    """Depthwise-separable conv applied twice; only the first depthwise conv has the stride."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            BatchNorm(c, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=1, padding=padding, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            BatchNorm(c, affine=affine),
        )


class DilatedDepthwise(nn.Conv2d):
    """A depthwise k×k conv with dilation 2 and `same` padding; at stride 2 computed as an
    undilated conv on the input's even pixels, which are the only ones its taps touch: the
    same products and sums, several times faster forward and backward on CPU, where oneDNN's
    dilated depthwise kernels are slow (BENCHMARKS.md). At stride 1 the same trick needs the
    four polyphase components copied out and back, which costs what it saves."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int):
        super().__init__(c, c, kernel, stride=stride, padding=padding, dilation=2, groups=c,
                         bias=False)
        self.even_phase = padding == kernel - 1 and stride == 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.even_phase:
            return super().forward(x)
        return nn.functional.conv2d(x[:, :, ::2, ::2], self.weight,
                                    padding=self.kernel_size[0] // 2, groups=self.groups)


class DilConv(nn.Sequential):
    """ReLU, dilated depthwise conv (dilation 2), 1×1 conv, BN."""

    def __init__(self, c: int, kernel: int, stride: int, padding: int, affine: bool = True):
        super().__init__(
            nn.ReLU(inplace=False),
            DilatedDepthwise(c, kernel, stride, padding),
            nn.Conv2d(c, c, 1, bias=False),
            BatchNorm(c, affine=affine),
        )


class Zero(nn.Module):
    """The `none` op: zeros of the output shape (strided when the edge reduces)."""

    def __init__(self, stride: int):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x.mul(0.0)
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)


def _pool(kind: str, c: int, stride: int, affine: bool, search: bool) -> nn.Module:
    pool = (nn.MaxPool2d(3, stride=stride, padding=1) if kind == "max"
            else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False))
    # Search supernets follow each pool with a non-affine BN so the mixed op's terms have
    # comparable scale; evaluation networks use the bare pool.
    return nn.Sequential(pool, BatchNorm(c, affine=False)) if search else pool


OpFactory = Callable[[int, int, bool, bool], nn.Module]
"""An op: `(channels, stride, affine, search) -> nn.Module`, mapping `channels` to `channels`
at `stride` (2 on a reduction cell's inputs); `affine`: batch norms get affine parameters;
`search`: it is built into a search supernet. A `petri.ops` entry point names one."""
OPS: dict[str, OpFactory] = {
    "none": lambda c, s, affine, search: Zero(s),
    "max_pool_3x3": lambda c, s, affine, search: _pool("max", c, s, affine, search),
    "avg_pool_3x3": lambda c, s, affine, search: _pool("avg", c, s, affine, search),
    "skip_connect": lambda c, s, affine, search: (nn.Identity() if s == 1
                                                  else FactorizedReduce(c, c, affine)),
    "sep_conv_3x3": lambda c, s, affine, search: SepConv(c, 3, s, 1, affine),
    "sep_conv_5x5": lambda c, s, affine, search: SepConv(c, 5, s, 2, affine),
    "dil_conv_3x3": lambda c, s, affine, search: DilConv(c, 3, s, 2, affine),
    "dil_conv_5x5": lambda c, s, affine, search: DilConv(c, 5, s, 4, affine),
}
assert tuple(OPS) == PRIMITIVES, "the op registry must list the primitives in index order"


def create_op(name: str, c: int, stride: int, affine: bool = True, search: bool = False) -> nn.Module:
    """A built-in primitive, or a `petri.ops` plug-in's (same signature as the OPS rows)."""
    factory = OPS.get(name)
    if factory is None:
        if name not in known_ops():
            raise DescError(f"unknown op {name!r}; known ops: {', '.join(known_ops())}")
        factory = plugins.load(plugins.OPS, name)
    op = factory(c, stride, affine, search)
    if not isinstance(op, nn.Module):
        raise DescError(f"the petri.ops plug-in {name!r} returned {type(op).__name__}, not an "
                        f"nn.Module; fix the plug-in")
    return op


def is_identity(op: nn.Module) -> bool:
    return isinstance(op, nn.Identity)
