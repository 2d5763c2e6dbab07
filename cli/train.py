"""`petri train`: train one architecture on a dataset and report its accuracy."""
from __future__ import annotations

import json

import click

from petri.cli.options import Device, setting_type
from petri.config import DaemonCfg
from petri.train.config import TrainCfg

POSITIVE = click.IntRange(min=1)


@click.command()
@click.argument("arch")
@click.option("--dataset", default="fashion-mnist", show_default=True,
              help="fashion-mnist, mnist, cifar10, cifar100, or your own data: a .petri file "
                   "(`petri data import`), an image folder, an .npz or an .h5.")
@click.option("--channels", type=POSITIVE,
              help="Initial channels C (default: the desc's own; a genotype's published).")
@click.option("--cells", type=POSITIVE, help="Number of cells L (default: as for --channels).")
@click.option("--epochs", type=setting_type(TrainCfg, "epochs"), default=10, show_default=True)
@click.option("--batch-size", type=setting_type(TrainCfg, "batch_size"), default=96,
              show_default=True)
@click.option("--lr", type=setting_type(TrainCfg, "lr"), default=0.025, show_default=True)
@click.option("--subset", type=POSITIVE, help="Use only this many training images.")
@click.option("--val-size", type=click.IntRange(min=0),
              help="Images held out of the training set for validation (default: the "
                   "dataset's, 10000 for the built-ins).")
@click.option("--cutout", type=click.IntRange(min=0), default=0, show_default=True,
              help="Cutout side in pixels.")
@click.option("--auxiliary/--no-auxiliary", default=False, show_default=True)
@click.option("--drop-path", type=setting_type(TrainCfg, "drop_path"), default=0.0,
              show_default=True)
# torch.manual_seed takes at most 64 bits.
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--device", type=Device(), default="auto", show_default=True,
              help="cpu, cuda, cuda:N or auto.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where datasets live.")
@click.option("--on-device", type=click.Choice(["auto", "true", "false"]), default="auto",
              show_default=True, help="Keep the images on the device, or stream them from the "
                                      "dataset file (auto: whichever fits).")
@click.option("--checkpoint", "ckpt", type=click.Path(dir_okay=False),
              help="Checkpoint file: resumed from if present, written every 30 s and at the end.")
@click.option("--checkpoint-every", type=setting_type(TrainCfg, "checkpoint_every_s"),
              default=30.0, show_default=True, help="Seconds between checkpoints.")
@click.option("--test", "with_test", is_flag=True, help="Also report test accuracy.")
@click.option("--threads", type=setting_type(DaemonCfg, "threads"),
              help="CPU threads (default: the cores other petri daemons leave free).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the result as JSON (what was trained, cost, errors, throughput); "
                   "the progress goes to stderr.")
def train(arch, dataset, channels, cells, epochs, batch_size, lr, subset, val_size, cutout,
          auxiliary, drop_path, seed, device, data_dir, on_device, ckpt, checkpoint_every,
          with_test, threads, as_json):
    """Train ARCH (a known genotype or a desc .json/.yaml) and print its accuracy."""
    import torch
    from rich.console import Console

    from petri import threads as host
    from petri.cli.bars import training_bar
    from petri.cli.resolve import resolve_desc
    from petri.cost import check_buildable
    from petri.data.config import DataCfg
    from petri.data.info import dataset_info
    from petri.data.loader import make_splits
    from petri.errors import PetriError
    from petri.space.build import build_model
    from petri.train.loop import train as run_training

    data = DataCfg.from_dict({"dataset": dataset, "data_dir": data_dir, "subset": subset,
                              "val_size": val_size, "cutout": cutout,
                              "on_device": on_device if on_device == "auto" else
                              on_device == "true"})
    desc = resolve_desc(arch, data.dataset, channels, cells, auxiliary)
    c = check_buildable(desc, dataset_info(data.dataset).shape, device, batch_size)
    splits = make_splits(data, device, with_test=with_test)
    cfg = TrainCfg(epochs=epochs, batch_size=batch_size, lr=lr, drop_path=drop_path, seed=seed,
                   checkpoint_every_s=checkpoint_every)
    use = None if threads else host.core_use()
    threads = threads or use.free
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = build_model(desc)
    # Say what is trained: the desc's own size unless --channels/--cells changed it.
    click.echo(f"{desc.name or arch} (C={desc.channels}, L={desc.cells}): "
               f"{c.params / 1e6:.3f} M params, {c.macs / 1e6:.1f} M MACs; "
               f"{len(splits.train)} train / {len(splits.val)} val images on {device}, "
               f"{host.describe(threads, use)}", err=as_json)
    try:
        with training_bar(f"training {desc.name or arch}",
                          Console(stderr=True) if as_json else None) as hook:
            result = run_training(model, splits, cfg, device, ckpt_path=ckpt, on_progress=hook,
                                  with_test=with_test)
    except torch.OutOfMemoryError:  # the estimate up front misses workspaces and fragmentation
        raise PetriError(f"{device} ran out of memory at batch size {batch_size}: lower "
                         f"--batch-size") from None
    if as_json:
        click.echo(json.dumps({"arch": desc.name or arch, "channels": desc.channels,
                               "cells": desc.cells, "dataset": data.dataset, "device": device,
                               "threads": threads, "train_images": len(splits.train),
                               "val_images": len(splits.val), **c.to_dict(),
                               **result.to_dict()}, indent=1))
        return
    val = "-" if result.val_error is None else f"{100 * (1 - result.val_error):.2f}%"
    click.echo(f"validation accuracy: {val}  ({result.images_per_s:.0f} img/s, "
               f"{result.wall_s:.0f} s)")
    if result.test_error is not None:
        click.echo(f"test accuracy: {100 * (1 - result.test_error):.2f}%")
