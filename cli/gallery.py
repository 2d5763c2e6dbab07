"""`petri export` (a run's frontier to an HDF5 gallery) and `petri gallery show`."""
from __future__ import annotations

from pathlib import Path

import click

from petri.cli.options import FiniteRange
from petri.cli.status import fmt_cost
from petri.hull import COST_METRICS


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="gallery.h5",
              show_default=True, help="The gallery file to write (replaced atomically).")
@click.option("--eps", type=FiniteRange(min=0), default=None,
              help="Export every point within this relative band of the lower hull "
                   "instead of the Pareto frontier, e.g. --eps 0.025.")
@click.option("--cost", type=click.Choice(sorted(COST_METRICS)), default=None,
              help="Cost axis for the selection (default: the run's hull.cost).")
def export(run_dir, output, eps, cost):
    """Write the frontier models of RUN_DIR (desc, weights, cost, error, lineage) to HDF5."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from petri.gallery import export as run_export

    # Off a terminal the bar would leave a blank line and nothing else.
    with Progress(TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), transient=True,
                  disable=not Console().is_terminal) as bar:
        task = bar.add_task("", total=None)

        def on_model(m):
            bar.update(task, advance=1, description=f"model {m.id}")
        models = run_export(run_dir, output, eps, cost, on_model)
    click.echo(f"wrote {len(models)} models to {output}; list them with "
               f"`petri gallery show {output}`")


@click.group()
def gallery():
    """Inspect HDF5 galleries written by `petri export`."""


@gallery.command()
@click.argument("path", type=click.Path(dir_okay=False))
def show(path):
    """List the models of the gallery at PATH."""
    from rich.console import Console
    from rich.table import Table

    from petri.gallery import model_desc
    from petri.store.gallery import read_meta, read_models

    meta = read_meta(path)
    models = read_models(path)
    t = Table(title=f"{Path(path).name}: {len(models)} models ({meta.get('selection', '?')} of "
                    f"{meta.get('source', '?')})")
    for col in ("id", "stage", "MACs", "params", "memory", "val error", "test error", "parent",
                "cells", "nodes (normal/reduce)"):
        t.add_column(col)
    for m in models:
        d = model_desc(m, path)
        t.add_row(str(m.id), m.stage, fmt_cost(m.macs), fmt_cost(m.params),
                  fmt_cost(m.activation_bytes), _pct(m.val_error), _pct(m.test_error),
                  str(m.parent if m.parent is not None else "-"),
                  f"{d.cells} ({d.reductions} red.)", f"{d.normal.n_nodes}/{d.reduce.n_nodes}")
    labels = {tuple(m.classes) for m in models if m.classes}
    if len(labels) == 1:
        t.caption = f"classes: {', '.join(labels.pop())}"
    Console().print(t)
