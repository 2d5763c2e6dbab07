"""`petri ensemble RUN`: MOOD's weighted ensemble of a run's frontier, on the test set."""
from __future__ import annotations

import json

import click

from petri.cli.options import Device, FiniteRange, cost_option
from petri.cli.status import fmt_cost


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--eps", type=FiniteRange(min=0), default=None,
              help="Ensemble every point within this band of the lower hull instead of the "
                   "Pareto frontier.")
@cost_option("Cost axis for the selection (default: the run's hull.cost).")
@click.option("--per-class", is_flag=True, help="One weight per member and class.")
@click.option("--device", type=Device(), default="cpu", show_default=True,
              help="cpu, cuda, cuda:N or auto.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def ensemble(run_dir, eps, cost, per_class, device, as_json):
    """Weight RUN_DIR's frontier models on its validation split, then score them on test."""
    from rich.console import Console
    from rich.table import Table

    from petri.ensemble import evaluate_run

    result = evaluate_run(run_dir, eps, cost, per_class, device)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    table = Table(title=f"ensemble of {len(result.members)} models ({result.metric})")
    for col in ("point", "cost", "val error", "test error", "weight"):
        table.add_column(col, justify="right")
    for m in result.members:
        weight = m.weight if isinstance(m.weight, float) else sum(m.weight) / len(m.weight)
        table.add_row(str(m.id), fmt_cost(m.cost), f"{100 * m.val_error:.2f}%",
                      f"{100 * m.test_error:.2f}%", f"{weight:.3f}")
    Console().print(table)
    click.echo(f"weighted ensemble test error {100 * result.test_error:.2f}% "
               f"(uniform weights {100 * result.uniform_test_error:.2f}%, best member "
               f"{100 * min(m.test_error for m in result.members):.2f}%)")
