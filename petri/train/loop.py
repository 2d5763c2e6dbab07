"""The training loop: SGD + cosine, auxiliary loss, drop-path ramp, label smoothing, clipping.

Resumable to the exact step: checkpoints hold model, optimiser, scheduler, RNG states and the
position in the epoch, and every source of randomness (batch order, augmentation, drop-path)
is seeded from (seed, epoch, step), so a resumed run computes the same updates as an
uninterrupted one. On CUDA it uses bf16 autocast, channels_last and cudnn.benchmark.
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch
from torch import nn

from petri.data.loader import ImageSet, Splits, step_seed
from petri.errors import PetriError
from petri.io import check_writable
from petri.train import checkpoint
from petri.train.config import TrainCfg
from petri.train.progress import Progress, ProgressHook


class TrainingDiverged(PetriError):
    """The loss became NaN or infinite: a deterministic failure, not worth retrying."""


class TrainingInterrupted(Exception):
    """Training stopped on request after writing a checkpoint; resume continues it."""


@dataclass(frozen=True)
class TrainResult:
    val_error: float | None  # top-1 error on the validation split, None without one
    val_loss: float | None
    train_loss: float  # mean training loss over the last epoch
    epochs: int
    steps: int  # optimiser steps over the whole run (across resumes)
    images_per_s: float  # training throughput of this process
    wall_s: float  # training seconds spent by this process
    test_error: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class StepHook(Protocol):
    """Work done before every weight step, with state that checkpoints with the run.

    DARTS' architecture update is one: it needs the weight optimiser (second order replays
    its momentum), the training batch and the current learning rate.
    """

    def attach(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None: ...

    def before_step(self, epoch: int, step: int, x: torch.Tensor, y: torch.Tensor,
                    lr: float) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@dataclass(frozen=True)
class ModelHooks:
    """What the trainer may ask of a model beyond its forward pass. The code that built the
    model says which apply; the trainer never probes the model for them."""

    # Parameter groups for SGD given the weight decay (Petridish: none on the candidates' α).
    param_groups: Callable[[float], list] | None = None
    extra_loss: Callable[[], torch.Tensor | None] | None = None  # added to the loss
    ce_weight: float = 1.0  # the cross-entropy's weight (MOOD's 1-ν)
    drop_path: Callable[[float], None] | None = None  # told the probability at each epoch


def cosine_factor(cfg: TrainCfg, total_steps: int) -> Callable[[int], float]:
    ratio = cfg.lr_min / cfg.lr if cfg.lr > 0 else 0.0

    def f(step: int) -> float:
        return ratio + (1 - ratio) * 0.5 * (1 + math.cos(math.pi * min(step, total_steps)
                                                         / total_steps))
    return f


def _forward_loss(model: nn.Module, x, y, criterion, aux_weight: float):
    out = model(x)
    if isinstance(out, tuple):
        logits, aux = out
        return criterion(logits, y) + aux_weight * criterion(aux, y)
    return criterion(out, y)


def evaluate(model: nn.Module, data: ImageSet, batch_size: int, device: torch.device,
             amp: bool = True, channels_last: bool = False,
             on_batch: Callable[[], None] | None = None) -> tuple[float, float]:
    """(top-1 error, mean cross-entropy) of `model` on `data`, in eval mode; `on_batch()`
    after every batch."""
    was_training = model.training
    model.eval()
    wrong, loss_sum = 0, 0.0
    use_amp = amp and device.type == "cuda"
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
        for x, y in data.eval_batches(batch_size):
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            logits = model(x).float()
            loss_sum += nn.functional.cross_entropy(logits, y, reduction="sum").item()
            wrong += (logits.argmax(1) != y).sum().item()
            if on_batch is not None:
                on_batch()
    model.train(was_training)
    n = max(1, len(data))
    return wrong / n, loss_sum / n


@contextmanager
def device_settings(device: torch.device, cfg: TrainCfg):
    """cudnn.benchmark on CUDA, deterministic algorithms on CPU, for one run and restored
    after it: a worker runs many jobs, and one job's switches must not leak into the next."""
    before = (torch.backends.cudnn.benchmark, torch.are_deterministic_algorithms_enabled(),
              torch.is_deterministic_algorithms_warn_only_enabled())
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    elif cfg.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before[0]
        torch.use_deterministic_algorithms(before[1], warn_only=before[2])


