"""`petri plot RUN [RUN ...] -o frontier.png`: a publication-quality frontier figure.

Every point, the lower convex hull as a line, the Pareto frontier highlighted, optional
lineage arrows (parent to child), several runs overlaid in distinct colours. matplotlib is
an optional extra (`pip install petri[plot]`); it is imported only here.
"""
from __future__ import annotations

from pathlib import Path

import click

from petri.errors import PetriError

UNITS = {"macs": "multiply-accumulates (MACs)", "params": "parameters",
         "activation_bytes": "peak activation memory (bytes)"}


def draw(snaps: list[dict], labels: list[str], out: Path, lineage: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (snap, label) in enumerate(zip(snaps, labels)):
        c = colours[k % len(colours)]
        pts = {p["id"]: p for p in snap["points"] if p["cost"] and p["error"] is not None}
        if not pts:
            continue
        ax.scatter([p["cost"] for p in pts.values()], [100 * p["error"] for p in pts.values()],
                   s=12, color=c, alpha=0.35, linewidths=0)
        front = [pts[i] for i in snap["frontier"] if i in pts]
        ax.scatter([p["cost"] for p in front], [100 * p["error"] for p in front], s=22,
                   color=c, label=f"{label} (frontier {len(front)} of {len(pts)})", zorder=3)
        hull = [pts[i] for i in snap["hull"] if i in pts]
        ax.plot([p["cost"] for p in hull], [100 * p["error"] for p in hull], color=c,
                linewidth=1.2, zorder=2)
        if lineage:
            for p in pts.values():
                parent = pts.get(p["parent"])
                if parent is not None:
                    ax.annotate("", xy=(p["cost"], 100 * p["error"]),
                                xytext=(parent["cost"], 100 * parent["error"]),
                                arrowprops={"arrowstyle": "->", "color": c, "alpha": 0.3,
                                            "linewidth": 0.6})
    metric = snaps[0]["cost_metric"]
    if all(s["log_cost"] for s in snaps):
        ax.set_xscale("log")
    ax.set_xlabel(UNITS.get(metric, metric) + (" (log scale)" if snaps[0]["log_cost"] else ""))
    ax.set_ylabel("validation error (%)")
    ax.grid(True, which="both", linewidth=0.3, alpha=0.5)
    ax.legend(fontsize="small", frameon=False)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(file_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="frontier.png",
              show_default=True, help="Figure file; the extension picks the format "
                                      "(.png, .svg, .pdf).")
@click.option("--cost", type=click.Choice(sorted(UNITS)), default=None,
              help="Cost axis (default: the first run's hull.cost).")
@click.option("--lineage", is_flag=True, help="Draw an arrow from each parent to its child.")
def plot(run_dirs, output, cost, lineage):
    """Plot the frontier of one or more runs (overlaid) to a PNG/SVG/PDF file."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PetriError("`petri plot` needs matplotlib: pip install 'petri[plot]'") from None
    from petri.status import snapshot

    snaps = [snapshot(d, cost_metric=cost) for d in run_dirs]
    draw(snaps, [Path(d).name for d in run_dirs], Path(output), lineage)
    click.echo(f"wrote {output}")
