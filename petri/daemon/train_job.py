"""`train`: train one desc on a dataset split and report its cost and validation error.

Spec: {"desc": ModelDesc dict, "data": DataCfg fields, "trainer": TrainCfg fields}. Resumes
from the job's checkpoint, checkpoints and stops when the worker is asked to, reports
progress to progress.json. On CUDA out-of-memory it halves the batch and tries again, down
to `min_batch_size`; below that the failure is deterministic.
"""
from __future__ import annotations

import dataclasses

from petri.daemon.context import JobContext, JobFailed, JobStopped

MIN_BATCH = 8


def run(spec: dict, ctx: JobContext) -> dict:
    import torch

    from petri.cost import count_cost
    from petri.data.loader import DataCfg, make_splits
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.train.loop import TrainCfg, TrainingInterrupted, train

    desc = ModelDesc.from_dict(spec["desc"]).validate()
    data_cfg = DataCfg(**spec.get("data", {}))
    cfg = TrainCfg.from_dict(spec.get("trainer", {}))
    device = torch.device(ctx.device)
    splits = make_splits(data_cfg, device)
    cost = count_cost(desc, splits.info.shape)
    batch = cfg.batch_size
    min_batch = int(spec.get("min_batch_size", MIN_BATCH))
    while True:
        torch.manual_seed(cfg.seed)
        model = build_model(desc)
        try:
            result = train(model, splits, dataclasses.replace(cfg, batch_size=batch), device,
                           ckpt_path=ctx.checkpoint_path,
                           on_progress=lambda p: ctx.progress(**p.to_dict()),
                           should_stop=ctx.should_stop)
            break
        except TrainingInterrupted as e:
            raise JobStopped(str(e)) from None
        except torch.cuda.OutOfMemoryError:
            del model
            torch.cuda.empty_cache()
            if batch // 2 < min_batch:
                raise JobFailed(f"CUDA out of memory even at batch {batch}", "deterministic")
            batch //= 2
            # A checkpoint of the larger batch has another schedule length: start afresh.
            ctx.checkpoint_path.unlink(missing_ok=True)
    return {**result.to_dict(), **cost.to_dict(), "batch_size": batch,
            "checkpoint": str(ctx.checkpoint_path)}
