"""`petri export` (a run's frontier to an HDF5 gallery, or a file per model) and
`petri gallery show|desc`."""
from __future__ import annotations

import json
from pathlib import Path

import click

from petri.cli.options import FiniteRange, RunPath, cost_option
from petri.cli.status import fmt_cost
from petri.export import FORMATS, GALLERY


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


@click.command()
@click.argument("run_dir", type=RunPath(exists=True))
@click.option("-o", "--output", type=click.Path(),
              help="The gallery file to write (replaced atomically; default gallery.h5), or "
                   "for the other formats the folder (default RUN_DIR's name and the format).")
@click.option("--format", "fmt", type=click.Choice([GALLERY, *FORMATS]), default=GALLERY,
              show_default=True,
              help="hdf5: one gallery for `petri gallery`/`petri eval`; torchscript, pt2 "
                   "(torch.export), onnx, safetensors: a file per model with a JSON of its "
                   "inputs, classes and cost beside it.")
@click.option("--eps", type=FiniteRange(min=0), default=None,
              help="Export every point within this relative band of the lower hull "
                   "instead of the Pareto frontier, e.g. --eps 0.025.")
@cost_option("Cost axis for the selection (default: the run's hull.cost).")
@click.option("--json", "as_json", is_flag=True,
              help="Report what this export writes as JSON on stdout (files, inputs, classes, "
                   "costs) instead of one line; it exports as without --json, so add it to "
                   "the export rather than running it again.")
def export(run_dir, output, fmt, eps, cost, as_json):
    """Write the frontier models of RUN_DIR (desc, weights, cost, error, lineage) to an HDF5
    gallery, or each as a TorchScript, torch.export, ONNX or safetensors file."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    from petri.export import export as run_export

    if output is None:
        output = "gallery.h5" if fmt == GALLERY else f"{Path(run_dir).resolve().name}-{fmt}"
    # The bar goes to stderr, so --json leaves stdout to the JSON; off a terminal it would
    # leave a blank line and nothing else.
    console = Console(stderr=True)
    with Progress(TextColumn("[bold]exporting"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  transient=True, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("reading the run", total=None)

        def on_step(step):  # drawn at once: a model may take half a minute
            bar.update(task, total=step.total, completed=step.done, refresh=True,
                       description="" if step.model_id is None else f"model {step.model_id}")
        summary = run_export(run_dir, output, fmt, eps, cost, on_step)
    if as_json:
        click.echo(json.dumps(summary.to_dict(), indent=1))
    elif fmt == GALLERY:
        click.echo(f"wrote {len(summary.models)} models to {output}; list them with "
                   f"`petri gallery show {output}`")
    else:
        click.echo(f"wrote {len(summary.models)} {fmt} models to {output}/ "
                   f"(model-<id>{FORMATS[fmt]}, each with model-<id>.json: input shape, "
                   f"mean/std, classes, cost)")


@click.group()
def gallery():
    """Inspect HDF5 galleries written by `petri export`: list their models, take out a desc."""


@gallery.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True,
              help="Print the gallery's metadata and models (no weights) as JSON.")
def show(path, as_json):
    """List the models of the gallery at PATH."""
    from petri.gallery import model_desc
    from petri.store.gallery import read_meta, read_models

    meta = read_meta(path)
    models = read_models(path)
    descs = [model_desc(m, path) for m in models]  # a damaged entry fails either way
    if as_json:
        click.echo(json.dumps({"path": str(path), **meta,
                               "models": [m.to_dict() for m in models]}, indent=1))
        return
    from rich.console import Console

    from petri.cli.tables import Fitted

    Console().print(Fitted(
        _model_columns(models, descs, meta.get("cost_metric")),
        title=f"{Path(path).name}: {len(models)} models ({meta.get('selection', '?')} of "
              f"{meta.get('source', '?')})", caption="\n".join(_inputs(models))))


def _model_columns(models, descs, metric: str | None) -> list:
    """The columns of `gallery show`: the id, the gallery's own cost and the validation error
    stay at any width; the shape of the cells goes first, then the other costs."""
    from petri.cli.tables import Column

    def cost(header, field, short=None):
        return Column(header, tuple(fmt_cost(getattr(m, field)) for m in models), short,
                      drop=0 if field == metric else 3)

    return [Column("id", tuple(str(m.id) for m in models)),
            Column("stage", tuple(m.stage for m in models), drop=4),
            cost("MACs", "macs"), cost("params", "params"),
            cost("memory", "activation_bytes", "mem."),
            Column("val error", tuple(_pct(m.val_error) for m in models), "val err"),
            Column("test error", tuple(_pct(m.test_error) for m in models), "test err",
                   drop=1),
            Column("parent", tuple(str(m.parent if m.parent is not None else "-")
                                   for m in models), drop=2),
            Column("cells", tuple(f"{d.cells} ({d.reductions} red.)" for d in descs), drop=5),
            Column("nodes (normal/reduce)",
                   tuple(f"{d.normal.n_nodes}/{d.reduce.n_nodes}" for d in descs),
                   "nodes n/r", drop=6)]


def _inputs(models) -> list[str]:
    """What the models expect and predict, when all of them agree."""
    lines = []
    pres = {m.preprocessing for m in models}
    if len(pres) == 1 and None not in pres:
        pre = pres.pop()
        lines.append(f"inputs {'x'.join(map(str, pre.shape))} (C×H×W), (pixel/255 - mean)/std "
                     f"with mean {', '.join(f'{v:g}' for v in pre.mean)} and std "
                     f"{', '.join(f'{v:g}' for v in pre.std)}")
    elif None in pres:
        lines.append("no input preprocessing recorded (exported before petri kept it: "
                     "export the run again to add it)")
    labels = {tuple(m.classes) for m in models if m.classes}
    if len(labels) == 1:
        lines.append(f"classes: {', '.join(labels.pop())}")
    return lines


@gallery.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.argument("model_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="The .json file to write (default: print it).")
def desc(path, model_id, output):
    """The desc of model MODEL_ID of the gallery at PATH, for `petri train` or `petri cost`."""
    from petri.gallery import model_desc
    from petri.io import atomic_write, check_writable, write_error
    from petri.store.gallery import read_model

    m = read_model(path, model_id, with_weights=False)
    text = json.dumps(model_desc(m, path).to_dict(), indent=1) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    out = Path(output)
    check_writable(out, "desc")
    try:
        atomic_write(out, lambda f: f.write(text.encode()))
    except OSError as e:
        raise write_error(e, out, "desc") from None
    click.echo(f"wrote the desc of model {m.id} to {out}; try `petri cost {out}` or "
               f"`petri train {out}`")
