"""`petri compare RUN [RUN ...]`: frontier hypervolume with bootstrap intervals, best error
under cost budgets, compute spent, and the verdict against random search."""
from __future__ import annotations

import json
from pathlib import Path

import click

from petri.cli.status import fmt_cost


def _err(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("--budget", "budgets", multiple=True, type=float,
              help="A cost budget (in the runs' hull.cost unit) for 'best error at cost <= "
                   "budget' (repeatable; default: the quartiles of the cost frame).")
@click.option("--by", type=click.Choice(["algo", "seed"]), default="algo", show_default=True,
              help="algo: one row per algorithm over its seeds; seed: every run too.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def compare(run_dirs, budgets, by, as_json):
    """Compare runs of several algorithms and seeds on the same frame."""
    from rich.console import Console
    from rich.table import Table

    from petri.compare import compare as run_compare, frame_of
    from petri.config import read_run_config
    from petri.status import snapshot

    snaps = [snapshot(d) for d in run_dirs]
    metrics = {s["cost_metric"] for s in snaps}
    if len(metrics) > 1:
        raise click.UsageError(f"the runs use different cost metrics ({', '.join(metrics)}); "
                               f"compare runs with the same hull.cost")
    cfgs = [read_run_config(Path(d)) for d in run_dirs]
    if not budgets:
        f = frame_of(snaps)
        lo, hi = f["min_cost"], f["ref_cost"]
        budgets = [lo * (hi / lo) ** q for q in (0.25, 0.5, 0.75, 1.0)]
    out = run_compare(snaps, cfgs, list(budgets))
    if as_json:
        click.echo(json.dumps(out, indent=1, default=str))
        return
    console = Console()
    fr = out["frame"]
    console.print(f"hypervolume frame: cost ({metrics.pop()}, log axis) from "
                  f"{fmt_cost(fr['min_cost'])} to {fmt_cost(fr['ref_cost'])}, error 0 to "
                  f"{fr['ref_error']:g}; normalised by the frame's area; 95% intervals from "
                  f"{out['bootstrap']} bootstrap resamples of the runs")
    t = Table(title="by algorithm")
    for col in ("algo", "runs", "hypervolume", "95% CI", "compute",
                *(f"best err ≤{fmt_cost(b)}" for b in budgets)):
        t.add_column(col)
    for g in out["groups"]:
        lo, hi = g["hv_ci"]
        t.add_row(g["algo"], str(g["runs"]), f"{g['hv_mean']:.4f}", f"[{lo:.4f}, {hi:.4f}]",
                  f"{g['compute_s'] / 60:.1f} min", *(_err(g["best_error"][b]) for b in budgets))
    console.print(t)
    for g in out["groups"]:
        if g["verdict"]:
            console.print(f"[bold]{g['algo']}[/]: {g['verdict']}")
    if by == "seed":
        t = Table(title="by run")
        for col in ("run", "algo", "seed", "points", "frontier", "hypervolume", "compute"):
            t.add_column(col)
        for r in out["runs"]:
            t.add_row(r["run_dir"], r["algo"], str(r["seed"]), str(r["points"]),
                      str(r["frontier"]), f"{r['hypervolume']:.4f}",
                      f"{r['compute_s'] / 60:.1f} min")
        console.print(t)
