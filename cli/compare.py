"""`petri compare RUN [RUN ...]`: frontier hypervolume in a fixed frame, the budget of each
arm, best error under cost budgets, and an exact test of every algorithm against random.
How to read its output: README, "Baselines and comparison"; the rules: petri/compare.py."""
from __future__ import annotations

import json
import math
from pathlib import Path

import click

from petri.cli.options import RunPath
from petri.cli.status import fmt_cost


def _err(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


frame_option = click.option(
    "--frame", default=None, metavar="COST_MIN:COST_MAX",
    help="Hypervolume frame on the runs' hull.cost axis, declared before the runs (default: "
         "the runs' compare.frame, else their common support).")


def load(run_dirs, frame: str | None):
    """(runs, configs, frame) of `run_dirs`, checked to share one cost metric and data."""
    from petri.compare import check_same_data, choose_frame, load_run, parse_frame
    from petri.launch import read_run_config

    runs = [load_run(d) for d in run_dirs]
    metrics = {r["cost_metric"] for r in runs}
    if len(metrics) > 1:
        raise click.UsageError(f"the runs use different cost metrics ({', '.join(metrics)}); "
                               f"compare runs with the same hull.cost")
    cfgs = [read_run_config(Path(d)) for d in run_dirs]
    check_same_data(run_dirs, cfgs)
    return runs, cfgs, choose_frame(runs, cfgs, parse_frame(frame) if frame else None)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=RunPath())
@frame_option
@click.option("--budget", "budgets", multiple=True, type=float,
              help="A cost budget (in the runs' hull.cost unit) for 'best error at cost <= "
                   "budget' (repeatable; default: the quartiles of the frame).")
@click.option("--by", type=click.Choice(["algo", "seed"]), default="algo", show_default=True,
              help="algo: one row per algorithm over its seeds; seed: every run too.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result, curves "
                                                      "included.")
def compare(run_dirs, frame, budgets, by, as_json):
    """Compare runs of several algorithms and seeds on the same frame."""
    from rich.console import Console
    from rich.table import Table

    from petri.compare import compare as run_compare

    runs, cfgs, fr = load(run_dirs, frame)
    if not budgets:
        lo, hi = fr.min_cost, fr.max_cost
        budgets = [lo * (hi / lo) ** q for q in (0.25, 0.5, 0.75, 1.0)]
    out = run_compare(runs, cfgs, list(budgets), fr)
    if as_json:
        click.echo(json.dumps(out, indent=1, default=str))
        return
    console = Console()
    if not console.is_terminal:  # a file or pipe has no width to fit; wrapped tables misread
        console.width = 160
    console.print(
        f"hypervolume frame ({fr.source}): cost ({runs[0]['cost_metric']}, log axis) from "
        f"{fmt_cost(fr.min_cost)} to {fmt_cost(fr.max_cost)}, reference point "
        f"({fmt_cost(fr.ref_cost)}, error {fr.ref_error:g}); cheaper points count at the left "
        f"edge, dearer ones are left out; normalised by the frame's area")
    t = Table(title="by algorithm (means per run)")
    for col in ("algo", "runs", "hypervolume (mean ± sd)", "image-epochs", "per point",
                "epochs/point", "compute"):
        t.add_column(col)
    for g in out["groups"]:
        sd = "" if math.isnan(g["hv_sd"]) else f" ± {g['hv_sd']:.4f}"
        epochs = "-" if g["epochs_per_point"] is None else f"{g['epochs_per_point']:.1f}"
        t.add_row(g["algo"], str(g["runs"]), f"{g['hv_mean']:.4f}{sd}",
                  fmt_cost(g["image_epochs"]), fmt_cost(g["image_epochs_per_point"]), epochs,
                  f"{g['compute_s'] / 60:.1f} min")
    console.print(t)
    t = Table(title="best validation error at cost ≤ budget (mean per run)")
    for col in ("algo", *(f"≤{fmt_cost(b)}" for b in budgets)):
        t.add_column(col)
    for g in out["groups"]:
        t.add_row(g["algo"], *(_err(g["best_error"][b]) for b in budgets))
    console.print(t)
    for g in out["groups"]:
        if g["verdict"]:
            console.print(f"[bold]{g['algo']}[/]: {g['verdict']}")
    if by == "seed":
        t = Table(title="by run")
        for col in ("run", "algo", "seed", "points", "in frame", "frontier", "hypervolume",
                    "image-epochs", "compute"):
            t.add_column(col)
        for r in out["runs"]:
            t.add_row(r["run_dir"], r["algo"], str(r["seed"]), str(r["points"]),
                      str(r["in_frame"]), str(r["frontier"]), f"{r['hypervolume']:.4f}",
                      fmt_cost(r["image_epochs"]), f"{r['compute_s'] / 60:.1f} min")
        console.print(t)