def train(model: nn.Module, splits: Splits, cfg: TrainCfg, device: torch.device | str = "cpu",
          **kw) -> TrainResult:
    """`_train` under the run's device settings (see `_train`)."""
    device = torch.device(device)
    with device_settings(device, cfg):
        return _train(model, splits, cfg, device, **kw)


def _train(model: nn.Module, splits: Splits, cfg: TrainCfg, device: torch.device,
           ckpt_path: str | Path | None = None, on_progress: ProgressHook | None = None,
           should_stop: Callable[[], bool] | None = None, with_test: bool = False,
           hook: StepHook | None = None, model_hooks: ModelHooks = ModelHooks()) -> TrainResult:
    """Train `model` on `splits.train`, resuming from `ckpt_path` if it holds a checkpoint.

    Raises `TrainingInterrupted` (after checkpointing) when `should_stop()` turns true, and
    `TrainingDiverged` on a non-finite loss.
    """
    cuda = device.type == "cuda"
    channels_last = cfg.channels_last and cuda
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    mh = model_hooks
    groups = mh.param_groups(cfg.weight_decay) if mh.param_groups else params
    extra_loss, ce_weight = mh.extra_loss, mh.ce_weight
    opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if hook is not None:
        hook.attach(model, opt)
    steps_per_epoch = splits.train.steps_per_epoch(cfg.batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_factor(cfg, total_steps))
    criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    start_epoch, start_step, loss_sum = 0, 0, 0.0
    resumed_loss = float("nan")
    ckpt_path = Path(ckpt_path) if ckpt_path else None
    if ckpt_path is not None:
        check_writable(ckpt_path, "checkpoint")  # now, not when the first save comes due
        state = checkpoint.load(ckpt_path, map_location=device)
        if state is not None:
            checkpoint.check_fits(model, state, ckpt_path)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng_cpu"].cpu())
            if cuda and state.get("rng_cuda") is not None:
                torch.cuda.set_rng_state(state["rng_cuda"].cpu())
            if hook is not None:
                hook.load_state_dict(state["hook"])
            start_epoch, start_step = state["epoch"], state["step"]
            loss_sum = state.get("loss_sum", 0.0)
            # A run resumed after its last step (killed during the final evaluation) trains
            # no step here, so the last epoch's loss comes from the checkpoint.
            resumed_loss = state.get("train_loss", float("nan"))

    def save(epoch: int, step: int) -> None:
        if ckpt_path is None:
            return
        if step >= steps_per_epoch:  # a finished epoch is stored as the start of the next
            epoch, step = epoch + 1, 0
        checkpoint.save({
            "model": model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(), "epoch": epoch, "step": step,
            "loss_sum": loss_sum if step else 0.0, "train_loss": train_loss,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state() if cuda else None,
            "hook": hook.state_dict() if hook is not None else None,
        }, ckpt_path)

    model.train()
    t_start = time.perf_counter()
    last_ckpt = last_report = t_start
    done_here, train_loss = 0, resumed_loss
    if on_progress is not None and start_epoch < cfg.epochs:
        # The first step of a process may compile (torch.compile), autotune (cudnn) and
        # fill caches for minutes, and cannot report from inside.
        on_progress(Progress(start_epoch * steps_per_epoch + start_step, total_steps,
                             start_epoch, cfg.epochs, None, 0.0, None, phase="warm-up",
                             busy=True))
    for epoch in range(start_epoch, cfg.epochs):
        if mh.drop_path is not None:
            mh.drop_path(cfg.drop_path * epoch / cfg.epochs)
        first = start_step if epoch == start_epoch else 0
        if first == 0:
            loss_sum = 0.0
        # The epoch's loss so far, kept on the device: reading it every step would make the
        # host wait for the device at every step. It is read when reported or saved.
        pending = torch.zeros((), dtype=torch.float64, device=device)

        def settle(step: int) -> float:
            """Fold the device-side sum into loss_sum; refuse a non-finite loss."""
            nonlocal loss_sum, pending
            value = float(pending)
            if not math.isfinite(value):
                raise TrainingDiverged(f"training loss became {value} in epoch {epoch} by "
                                       f"step {step}; lower trainer.lr or check the model")
            loss_sum += value
            pending = torch.zeros((), dtype=torch.float64, device=device)
            return loss_sum / step

        for step in range(first, steps_per_epoch):
            torch.manual_seed(step_seed(cfg.seed, epoch, step))  # drop-path masks
            x, y = splits.train.batch(cfg.seed, epoch, step, cfg.batch_size)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            if hook is not None:
                hook.before_step(epoch, step, x, y, sched.get_last_lr()[0])
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cfg.amp and cuda):
                loss = ce_weight * _forward_loss(model, x, y, criterion, cfg.aux_weight)
                if extra_loss is not None:
                    penalty = extra_loss()
                    if penalty is not None:
                        loss = loss + penalty
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
            sched.step()
            pending = pending + loss.detach().double()
            done_here += 1
            now = time.perf_counter()
            due_ckpt = now - last_ckpt >= cfg.checkpoint_every_s
            # After the first step of the process too: that report ends the warm-up one.
            due_report = on_progress is not None and (
                done_here == 1 or now - last_report >= cfg.progress_every_s)
            stop = should_stop is not None and should_stop()
            if due_ckpt or due_report or stop or step + 1 == steps_per_epoch:
                train_loss = settle(step + 1)  # before any save: never checkpoint a NaN
            if due_ckpt:
                save(epoch, step + 1)
                last_ckpt = now
            if on_progress is not None and (due_report or step + 1 == steps_per_epoch):
                last_report = now
                rate = done_here * cfg.batch_size / max(now - t_start, 1e-9)
                global_step = epoch * steps_per_epoch + step + 1
                on_progress(Progress(global_step, total_steps, epoch, cfg.epochs, train_loss,
                                     rate, (total_steps - global_step) * cfg.batch_size
                                     / max(rate, 1e-9)))
            if stop:
                save(epoch, step + 1)
                raise TrainingInterrupted(f"stopped at epoch {epoch}, step {step + 1}")
    save(cfg.epochs, 0)
    wall = time.perf_counter() - t_start
    test = splits.test if with_test else None
    on_batch = _eval_reporter(on_progress, cfg, train_loss,
                              sum(_batches(d, cfg.eval_batch_size) for d in (splits.val, test)))
    val_error = val_loss = None
    if len(splits.val):
        val_error, val_loss = evaluate(model, splits.val, cfg.eval_batch_size, device, cfg.amp,
                                       channels_last, on_batch)
    test_error = None
    if test is not None:
        test_error, _ = evaluate(model, test, cfg.eval_batch_size, device, cfg.amp,
                                 channels_last, on_batch)
    return TrainResult(val_error=val_error, val_loss=val_loss, train_loss=train_loss,
                       epochs=cfg.epochs, steps=total_steps,
                       images_per_s=done_here * cfg.batch_size / max(wall, 1e-9),
                       wall_s=wall, test_error=test_error)


def _batches(data: ImageSet | None, batch_size: int) -> int:
    return 0 if data is None else -(-len(data) // batch_size)


def _eval_reporter(on_progress: ProgressHook | None, cfg: TrainCfg, train_loss: float,
                   total: int) -> Callable[[], None] | None:
    """A per-batch callback for `evaluate` that reports at the trainer's interval: the final
    evaluation (the validation and test sets) can take minutes on a busy CPU, and a
    job that reports nothing meanwhile is killed as hung."""
    if on_progress is None:
        return None
    t0 = last = time.perf_counter()
    done = 0

    def report(now: float) -> None:
        rate = done * cfg.eval_batch_size / max(now - t0, 1e-9)
        eta = (total - done) * (now - t0) / done if done else None
        on_progress(Progress(done, total, cfg.epochs, cfg.epochs, train_loss, rate, eta,
                             phase="eval"))

    def on_batch() -> None:
        nonlocal done, last
        done += 1
        now = time.perf_counter()
        if now - last >= cfg.progress_every_s or done == total:
            last = now
            report(now)

    report(t0)
    return on_batch
