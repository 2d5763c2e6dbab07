"""`petri cost`: what a user asks first about an architecture."""
from __future__ import annotations

import json

import click

from petri.data.config import DataCfg


@click.command()
@click.argument("arch")
@click.option("--dataset", default=DataCfg().dataset, show_default=True,
              help="Input size and classes to count at: cifar10, cifar100, fashion-mnist, "
                   "mnist, imagenet, or your own data (a .petri file, image folder, .npz, .h5).")
@click.option("--channels", type=int, help="Initial channels C (default: the desc's).")
@click.option("--cells", type=int, help="Number of cells L (default: the desc's).")
@click.option("--json", "as_json", is_flag=True, help="Print plain numbers as JSON.")
def cost(arch, dataset, channels, cells, as_json):
    """Params, MACs and activation memory of ARCH: a known genotype or a desc .json/.yaml.

    MACs are multiply-accumulates of conv and linear layers per image (the papers'
    "multiply-adds"); params exclude the auxiliary head; activation memory is the peak of
    live fp32 activations in an inference pass of one image.
    """
    from petri.cli.resolve import resolve_desc
    from petri.cost import count_cost
    from petri.data.info import dataset_info

    info = dataset_info(dataset)
    desc = resolve_desc(arch, info.name, channels, cells)
    c = count_cost(desc, info.shape)
    if as_json:
        click.echo(json.dumps(c.to_dict()))
        return
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"{desc.name or arch} on {dataset} (C={desc.channels}, L={desc.cells})")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("parameters", f"{c.params / 1e6:.3f} M")
    t.add_row("MACs / image", f"{c.macs / 1e6:.1f} M")
    t.add_row("activation memory", f"{c.activation_bytes / 2**20:.2f} MiB")
    Console().print(t)
