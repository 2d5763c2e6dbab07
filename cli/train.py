"""`petri train`: train one architecture on a dataset and report its accuracy."""
from __future__ import annotations

import click


@click.command()
@click.argument("arch")
@click.option("--dataset", default="fashion-mnist", show_default=True,
              type=click.Choice(["fashion-mnist", "mnist", "cifar10", "cifar100"]))
@click.option("--channels", type=int, default=16, show_default=True, help="Initial channels C.")
@click.option("--cells", type=int, default=8, show_default=True, help="Number of cells L.")
@click.option("--epochs", type=int, default=10, show_default=True)
@click.option("--batch-size", type=int, default=96, show_default=True)
@click.option("--lr", type=float, default=0.025, show_default=True)
@click.option("--subset", type=int, help="Use only this many training images.")
@click.option("--val-size", type=int, default=10000, show_default=True,
              help="Images held out of the training set for validation.")
@click.option("--cutout", type=int, default=0, show_default=True, help="Cutout side in pixels.")
@click.option("--auxiliary/--no-auxiliary", default=False, show_default=True)
@click.option("--drop-path", type=float, default=0.0, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N or auto.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Where datasets live.")
@click.option("--checkpoint", "ckpt", type=click.Path(dir_okay=False),
              help="Checkpoint file: resumed from if present, written every 30 s and at the end.")
@click.option("--checkpoint-every", type=float, default=30.0, show_default=True,
              help="Seconds between checkpoints.")
@click.option("--test", "with_test", is_flag=True, help="Also report test accuracy.")
def train(arch, dataset, channels, cells, epochs, batch_size, lr, subset, val_size, cutout,
          auxiliary, drop_path, seed, device, data_dir, ckpt, checkpoint_every, with_test):
    """Train ARCH (a known genotype or a desc .json/.yaml) and print its accuracy."""
    import torch

    from petri.cli.bars import training_bar
    from petri.cli.resolve import resolve_desc
    from petri.cost import count_cost
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.space.build import build_model
    from petri.train.config import TrainCfg
    from petri.train.loop import train as run_training

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    desc = resolve_desc(arch, dataset, channels, cells, auxiliary)
    data = DataCfg(dataset=dataset, data_dir=data_dir, subset=subset, val_size=val_size,
                   cutout=cutout)
    splits = make_splits(data, device, with_test=with_test)
    cfg = TrainCfg(epochs=epochs, batch_size=batch_size, lr=lr, drop_path=drop_path, seed=seed,
                   checkpoint_every_s=checkpoint_every)
    torch.manual_seed(seed)
    model = build_model(desc)
    c = count_cost(model, splits.info.shape)
    click.echo(f"{desc.name or arch}: {c.params / 1e6:.3f} M params, {c.macs / 1e6:.1f} M MACs; "
               f"{len(splits.train)} train / {len(splits.val)} val images on {device}")
    with training_bar(f"training {desc.name or arch}") as hook:
        result = run_training(model, splits, cfg, device, ckpt_path=ckpt, on_progress=hook,
                              with_test=with_test)
    val = "-" if result.val_error is None else f"{100 * (1 - result.val_error):.2f}%"
    click.echo(f"validation accuracy: {val}  ({result.images_per_s:.0f} img/s, "
               f"{result.wall_s:.0f} s)")
    if result.test_error is not None:
        click.echo(f"test accuracy: {100 * (1 - result.test_error):.2f}%")
