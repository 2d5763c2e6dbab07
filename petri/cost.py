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

A desc is counted on the meta device: shapes only, no memory, so the numbers cost nothing
even for networks too large to build. `check_buildable` uses them to refuse such a network
before any real tensor is allocated.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves
from torch.utils.weak import WeakIdKeyDictionary

from petri.errors import DescError
from petri.io import fmt_bytes
from petri.space.desc import ModelDesc

# Past these a desc is refused before it is built: building takes time per operation even on
# the meta device (BENCHMARKS.md, "Building a desc"), and 10^10 parameters are 40 GB of fp32
# weights.
MAX_OPS = 2000
MAX_PARAMS = 10**10


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
            if isinstance(t, torch.Tensor):
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


def _check_size(desc: ModelDesc) -> None:
    """Refuse, from the desc alone, a network too large to build in reasonable time or memory."""
    name = desc.name or "the desc"
    per_cell = max(sum(len(n.edges) for n in c.nodes) for c in (desc.normal, desc.reduce))
    if desc.cells * per_cell > MAX_OPS:
        raise DescError(f"{name} has {desc.cells} cells of up to {per_cell} operations, "
                        f"{desc.cells * per_cell} in all; petri builds at most {MAX_OPS}: lower "
                        f"the cells")
    # Weights no network of this shape can do without: the last cell's 1x1 input convolution
    # (width^2), the stem's first convolution and the classifier.
    width = desc.channels * 2 ** desc.reductions
    if width ** 2 + desc.in_channels * desc.channels + desc.num_classes * width > MAX_PARAMS:
        wide = f"{width:,}" if width < 10**9 else f"over 10^{len(str(width)) - 1}"
        raise DescError(f"{name} would hold over {MAX_PARAMS / 1e6:,.0f} M parameters, the most "
                        f"petri builds (its last cells are {wide} channels wide, for "
                        f"{desc.in_channels:,} input channels and {desc.num_classes:,} "
                        f"classes): lower the channels")


def _meta_model(desc: ModelDesc) -> nn.Module:
    from petri.space.build import build_model

    _check_size(desc)
    with torch.device("meta"):
        model = build_model(desc)
    params = count_params(model)
    if params > MAX_PARAMS:
        raise DescError(f"{desc.name or 'the desc'} holds {params / 1e6:,.0f} M parameters, "
                        f"over the {MAX_PARAMS / 1e6:,.0f} M petri builds: lower the channels or "
                        f"cells")
    return model


def free_memory(device: str | torch.device) -> int:
    """Bytes `device` can still allocate: the GPU's free memory, or the host's available RAM."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def check_buildable(desc: ModelDesc, input_shape: tuple[int, int, int],
                    device: str | torch.device = "cpu", train_batch: int | None = None) -> Cost:
    """The cost of `desc`, counted on the meta device; raise `DescError` when the network does
    not fit in `device`'s free memory, before any real tensor exists.

    Running it takes its weights and one image's activations. Training it on batches of
    `train_batch` takes four copies of the weights (with gradients, momentum and the
    optimiser's step) and what the forward pass keeps for backward: half of that on CUDA,
    where the trainer computes in bf16.
    """
    model = _meta_model(desc)
    c = count_cost(model, input_shape)
    need, doing = 4 * c.params + c.activation_bytes, "to run"
    if train_batch is not None:
        model.train()
        with _PeakMemory() as mem:
            model(torch.zeros((train_batch, *input_shape), device="meta"))
        kept = mem.peak // 2 if torch.device(device).type == "cuda" else mem.peak
        need, doing = 16 * c.params + kept, f"to train at batch size {train_batch}"
    have = free_memory(device)
    if need > have:
        raise DescError(f"{desc.name or 'the desc'} ({c.params / 1e6:,.3f} M parameters) needs "
                        f"about {fmt_bytes(need)} on {device} {doing}, but {fmt_bytes(have)} "
                        f"is free: lower the batch size, channels or cells")
    return c


def count_cost(model_or_desc: nn.Module | ModelDesc, input_shape: tuple[int, int, int]) -> Cost:
    """Cost of one image of `input_shape` (C, H, W) through the model (a desc is counted on
    the meta device, refused with `DescError` if it is too large to build)."""
    if isinstance(model_or_desc, ModelDesc):
        model = _meta_model(model_or_desc)
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
