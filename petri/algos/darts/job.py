"""`darts_search`: one DARTS / PC-DARTS / MOOD supernet search, ending in a derived genotype.

The spec is a `DartsSearchSpec` and the result a `DartsSearchResult`, both beside the config
classes that hold every default (petri.algos.darts.algorithm).

The training split is cut in two: the first `train_portion` trains the weights, the rest the
architecture. Resumable like any training job (the checkpoint holds α/β and their Adam state
too). The result carries the derived desc, softmax(α) per edge, and the two objectives MOOD
places a search by: R(θ) of the final weights and the supernet's validation cross-entropy.
"""
from __future__ import annotations

import dataclasses

from petri.algos.darts.algorithm import DartsSearchResult, DartsSearchSpec
from petri.job import JobContext, JobFailed


def run(spec: DartsSearchSpec, ctx: JobContext) -> DartsSearchResult:
    import torch

    from petri.train.job import fit, load_splits
    from petri.train.loop import ModelHooks
    from petri.algos.darts.supernet import SearchNetwork
    from petri.algos.darts.bilevel import ArchHook
    from petri.algos.darts.fastcheck import choose_form, form_name
    from petri.train.config import TrainCfg

    cfg = TrainCfg.from_dict(spec.trainer)
    net, arch, reg = spec.supernet, spec.arch, spec.regulariser
    device = torch.device(ctx.device)
    splits = load_splits(spec.data, ctx)
    n_weights = int(len(splits.train) * arch.train_portion)
    w_data, a_data = splits.train.split(n_weights)
    if min(len(w_data), len(a_data)) < cfg.batch_size:
        raise JobFailed(f"the training split ({len(splits.train)} images) leaves fewer than one "
                        f"batch of {cfg.batch_size} for the weights or the architecture; use "
                        f"more data or a smaller batch", "deterministic")
    info = splits.info
    # A fast form (NHWC, compiled) only where this machine's kernels compute what the plain
    # one does (fastcheck: checked once per machine, torch build and thread count).
    nhwc, compile = choose_form(cfg.channels_last, net.compile, torch.get_num_threads(),
                                device.type, on_wait=lambda: ctx.progress(phase="fastcheck"))
    cfg = dataclasses.replace(cfg, channels_last=nhwc)
    hook = ArchHook(a_data, cfg.seed, arch, amp=cfg.amp,
                    channels_last=nhwc and device.type == "cuda")

    def make_model():
        model = SearchNetwork(channels=net.channels, cells=net.cells,
                              num_classes=info.num_classes, in_channels=info.shape[0],
                              steps=net.nodes, stem_multiplier=net.stem_multiplier,
                              partial=net.partial, seed=cfg.seed, compile=compile)
        model.regularise(reg.kind, float(reg.nu))
        if nhwc and device.type == "cpu":
            # The training loop turns NHWC on for CUDA only; on CPU the supernet's step is
            # faster in it too (BENCHMARKS.md).
            model = model.to(memory_format=torch.channels_last)
        return model

    model, result, batch = fit(make_model, dataclasses.replace(splits, train=w_data), cfg, ctx,
                               model_hooks=lambda m: ModelHooks(
                                   extra_loss=m.extra_loss, ce_weight=m.ce_weight, step=hook))
    model.to("cpu")
    desc = model.genotype(in_channels=info.shape[0], num_classes=info.num_classes,
                          **spec.derived)
    with torch.no_grad():
        r_value = float(model.regulariser())
        alphas = {k: torch.softmax(a.float(), -1).tolist() for k, a in model.alphas.items()}
    return DartsSearchResult(
        desc=desc.to_dict(), val_error=result.val_error, val_loss=result.val_loss,
        train_loss=result.train_loss, reg=r_value, reg_kind=model.reg_kind or "l1",
        nu=model.nu, alphas=alphas, arch_steps=hook.steps, epochs=result.epochs,
        steps=result.steps, wall_s=result.wall_s, images_per_s=result.images_per_s,
        batch_size=batch, form=form_name(nhwc, compile),
        checkpoint=ctx.relative(ctx.checkpoint_path))
