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
    """Everything the trainer may ask of a model beyond its forward pass, in one object. The
    code that built the model says which apply; the trainer never probes the model for them."""

    # Parameter groups for SGD given the weight decay (Petridish: none on the candidates' α).
    param_groups: Callable[[float], list] | None = None
    extra_loss: Callable[[], torch.Tensor | None] | None = None  # added to the loss
    ce_weight: float = 1.0  # the cross-entropy's weight (MOOD's 1-ν)
    drop_path: Callable[[float], None] | None = None  # told the probability at each epoch
    step: StepHook | None = None  # DARTS' architecture update, before every weight step


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
          ckpt_path: str | Path | None = None, on_progress: ProgressHook | None = None,
          should_stop: Callable[[], bool] | None = None, with_test: bool = False,
          model_hooks: ModelHooks = ModelHooks()) -> TrainResult:
    """Train `model` on `splits.train`, resuming from `ckpt_path` if it holds a checkpoint,
    then measure it on the validation split (and the test split `with_test`), all under the
    run's device settings.

    Raises `TrainingInterrupted` (after checkpointing) when `should_stop()` turns true, and
    `TrainingDiverged` on a non-finite loss.
    """
    device = torch.device(device)
    with device_settings(device, cfg):
        trainer = Trainer(model, splits.train, cfg, device, model_hooks, ckpt_path)
        trainer.restore()
        trainer.run(on_progress, should_stop)
        wall = time.perf_counter() - trainer.started
        test = splits.test if with_test else None
        on_batch = _eval_reporter(on_progress, cfg, trainer.train_loss,
                                  sum(_batches(d, cfg.eval_batch_size) for d in (splits.val, test)))
        val_error = val_loss = test_error = None
        if len(splits.val):
            val_error, val_loss = evaluate(model, splits.val, cfg.eval_batch_size, device,
                                           cfg.amp, trainer.channels_last, on_batch)
        if test is not None:
            test_error, _ = evaluate(model, test, cfg.eval_batch_size, device, cfg.amp,
                                     trainer.channels_last, on_batch)
    return TrainResult(val_error=val_error, val_loss=val_loss, train_loss=trainer.train_loss,
                       epochs=cfg.epochs, steps=trainer.total_steps,
                       images_per_s=trainer.done * cfg.batch_size / max(wall, 1e-9),
                       wall_s=wall, test_error=test_error)


class EpochLoss:
    """The training loss of the current epoch so far. Steps add to a sum kept on the device,
    read only by `settle`, when the loss is reported or saved: reading it every step would make
    the host wait for the device at every step."""

    def __init__(self, device: torch.device):
        self.device = device
        self.settled = 0.0  # the part of the sum read back to the host
        self.pending = torch.zeros((), dtype=torch.float64, device=device)

    def begin_epoch(self, resumed: bool) -> None:
        """Start an epoch afresh, or (`resumed` mid-epoch) from the checkpoint's sum."""
        if not resumed:
            self.settled = 0.0
        self.pending = torch.zeros((), dtype=torch.float64, device=self.device)

    def add(self, loss: torch.Tensor) -> None:
        self.pending = self.pending + loss.detach().double()

    def settle(self, epoch: int, steps: int) -> float:
        """The epoch's mean loss over its first `steps` steps; refuse a non-finite loss."""
        value = float(self.pending)
        if not math.isfinite(value):
            raise TrainingDiverged(f"training loss became {value} in epoch {epoch} by "
                                   f"step {steps}; lower trainer.lr or check the model")
        self.settled += value
        self.pending = torch.zeros((), dtype=torch.float64, device=self.device)
        return self.settled / steps


