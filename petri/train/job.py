"""`train` kinds (`seed_train`, `post_train`, `eval_train`, `train`): train one desc, report
its cost and validation (and, when asked, test) error.

The spec is a `TrainSpec`, built by the algorithm and read here; the result a
`TrainJobResult`. Resumes from the job's
checkpoint, checkpoints and stops when the worker is asked to, reports progress to
progress.json. On CUDA out-of-memory it halves the batch and tries again, down to
`min_batch_size`; below that the failure is deterministic.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from petri.job import JobContext, JobFailed, JobResult, JobSpecData, JobStopped

MIN_BATCH = 8


@dataclass(frozen=True)
class TrainSpec(JobSpecData):
    desc: dict  # ModelDesc fields
    data: dict  # DataCfg fields
    trainer: dict  # TrainCfg fields
    init: str | None = None  # run-relative state dict to start from (a grown child's warm start)
    with_test: bool = False  # also evaluate on the test split
    min_batch_size: int = MIN_BATCH  # CUDA OOM halves the batch down to this


@dataclass(frozen=True)
class TrainJobResult(JobResult):
    """The trainer's `TrainResult`, the model's `Cost`, and where its weights are."""

    val_error: float | None  # None without a validation split
    val_loss: float | None
    train_loss: float
    epochs: int
    steps: int
    images_per_s: float
    wall_s: float
    test_error: float | None  # None unless the spec asked `with_test`
    params: int
    macs: int
    activation_bytes: int
    batch_size: int  # after any OOM halving
    checkpoint: str  # run-relative


def fit(make_model: Callable, splits, cfg, ctx: JobContext, min_batch: int = MIN_BATCH,
        with_test: bool = False, model_hooks: Callable | None = None):
    """Train `make_model()` with OOM batch halving; returns (model, TrainResult, batch size).
    `model_hooks(model)` gives the trainer's `ModelHooks` for the model just built. The
    scalars go to TensorBoard event files in the job dir (see petri.train.scalars)."""
    from petri.train.scalars import scalar_log

    with scalar_log(ctx.job_dir) as scalar:
        def report(p) -> None:  # read at the loop's report intervals, so it adds no sync
            ctx.progress(**p.to_dict())
            if p.phase == "train":
                scalar("train/loss", p.loss, p.step)
                scalar("train/images_per_s", p.images_per_s, p.step)

        model, result, batch = _fit(make_model, splits, cfg, ctx, report, min_batch, with_test,
                                    model_hooks)
        for tag, value in (("val/error", result.val_error), ("val/loss", result.val_loss),
                           ("test/error", result.test_error)):
            scalar(tag, value, result.steps)
    return model, result, batch


def _fit(make_model, splits, cfg, ctx, report, min_batch, with_test, model_hooks):
    import torch

    from petri.train import loop

    batch = cfg.batch_size
    while True:
        torch.manual_seed(cfg.seed)
        with ctx.busy("building model"):
            model = make_model()
        try:
            result = loop.train(model, splits, dataclasses.replace(cfg, batch_size=batch),
                                torch.device(ctx.device), ckpt_path=ctx.checkpoint_path,
                                on_progress=report,
                                should_stop=ctx.should_stop, with_test=with_test,
                                model_hooks=model_hooks(model) if model_hooks else
                                loop.ModelHooks())
            return model, result, batch
        except loop.TrainingInterrupted as e:
            raise JobStopped(str(e)) from None
        except torch.cuda.OutOfMemoryError:
            del model
            torch.cuda.empty_cache()
            if batch // 2 < min_batch:
                raise JobFailed(f"CUDA out of memory even at batch {batch}", "deterministic")
            batch //= 2
            # A checkpoint of the larger batch has another schedule length: start afresh.
            ctx.checkpoint_path.unlink(missing_ok=True)


def load_splits(data: dict, ctx: JobContext, with_test: bool = False):
    """The job's data splits (`data`: DataCfg fields), loaded as a busy phase: reading a
    dataset the first time (decompressing it, a plug-in's own load) is one long call."""
    import torch

    from petri.data.config import DataCfg
    from petri.data.loader import make_splits

    with ctx.busy("loading data"):
        return make_splits(DataCfg(**data), torch.device(ctx.device), with_test)


def network_hooks(model):
    """What the trainer may ask of a network built from a desc: its drop-path probability."""
    from petri.train.loop import ModelHooks

    return ModelHooks(drop_path=model.set_drop_path)


def run(spec: TrainSpec, ctx: JobContext) -> TrainJobResult:
    import torch

    from petri.cost import count_cost
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.train.config import TrainCfg

    desc = ModelDesc.from_dict(spec.desc).validate()
    cfg = TrainCfg.from_dict(spec.trainer)
    splits = load_splits(spec.data, ctx, spec.with_test)
    init = None
    if spec.init:
        path = ctx.run_dir / spec.init
        try:
            init = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as e:
            raise JobFailed(f"cannot read the warm-start weights {path}: {e}") from None

    def make_model():
        model = build_model(desc)
        if init is not None:
            model.load_state_dict(init)
        return model

    _, result, batch = fit(make_model, splits, cfg, ctx, spec.min_batch_size, spec.with_test,
                           model_hooks=network_hooks)
    with ctx.busy("counting cost"):
        cost = count_cost(desc, splits.info.shape)
    return TrainJobResult(**result.to_dict(), **cost.to_dict(), batch_size=batch,
                          checkpoint=ctx.relative(ctx.checkpoint_path))
