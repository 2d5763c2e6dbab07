"""`petri status`: what a run is doing, as tables or JSON. Reads the store read-only."""
from __future__ import annotations

import json

import click

from petri.cli.options import RunPath
from petri.errors import PetriError

FAILURES_NAMED = 5  # failed jobs named in the error line; all are counted
TABLE_ROWS = 20  # rows of a table `petri status` prints without --all


def fmt_cost(v) -> str:
    if v is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:.4g}"  # a latency in ms needs no more to rank


def jobs_table(snap: dict, title: str | None = None):
    """Running jobs with a progress bar, loss, throughput and ETA; at a narrow width the bar,
    the slot, the try and then loss and throughput give way (see `Fitted`)."""
    from rich import box
    from rich.progress_bar import ProgressBar

    from petri.cli.tables import Column, Fitted

    ws = snap["workers"]

    def bar(w):
        if w["step"] is not None and w["total_steps"]:
            return ProgressBar(total=w["total_steps"], completed=w["step"], width=16)
        return ""

    def done(w):
        if w["step"] is not None and w["total_steps"]:
            steps = f"{w['step']}/{w['total_steps']}"
            # the evaluation counts its own batches
            return steps if w["phase"] in (None, "train") else f"{w['phase']} {steps}"
        return w["phase"] or "starting"

    cols = [Column("job", tuple(str(w["job_id"]) for w in ws)),
            Column("kind", tuple(w["kind"] for w in ws)),
            Column("slot", tuple(f"{w['worker']} {w['device']}" for w in ws), drop=3),
            Column("try", tuple(str(w["attempt"]) for w in ws), drop=2),
            Column("progress", tuple(bar(w) for w in ws), drop=4),
            Column("steps", tuple(done(w) for w in ws)),
            Column("loss", tuple(f"{w['loss']:.3f}" if w["loss"] else "-" for w in ws),
                   drop=1),
            Column("img/s", tuple(f"{w['images_per_s']:.0f}" if w["images_per_s"] else "-"
                                  for w in ws), drop=1, justify="right"),
            Column("ETA", tuple(f"{w['eta_s']:.0f}s" if w["eta_s"] is not None else "-"
                                for w in ws), justify="right")]
    # Inside the live view's panel a borderless table; standing alone, a boxed one.
    return Fitted(cols, title=title, expand=True, box=box.HEAVY_HEAD if title else None,
                  header_style="bold")


def done_label(jobs: dict) -> str:
    """"done", or "done with N failed": a run whose jobs failed is no plain success."""
    return f"done with {jobs['failed']} failed" if jobs.get("failed") else "done"


def check_failures(run_dir, failed: list[tuple[str, str]]) -> None:
    """Exit non-zero from a command that ran or watched a run whose jobs failed, naming them
    (`failed`: a label and the stored reason of each)."""
    if not failed:
        return
    named = "; ".join(f"{label}: {reason or 'no reason stored'}"
                      for label, reason in failed[:FAILURES_NAMED])
    more = f"; and {len(failed) - FAILURES_NAMED} more" if len(failed) > FAILURES_NAMED else ""
    raise PetriError(f"{len(failed)} job(s) of {run_dir} failed ({named}{more}); "
                     f"`petri status {run_dir}` lists them")


def run_progress(snap: dict) -> str:
    """"13 of 20 points" where the algorithm plans a number, else "13 points"."""
    n, planned = len(snap["points"]), snap["planned_points"]
    return f"{n} of {planned} points" if planned else f"{n} points"


def eta_text(snap: dict) -> str:
    """"about 12 min", or "8-14 min" where the estimate is uncertain (hours past 2 h)."""
    span = snap["eta_range_s"] or [snap["eta_s"]] * 2
    unit, div = ("h", 3600) if span[1] >= 7200 else ("min", 60)
    lo, hi = (f"{v / div:.{1 if unit == 'h' else 0}f}" for v in span)
    return f"about {lo} {unit}" if lo == hi else f"{lo}-{hi} {unit}"


def shown(rows: list, limit: int | None) -> list:
    """At most `limit` (2 or more) of `rows` (None: all), spread evenly over them and keeping the first
    and the last: for a frontier sorted by cost, its cheapest and its most accurate point
    and the trade-offs between."""
    if limit is None or len(rows) <= limit:
        return rows
    return [rows[round(k * (len(rows) - 1) / (limit - 1))] for k in range(limit)]


