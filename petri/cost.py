"""Cost of a network per image at its real input size: MACs, parameters, activation memory.

This is the one cost function petri uses wherever it prints or compares cost.

- `macs`: multiply-accumulates of convolutions and linear layers for one image (the unit the
  DARTS/PC-DARTS papers call "multiply-adds"; Archai's "MAdd" counted multiplies *and* adds,
  about twice this). BN, pooling, ReLU and additions are not counted.
- `params`: trainable parameters, auxiliary head excluded (as papers count).
- `activation_bytes`: peak bytes of tensors alive at once during an inference forward pass of
  one fp32 image (eval mode, no grad), tracked at storage level so views and in-place ops are
  not double-counted. Input and weights are excluded; scratch space inside a kernel is not
  visible. An estimate for comparing models, not an allocator reading.
"""
from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakIdKeyDictionary

from petri.space.desc import ModelDesc


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int
    activation_bytes: int

    def to_dict(self) -> dict:
        return asdict(self)


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for name, p in model.named_parameters()
               if p.requires_grad and not name.startswith("aux_head."))


class _PeakMemory(TorchDispatchMode):
    """Track the bytes of live tensor storages created inside the mode."""

    def __init__(self):
        super().__init__()
        self.live = 0
        self.peak = 0
        self._seen = WeakIdKeyDictionary()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                storage = t.untyped_storage()
                if storage not in self._seen:
                    n = storage.nbytes()
                    self._seen[storage] = n
                    self.live += n
                    self.peak = max(self.peak, self.live)
                    weakref.finalize(storage, self._free, n)
        return out

    def _free(self, n: int) -> None:
        self.live -= n


def _mac_hooks(model: nn.Module, total: list[int]):
    def conv_hook(m: nn.Conv2d, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += out[0].numel() * k  # out[0]: one image of the batch

    def linear_hook(m: nn.Linear, inp, out):
        total[0] += out[0].numel() * m.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    return handles


def count_cost(model_or_desc: nn.Module | ModelDesc, input_shape: tuple[int, int, int]) -> Cost:
    """Cost of one image of `input_shape` (C, H, W) through the model (built if a desc)."""
    if isinstance(model_or_desc, ModelDesc):
        from petri.space.build import build_model

        model = build_model(model_or_desc)
    else:
        model = model_or_desc
    was_training = model.training
    model.eval()
    macs = [0]
    handles = _mac_hooks(model, macs)
    param = next(model.parameters())
    x = torch.zeros((1, *input_shape), dtype=param.dtype, device=param.device)
    try:
        with torch.no_grad(), _PeakMemory() as mem:
            model(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return Cost(params=count_params(model), macs=int(macs[0]), activation_bytes=int(mem.peak))
