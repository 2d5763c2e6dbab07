"""`petri plot RUN [RUN ...] -o frontier.png`: a publication-quality frontier figure.

Every point, the lower convex hull as a line, the Pareto frontier highlighted, optional
lineage arrows (parent to child), several runs overlaid in distinct colours. With
`--hv-curve`, hypervolume against compute spent instead: one thin line per run and the mean
per algorithm, in the frame `petri compare` uses. matplotlib is an optional extra
(`pip install -e '.[plot]'`); it is imported only here.
"""
from __future__ import annotations

import os
from pathlib import Path

import click

from petri.cli.compare import frame_option
from petri.cli.options import RunPath, cost_option
from petri.cli.status import fmt_cost
from petri.hull import snapshot_priced
from petri.errors import PetriError, install_extra

UNITS = {"macs": "multiply-accumulates (MACs)", "params": "parameters",
         "activation_bytes": "peak activation memory (bytes)",
         "latency_ms": "latency (ms, measured)"}


def check_output(out: Path) -> None:
    """Fail before any work when the figure could not be written."""
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    if out.suffix.lower().lstrip(".") not in formats:
        raise PetriError(f"cannot write {out}: unknown figure format "
                         f"{out.suffix or '(no extension)'}; use .png, .svg or .pdf (or "
                         f"{', '.join('.' + f for f in sorted(formats))})")
    folder = out.parent
    if not folder.is_dir():
        raise PetriError(f"cannot write {out}: {folder} is not an existing directory")
    if not os.access(folder, os.W_OK):
        raise PetriError(f"cannot write {out}: directory {folder} is not writable")


def _axes():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=150)
    return plt, fig, ax, plt.rcParams["axes.prop_cycle"].by_key()["color"]


def _save(plt, fig, ax, out: Path) -> None:
    fig.tight_layout()
    try:
        fig.savefig(out)
    except OSError as e:  # a full disk or a folder that vanished after the checks
        raise PetriError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        plt.close(fig)


def _finish(ax, handles=None) -> None:
    ax.grid(True, which="major", linewidth=0.3, alpha=0.5)
    ax.legend(handles=handles, fontsize="small", frameon=False)


def tick_label(v: float) -> str:
    """A short cost label: 300, 2.5k, 40M."""
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.3g}{unit}"
    return f"{v:.3g}"


def log_ticks(lo: float, hi: float, most: int = 6) -> list[float]:
    """Ticks for a log axis over [lo, hi] that never crowd: the densest of 1-2-5, 1-3 and
    powers of ten that gives at most `most`, then every k-th power of ten; inside one
    factor of ten, evenly spaced round values."""
    import math

    from matplotlib.ticker import MaxNLocator

    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for subs in ((1, 2, 5), (1, 3), (1,)):
        ticks = [m * 10.0 ** e for e in range(first, last + 1) for m in subs
                 if lo <= m * 10.0 ** e <= hi]
        if 2 <= len(ticks) <= most:
            return ticks
    if len(ticks) > most:
        step = math.ceil(len(ticks) / most)
        return ticks[::step]
    return [t for t in MaxNLocator(4).tick_values(lo, hi) if lo <= t <= hi]


def _cost_axis(ax, log: bool) -> None:
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    if log:
        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ax.xaxis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor ticks stay, unlabelled
        ax.set_xlim(lo, hi)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_label(v)))