def more_row(table, total: int, limit: int | None) -> None:
    """The line that says how many rows a capped table left out."""
    if limit is not None and total > limit:
        table.add_row(f"… and {total - limit} more", style="dim")


def render(snap: dict, rows: int | None = TABLE_ROWS):
    """The snapshot as rich renderables (no I/O here: the live view reuses this); each table
    holds at most `rows` rows (None: all)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    from petri.io import fmt_bytes

    d = snap["daemon"]
    head = Table.grid(padding=(0, 2))
    state = ("[green]running[/] (pid %s)" % d["pid"]) if d["state"] == "running" else \
        f"[yellow]stopped[/] (last: {d['last_state'] or 'never started'})"
    head.add_row("daemon", state + (f"  [bold]{done_label(snap['jobs'])}[/]"
                                    if snap["done"] else ""))
    head.add_row("jobs", "  ".join(f"{k} {v}" for k, v in snap["jobs"].items()))
    head.add_row("progress", run_progress(snap) + (f", {eta_text(snap)} to go"
                                                   if snap["eta_s"] is not None else ""))
    if d.get("slots"):
        head.add_row("slots", d["slots"])
    head.add_row("disk", fmt_bytes(snap["disk_bytes"]))
    if snap["skipped"]["proposals"]:
        head.add_row("constraints", f"{snap['skipped']['proposals']} proposal(s) skipped "
                                    f"(last: {snap['skipped']['last']})")
    parts = [head]
    if d["state"] != "running" and (d.get("error") or d.get("crashed")) and not snap["done"]:
        why = f"the daemon died: {d['error']}" if d.get("error") else \
            "the daemon died without stopping (killed, or the machine went down)"
        parts.append(f"[red]{escape(why)}[/]\n`petri resume {escape(snap['run_dir'])}` "
                     f"continues from the last checkpoints once the cause is fixed")
    if snap["workers"]:
        parts.append(jobs_table(snap, title="running jobs"))
    if snap["failures"]:
        t = Table(title="failed jobs", expand=True)
        for col in ("job", "kind", "tries", "class", "reason"):
            t.add_column(col)
        for f in snap["failures"][:rows]:
            t.add_row(str(f["job_id"]), f["kind"], str(f["attempts"]), f["fail_class"] or "-",
                      f["error"])
        more_row(t, len(snap["failures"]), rows)
        parts.append(t)
    front = set(snap["frontier"])
    if snap["points"]:
        t = Table(title=f"frontier ({len(front)} of {len(snap['points'])} points; cost = "
                        f"{snap['cost_metric']})")
        for col in ("point", "cost", "val error", "params", "parent", "stage"):
            t.add_column(col)
        on_front = sorted((p for p in snap["points"] if p["id"] in front),
                          key=lambda p: p["cost"])
        for p in shown(on_front, rows):
            t.add_row(str(p["id"]), fmt_cost(p["cost"]), f"{100 * p['error']:.2f}%",
                      fmt_cost(p["params"]), str(p["parent"] or "-"), p["stage"] or "")
        more_row(t, len(on_front), rows)
        parts.append(t)
        if snap["latency_target"]:
            parts.append(f"latency measured on {escape(snap['latency_target'])}")
    return Group(*parts)


@click.command()
@click.argument("run_dir", type=RunPath(), default=".")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable snapshot.")
@click.option("--watch", "live", is_flag=True, help="The live view (same as `petri watch`).")
@click.option("--all", "all_rows", is_flag=True,
              help=f"Every row of each table (without it: {TABLE_ROWS}, spread over the "
                   f"frontier from its cheapest to its most accurate point).")
def status(run_dir, as_json, live, all_rows):
    """Jobs by state, workers, failures and the frontier of RUN_DIR."""
    from petri.status import snapshot

    if live:
        from petri.cli.live import watch

        watch(run_dir)
        return
    snap = snapshot(run_dir, verify=True)
    if as_json:
        click.echo(json.dumps(snap, indent=1))
        return
    from rich.console import Console

    Console().print(render(snap, None if all_rows else TABLE_ROWS))
