"""DARTS' bilevel step for the architecture weights: first order, or second order through a
virtual SGD step with a finite-difference Hessian-vector product.

Second order (DARTS appendix A, `Architect._backward_step_unrolled`):
  w' = w − ξ(μ·m + ∇w L_train(w, α) + λ·w)       the weight optimiser's next step, virtually
  g  = ∇α L_val(w', α) − ξ · ∇²_{α,w} L_train(w, α) · v,     v = ∇w' L_val(w', α)
with the mixed second derivative taken by central differences at w ± ε·v, ε = 0.01/‖v‖.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn
from torch.func import functional_call

from petri.algos.darts.algorithm import ArchCfg


@contextmanager
def frozen(params):
    """The weights as constants: first order needs no gradient for them. Eager autograd
    skips it anyway, but a compiled graph (`supernet.compile`) would compute every weight
    gradient of the step for nothing."""
    params = [p for p in params if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


class Architect:
    def __init__(self, model: nn.Module, w_optimizer: torch.optim.SGD, *, lr: float,
                 betas: tuple[float, float], weight_decay: float, second_order: bool):
        # No defaults: they live once, in ArchCfg (the `arch` section).
        self.model = model
        self.w_opt = w_optimizer
        self.second_order = second_order
        self.criterion = nn.CrossEntropyLoss()
        self.opt = torch.optim.Adam(model.arch_parameters(), lr=lr, betas=betas,
                                    weight_decay=weight_decay)

    def loss(self, x, y, params: dict | None = None) -> torch.Tensor:
        out = self.model(x) if params is None else functional_call(self.model, params, (x,))
        return self.criterion(out, y)

    def step(self, x_train, y_train, x_val, y_val, xi: float) -> float:
        """One update of α (and β); returns the validation loss it was computed from."""
        arch = self.model.arch_parameters()
        if self.second_order:
            grads, loss = self.unrolled_grads(x_train, y_train, x_val, y_val, xi)
        else:
            with frozen(self.model.parameters()):
                loss = self.loss(x_val, y_val)
                grads = torch.autograd.grad(loss, arch)
        self.opt.zero_grad(set_to_none=True)
        for a, g in zip(arch, grads):
            a.grad = g
        self.opt.step()
        return float(loss.detach())

    def _virtual_weights(self, x_train, y_train, xi: float) -> dict:
        """w' after one virtual SGD step with the optimiser's momentum and weight decay."""
        named = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        grads = torch.autograd.grad(self.loss(x_train, y_train), [p for _, p in named])
        group = self.w_opt.param_groups[0]
        mu, wd = group["momentum"], group["weight_decay"]
        out = {}
        with torch.no_grad():
            for (name, p), g in zip(named, grads):
                buf = self.w_opt.state.get(p, {}).get("momentum_buffer")
                m = mu * buf if buf is not None else torch.zeros_like(p)
                out[name] = (p - xi * (m + g + wd * p)).requires_grad_()
        # Buffers (BN statistics) are copied so the virtual pass leaves the real ones alone.
        out.update({n: b.clone() for n, b in self.model.named_buffers()})
        return out

    def unrolled_grads(self, x_train, y_train, x_val, y_val, xi: float):
        arch = self.model.arch_parameters()
        virtual = self._virtual_weights(x_train, y_train, xi)
        names = [n for n, p in self.model.named_parameters() if p.requires_grad]
        loss = self.loss(x_val, y_val, virtual)
        grads = torch.autograd.grad(loss, arch + [virtual[n] for n in names])
        g_arch, v = grads[:len(arch)], grads[len(arch):]
        hessian = self.hessian_vector(v, x_train, y_train)
        return [g - xi * h for g, h in zip(g_arch, hessian)], loss

    def hessian_vector(self, v, x_train, y_train):
        """∇²_{α,w} L_train(w, α) · v by central differences, ε = 0.01/‖v‖."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        arch = self.model.arch_parameters()
        eps = 0.01 / torch.sqrt(sum((x * x).sum() for x in v)).clamp_min(1e-12)
        with torch.no_grad():
            for p, d in zip(params, v):
                p.add_(eps * d)
        plus = torch.autograd.grad(self.loss(x_train, y_train), arch)
        with torch.no_grad():
            for p, d in zip(params, v):
                p.sub_(2 * eps * d)
        minus = torch.autograd.grad(self.loss(x_train, y_train), arch)
        with torch.no_grad():
            for p, d in zip(params, v):
                p.add_(eps * d)
        return [(a - b) / (2 * eps) for a, b in zip(plus, minus)]


class ArchHook:
    """The architecture update before every weight step, as a `loop.StepHook`.

    Validation batches come from a persistent stream over `data` (the architecture's part of
    the training set): batch k is batch k mod (steps per epoch) of pass k // (steps per
    epoch), so the stream restarts when exhausted, never rebuilds an iterator per step
    (DARTS' `next(iter(valid_queue))`), and resumes from one saved counter. During the first
    `warmup_epochs` (PC-DARTS) only the weights train, and no validation batch is drawn.
    """

    def __init__(self, data, seed: int, arch: ArchCfg, amp: bool = False,
                 channels_last: bool = False):
        self.data, self.seed = data, seed
        self.opt_args = {"lr": arch.lr, "betas": tuple(arch.betas),
                         "weight_decay": arch.weight_decay, "second_order": arch.second_order}
        self.warmup_epochs = arch.warmup_epochs
        # bf16 would swamp the finite-difference Hessian-vector product, so second order
        # always runs its architecture step in float32.
        self.amp = amp and not arch.second_order and data.device.type == "cuda"
        self.channels_last = channels_last
        self.steps = 0
        self.architect: Architect | None = None

    def attach(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.architect = Architect(model, optimizer, **self.opt_args)
        model.arch_grad = False  # on only inside `before_step`
        self.steps = 0  # a fresh model (or a retry at a smaller batch) starts the stream anew

    def before_step(self, epoch: int, step: int, x, y, lr: float) -> None:
        if epoch < self.warmup_epochs:
            return
        per_pass = self.data.steps_per_epoch(x.shape[0])
        xv, yv = self.data.batch(self.seed, self.steps // per_pass, self.steps % per_pass,
                                 x.shape[0])
        if self.channels_last:
            xv = xv.contiguous(memory_format=torch.channels_last)
        model = self.architect.model
        model.arch_grad = True
        try:
            with torch.autocast(xv.device.type, dtype=torch.bfloat16, enabled=self.amp):
                self.architect.step(x, y, xv, yv, lr)
        finally:
            model.arch_grad = False
        self.steps += 1

    def state_dict(self) -> dict:
        return {"arch": self.architect.model.arch_state(), "opt": self.architect.opt.state_dict(),
                "steps": self.steps}

    def load_state_dict(self, state: dict) -> None:
        self.architect.model.load_arch_state(state["arch"])
        self.architect.opt.load_state_dict(state["opt"])
        self.steps = int(state["steps"])