def figure(snaps: list[dict], labels: list[str], lineage: bool = False, ids: bool = False):
    """The frontiers of `snaps` on one axes: (pyplot, figure, axes)."""
    from matplotlib.lines import Line2D

    plt, fig, ax, colours = _axes()
    for k, (snap, label) in enumerate(zip(snaps, labels)):
        c = colours[k % len(colours)]
        pts = {p["id"]: p for p in snapshot_priced(snap["points"])}
        if not pts:
            continue
        front_ids, band = set(snap["frontier"]), set(snap["band"])
        other = [p for i, p in pts.items() if i not in front_ids and i not in band]
        ax.scatter([p["cost"] for p in other], [100 * p["error"] for p in other],
                   s=12, color=c, alpha=0.35, linewidths=0)
        near = [p for i, p in pts.items() if i in band and i not in front_ids]
        ax.scatter([p["cost"] for p in near], [100 * p["error"] for p in near], s=22,
                   facecolors="none", edgecolors=c, linewidths=0.8, zorder=3)
        front = [pts[i] for i in snap["frontier"] if i in pts]
        ax.scatter([p["cost"] for p in front], [100 * p["error"] for p in front], s=22,
                   color=c, label=f"{label} (frontier {len(front)} of {len(pts)})", zorder=3)
        if ids:
            for p in pts.values():
                ax.annotate(str(p["id"]), (p["cost"], 100 * p["error"]), xytext=(3, 3),
                            textcoords="offset points", fontsize=5, color=c)
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
    log = all(s["log_cost"] for s in snaps)
    _cost_axis(ax, log)
    ax.set_xlabel(UNITS.get(metric, metric) + (" (log scale)" if log else ""))
    ax.set_ylabel("validation error (%)")
    # What the marks mean, in grey beside the runs' colours.
    grey, eps = "0.4", ", ".join(sorted({f"{s['eps']:g}" for s in snaps}))
    keys = [Line2D([], [], color=grey, linewidth=1.2, label="lower convex hull"),
            Line2D([], [], linestyle="none", marker="o", markerfacecolor="none",
                   markeredgecolor=grey, label=f"within the hull's eps band ({eps})"),
            Line2D([], [], linestyle="none", marker="o", markersize=3, color=grey, alpha=0.5,
                   label="other points")]
    if lineage:
        keys.append(Line2D([], [], linestyle="none", marker=r"$\rightarrow$", markersize=10,
                           color=grey, label="lineage (parent to child)"))
    _finish(ax, ax.get_legend_handles_labels()[0] + keys)
    return plt, fig, ax


def draw(snaps: list[dict], labels: list[str], out: Path, lineage: bool = False,
         ids: bool = False) -> None:
    plt, fig, ax = figure(snaps, labels, lineage, ids)
    _save(plt, fig, ax, out)


def draw_hv_curves(result: dict, metric: str, out: Path) -> None:
    """`petri compare`'s curves: each run's steps (thin) and each algorithm's mean (thick)."""
    plt, fig, ax, colours = _axes()
    for k, g in enumerate(result["groups"]):
        c = colours[k % len(colours)]
        for r in (r for r in result["runs"] if r["algo"] == g["algo"]):
            ax.step([s / 60 for s, _, _ in r["curve"]], [h for _, _, h in r["curve"]],
                    where="post", color=c, alpha=0.3, linewidth=0.7)
        ax.step([x / 60 for x, _ in g["curve"]], [h for _, h in g["curve"]], where="post",
                color=c, linewidth=1.8, label=f"{g['algo']} (mean of {g['runs']} runs)")
    fr = result["frame"]
    ax.set_title(f"frame: {UNITS.get(metric, metric)} {fmt_cost(fr['min_cost'])} to "
                 f"{fmt_cost(fr['max_cost'])} ({fr['source']})", fontsize="small")
    ax.set_xlabel("compute spent (minutes of job training time)")
    ax.set_ylabel("hypervolume (normalised)")
    _finish(ax)
    _save(plt, fig, ax, out)


@click.command()
@click.argument("run_dirs", nargs=-1, required=True, type=RunPath())
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="frontier.png",
              show_default=True, help="Figure file; the extension picks the format "
                                      "(.png, .svg, .pdf).")
@cost_option("Cost axis (default: the first run's hull.cost).")
@click.option("--lineage", is_flag=True, help="Draw an arrow from each parent to its child.")
@click.option("--ids", is_flag=True, help="Write each point's id beside it.")
@click.option("--hv-curve", is_flag=True,
              help="Plot hypervolume against compute spent, per algorithm, instead of the "
                   "frontiers (the frame and scores of `petri compare`).")
@frame_option
def plot(run_dirs, output, cost, lineage, ids, hv_curve, frame):
    """Plot the frontier of one or more runs (overlaid) to a PNG/SVG/PDF file."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PetriError(f"`petri plot` needs matplotlib: {install_extra('plot')}") from None
    if hv_curve and (cost or lineage or ids):
        raise click.UsageError("--cost, --lineage and --ids draw frontiers; --hv-curve uses "
                               "the runs' hull.cost")
    if frame and not hv_curve:
        raise click.UsageError("--frame applies to --hv-curve only")
    out = Path(output)
    check_output(out)
    if hv_curve:
        from petri.cli.compare import load
        from petri.compare import compare

        runs, cfgs, fr = load(run_dirs, frame)
        draw_hv_curves(compare(runs, cfgs, [], fr), runs[0]["cost_metric"], out)
    else:
        from petri.status import snapshot

        snaps = [snapshot(d, cost_metric=cost) for d in run_dirs]
        draw(snaps, [Path(d).name for d in run_dirs], out, lineage, ids)
    click.echo(f"wrote {output}")