class Trainer:
    """One training run of one model: restore, step, report, save. `run` trains from `start`
    (epoch, step): the beginning, or where `restore` found the checkpoint to be."""

    def __init__(self, model: nn.Module, data: ImageSet, cfg: TrainCfg, device: torch.device,
                 hooks: ModelHooks, ckpt_path: str | Path | None):
        self.model, self.data, self.cfg, self.device, self.hooks = model, data, cfg, device, hooks
        self.ckpt_path = Path(ckpt_path) if ckpt_path else None
        self.cuda = device.type == "cuda"
        self.channels_last = cfg.channels_last and self.cuda
        self.amp = cfg.amp and self.cuda
        model.to(device)
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.params = [p for p in model.parameters() if p.requires_grad]
        groups = hooks.param_groups(cfg.weight_decay) if hooks.param_groups else self.params
        self.opt = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum,
                                   weight_decay=cfg.weight_decay)
        if hooks.step is not None:
            hooks.step.attach(model, self.opt)
        self.steps_per_epoch = data.steps_per_epoch(cfg.batch_size)
        self.total_steps = cfg.epochs * self.steps_per_epoch
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt,
                                                       cosine_factor(cfg, self.total_steps))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.start = (0, 0)
        self.loss = EpochLoss(device)
        self.train_loss = float("nan")  # the mean loss of the last epoch trained
        self.done = 0  # steps trained by this process
        self.started = 0.0  # when this process began training (perf_counter)

    def restore(self) -> None:
        """Continue from the checkpoint at `ckpt_path`, if one is there."""
        if self.ckpt_path is None:
            return
        check_writable(self.ckpt_path, "checkpoint")  # now, not when the first save comes due
        state = checkpoint.load(self.ckpt_path, map_location=self.device)
        if state is None:
            return
        checkpoint.check_fits(self.model, state, self.ckpt_path)
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng_cpu"].cpu())
        if self.cuda and state.get("rng_cuda") is not None:
            torch.cuda.set_rng_state(state["rng_cuda"].cpu())
        if self.hooks.step is not None:
            self.hooks.step.load_state_dict(state["hook"])
        self.start = (state["epoch"], state["step"])
        self.loss.settled = state.get("loss_sum", 0.0)
        # A run resumed after its last step (killed during the final evaluation) trains
        # no step here, so the last epoch's loss comes from the checkpoint.
        self.train_loss = state.get("train_loss", float("nan"))

    def save(self, epoch: int, step: int) -> None:
        """Checkpoint the run as it stands after `step` steps of `epoch`."""
        if self.ckpt_path is None:
            return
        if step >= self.steps_per_epoch:  # a finished epoch is stored as the start of the next
            epoch, step = epoch + 1, 0
        checkpoint.save({
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(), "epoch": epoch, "step": step,
            "loss_sum": self.loss.settled if step else 0.0, "train_loss": self.train_loss,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state() if self.cuda else None,
            "hook": self.hooks.step.state_dict() if self.hooks.step is not None else None,
        }, self.ckpt_path)

    def run(self, report: ProgressHook | None, should_stop: Callable[[], bool] | None) -> None:
        """Train from `start` to the last epoch: settle the loss, report and checkpoint when
        due; checkpoint and raise `TrainingInterrupted` once `should_stop()` turns true."""
        cfg, per_epoch = self.cfg, self.steps_per_epoch
        start_epoch, start_step = self.start
        self.model.train()
        self.started = last_ckpt = last_report = time.perf_counter()
        if report is not None and start_epoch < cfg.epochs:
            # The first step of a process may compile (torch.compile), autotune (cudnn) and
            # fill caches for minutes, and cannot report from inside.
            report(Progress(start_epoch * per_epoch + start_step, self.total_steps,
                            start_epoch, cfg.epochs, None, 0.0, None, phase="warm-up",
                            busy=True))
        for epoch in range(start_epoch, cfg.epochs):
            first = start_step if epoch == start_epoch else 0
            if self.hooks.drop_path is not None:
                self.hooks.drop_path(cfg.drop_path * epoch / cfg.epochs)
            self.loss.begin_epoch(resumed=first > 0)
            for step in range(first, per_epoch):
                self.step(epoch, step)
                now = time.perf_counter()
                due_ckpt = now - last_ckpt >= cfg.checkpoint_every_s
                # After the first step of the process too: that report ends the warm-up one.
                due_report = report is not None and (
                    self.done == 1 or now - last_report >= cfg.progress_every_s)
                stop = should_stop is not None and should_stop()
                last = step + 1 == per_epoch
                if due_ckpt or due_report or stop or last:
                    # Before any save: never checkpoint a NaN.
                    self.train_loss = self.loss.settle(epoch, step + 1)
                if due_ckpt:
                    self.save(epoch, step + 1)
                    last_ckpt = now
                if report is not None and (due_report or last):
                    last_report = now
                    report(self.progress(epoch, step + 1, now))
                if stop:
                    self.save(epoch, step + 1)
                    raise TrainingInterrupted(f"stopped at epoch {epoch}, step {step + 1}")
        self.save(cfg.epochs, 0)

    def step(self, epoch: int, step: int) -> None:
        """One weight update on training batch `step` of `epoch`."""
        cfg, hooks = self.cfg, self.hooks
        torch.manual_seed(step_seed(cfg.seed, epoch, step))  # drop-path masks
        x, y = self.data.batch(cfg.seed, epoch, step, cfg.batch_size)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if hooks.step is not None:
            hooks.step.before_step(epoch, step, x, y, self.sched.get_last_lr()[0])
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = hooks.ce_weight * _forward_loss(self.model, x, y, self.criterion,
                                                   cfg.aux_weight)
            if hooks.extra_loss is not None:
                penalty = hooks.extra_loss()
                if penalty is not None:
                    loss = loss + penalty
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            nn.utils.clip_grad_norm_(self.params, cfg.grad_clip)
        self.opt.step()
        self.sched.step()
        self.loss.add(loss)
        self.done += 1

    def progress(self, epoch: int, steps: int, now: float) -> Progress:
        """The report after `steps` steps of `epoch`, at time `now`."""
        cfg = self.cfg
        rate = self.done * cfg.batch_size / max(now - self.started, 1e-9)
        global_step = epoch * self.steps_per_epoch + steps
        return Progress(global_step, self.total_steps, epoch, cfg.epochs, self.train_loss, rate,
                        (self.total_steps - global_step) * cfg.batch_size / max(rate, 1e-9))


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
