"""`petri latency MODEL...` (measure on a target, optionally beside the prediction) and
`petri latency table` (measure the predictor's per-op table once per target)."""
from __future__ import annotations

import json

import click

from petri.data.config import DataCfg
from petri.latency.measure import Protocol
from petri.latency.table import TABLE_CHANNELS, TABLE_STEM_MULTIPLIERS, table_pareto
from petri.latency.target import DEFAULT_BATCH, DEFAULT_THREADS, TARGETS


class _MeasureByDefault(click.Group):
    """`petri latency MODEL` is `petri latency measure MODEL`."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["measure", *args]
        return super().parse_args(ctx, args)


def _target_options(target_default: str | None, target_help: str):
    def add(f):
        for option in reversed((
                click.option("--target", type=click.Choice(TARGETS), default=target_default,
                             help=target_help),
                click.option("--threads", type=click.IntRange(min=1), default=DEFAULT_THREADS,
                             show_default=True, help="Intra-op threads, pinned."),
                click.option("--batch", type=click.IntRange(min=1), default=DEFAULT_BATCH,
                             show_default=True, help="Images per run."),
                click.option("--dataset", default=DataCfg().dataset, show_default=True,
                             help="Input size and classes of a desc (and of a file without "
                                  "the JSON `petri export` writes beside it)."))):
            f = option(f)
        return f
    return add


@click.group(cls=_MeasureByDefault)
def latency():
    """Latency of models on a target: `petri latency MODEL...` measures them (the same as
    `petri latency measure`); `petri latency table` measures the predictor's per-op table."""


_P = Protocol()


@latency.command("measure", help=f"""Measure MODEL(s): desc files, known genotypes,
GALLERY.h5:ID, or files `petri export` wrote (.onnx, .pt2, TorchScript .pt).

Each is warmed up until the median of its last {_P.window} runs moves by under
{100 * _P.settle_tolerance:g}% (at most {_P.max_warmup_runs} runs or {_P.max_warmup_s:g} s), then
timed for {_P.budget_s:g} s (at least {_P.min_runs}, at most {_P.max_runs} runs); the median, IQR
and coefficient of variation are reported with the target, the machine and the input. Results
are cached per model, target, batch, threads and input shape.""")
@click.argument("models", nargs=-1, required=True)
@_target_options(None, "cpu (torch), cuda (torch, timed with CUDA events) or onnxruntime "
                       "(CPU); default cpu, or onnxruntime for an .onnx file.")
@click.option("--predict", is_flag=True,
              help="Print the per-op table's prediction beside each measurement.")
@click.option("--no-cache", is_flag=True, help="Measure again, even if measured before.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def measure(models, target, threads, batch, dataset, predict, no_cache, as_json):
    from petri.latency.run import measure_subject
    from petri.latency.target import Target

    results = []
    for spec in models:
        kind = target or ("onnxruntime" if spec.lower().endswith(".onnx") else "cpu")
        subject = _subject(spec, dataset)
        lat = measure_subject(subject, Target(kind, threads, batch), cache=not no_cache)
        predicted = _predicted(subject, lat, dataset) if predict else None
        results.append((lat, predicted))
        if not as_json:
            _print(lat, predicted, first=len(results) == 1)
    if as_json:
        click.echo(json.dumps([{**lat.to_dict(), "predicted_ms": p} for lat, p in results],
                              indent=1))


def _subject(spec: str, dataset: str):
    from petri.cli.resolve import resolve_desc
    from petri.data.info import dataset_info
    from petri.latency.models import (desc_subject, exported_subject, gallery_subject,
                                      is_exported, is_gallery_model)

    info = dataset_info(dataset)
    if is_exported(spec):
        from pathlib import Path

        return exported_subject(Path(spec), info.shape)
    if is_gallery_model(spec):
        return gallery_subject(spec, info.shape)
    desc = resolve_desc(spec, info.name, None, None)
    return desc_subject(desc, desc.name or spec, info.shape)


def _predicted(subject, lat, dataset: str) -> float:
    from petri.errors import PetriError
    from petri.latency.build_table import load_table
    from petri.latency.table import predict_latency

    if subject.desc is None:
        raise PetriError(f"{subject.name} has no desc to predict from (no model JSON of "
                         f"`petri export` beside it); drop --predict or measure its desc")
    return predict_latency(subject.desc, load_table(lat.info, subject.input_shape, dataset))


def _print(lat, predicted: float | None, first: bool) -> None:
    t = lat.timings
    if first:
        click.echo(f"target: {lat.info.line()}")
    shape = "x".join(map(str, (lat.info.target.batch, *lat.input_shape)))
    settle = "" if t.settled else ", did not settle"
    click.echo(f"{lat.model} (input {shape}): median {t.median_ms:.3f} ms, IQR "
               f"{t.iqr_ms:.3f} ms, CV {100 * t.cv:.1f}% over {t.runs} runs (warm-up "
               f"{t.warmup_runs} runs{settle}; {t.seconds:.1f} s"
               f"{', cached' if lat.cached else ''})")
    if predicted is not None:
        click.echo(f"  predicted {predicted:.3f} ms "
                   f"({100 * (predicted / t.median_ms - 1):+.0f}% of the measurement)")


@latency.command("table")
@_target_options("cpu", "cpu or cuda (the table is measured with torch).")
@click.option("--channels", type=click.IntRange(min=1), multiple=True,
              default=TABLE_CHANNELS, show_default=True,
              help="Channels of the first cell to cover (repeat for several).")
@click.option("--max-nodes", type=click.IntRange(1, 16), default=table_pareto().max_nodes,
              show_default=True, help="The most nodes a cell of the covered descs has.")
@click.option("--max-reductions", type=click.IntRange(0, 8),
              default=table_pareto().max_reductions, show_default=True,
              help="The most reduction cells a covered desc has (from 0 up).")
@click.option("--stem-multiplier", "stem_multipliers", type=click.IntRange(min=1),
              multiple=True, default=TABLE_STEM_MULTIPLIERS, show_default=True,
              help="The stem's width over the first cell's (a config's stem_multiplier) to "
                   "cover (repeat for several).")
def table(target, threads, batch, dataset, channels, max_nodes, max_reductions,
          stem_multipliers):
    """Measure every op of the search space (each op, preprocessing, stem and head at every
    channels, stride and size a desc of DATASET can use) once on the target, then a few whole
    networks of the space to fit what a network adds beyond its layers, and keep the table in
    the data dir for `petri latency MODEL --predict`; entries measured before are kept."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from petri.data.info import dataset_info
    from petri.latency.build_table import measure_table
    from petri.latency.table import calibration_descs, space_layers, table_path
    from petri.latency.target import Target

    info = dataset_info(dataset)
    stem = "imagenet" if info.name == "imagenet" else "cifar"
    space = (info.shape, info.num_classes, tuple(channels),
             table_pareto(max_nodes, max_reductions), stem, tuple(stem_multipliers))
    console = Console(stderr=True)
    with Progress("[bold]measuring", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True, console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("", total=None)
        tab = measure_table(Target(target, threads, batch), info.shape, info.name,
                            space_layers(*space), calibrate=calibration_descs(*space),
                            on_layer=lambda done, total: bar.update(task, completed=done,
                                                                    total=total))
    o = tab.overhead
    click.echo(f"latency table: {len(tab.entries)} entries for {tab.info.line()} at input "
               f"{'x'.join(map(str, info.shape))}, in {table_path(tab.info, info.shape)}; "
               f"a whole network adds {100 * o.scale:.0f}% and {1000 * o.per_layer_ms:.1f} µs "
               f"per layer (fitted on {o.networks} networks)")
