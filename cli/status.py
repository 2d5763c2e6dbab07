"""`petri status`: what a run is doing, as tables or JSON. Reads the store read-only."""
from __future__ import annotations

import json

import click

from petri.errors import PetriError

FAILURES_NAMED = 5  # failed jobs named in the error line; all are counted


def fmt_cost(v) -> str:
    if v is None:
        return "-"
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= div:
            return f"{v / div:.2f}{unit}"
    return f"{v:g}"


def jobs_table(snap: dict, title: str | None = None):
    """Running jobs with a progress bar, loss, throughput and ETA."""
    from rich import box
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    # Inside the live view's panel a borderless table; standing alone, a boxed one.
    t = Table(title=title, expand=True, box=box.HEAVY_HEAD if title else None,
              header_style="bold")
    for col in ("job", "kind", "device", "try", "progress", "", "loss", "img/s", "ETA"):
        t.add_column(col, no_wrap=True)
    for w in snap["workers"]:
        if w["step"] is not None and w["total_steps"]:
            bar = ProgressBar(total=w["total_steps"], completed=w["step"], width=16)
            prog = f"{w['step']}/{w['total_steps']}"
            if w["phase"] not in (None, "train"):  # the evaluation counts its own batches
                prog = f"{w['phase']} {prog}"
        else:
            bar, prog = "", w["phase"] or "starting"
        t.add_row(str(w["job_id"]), w["kind"], f"{w['worker']} {w['device']}",
                  str(w["attempt"]), bar, prog, f"{w['loss']:.3f}" if w["loss"] else "-",
                  f"{w['images_per_s']:.0f}" if w["images_per_s"] else "-",
                  f"{w['eta_s']:.0f}s" if w["eta_s"] is not None else "-")
    return t


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


def render(snap: dict):
    """The snapshot as rich renderables (no I/O here: the live view reuses this)."""
    from rich.console import Group
    from rich.markup import escape
    from rich.table import Table

    d = snap["daemon"]
    head = Table.grid(padding=(0, 2))
    state = ("[green]running[/] (pid %s)" % d["pid"]) if d["state"] == "running" else \
        f"[yellow]stopped[/] (last: {d['last_state'] or 'never started'})"
    j = snap["jobs"]
    head.add_row("daemon", state, "jobs", "  ".join(f"{k} {v}" for k, v in j.items()),
                 done_label(j) if snap["done"] else "")
    eta = snap["eta_s"]
    head.add_row("progress", run_progress(snap) +
                 ("" if eta is None else f", about {eta / 60:.0f} min to go"))
    if d.get("slots"):
        head.add_row("slots", d["slots"])
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
        for f in snap["failures"]:
            t.add_row(str(f["job_id"]), f["kind"], str(f["attempts"]), f["fail_class"] or "-",
                      f["error"])
        parts.append(t)
    front = set(snap["frontier"])
    if snap["points"]:
        t = Table(title=f"frontier ({len(front)} of {len(snap['points'])} points; cost = "
                        f"{snap['cost_metric']})")
        for col in ("point", "cost", "val error", "params", "parent", "stage"):
            t.add_column(col)
        for p in sorted((p for p in snap["points"] if p["id"] in front), key=lambda p: p["cost"]):
            t.add_row(str(p["id"]), fmt_cost(p["cost"]), f"{100 * p['error']:.2f}%",
                      fmt_cost(p["params"]), str(p["parent"] or "-"), p["stage"] or "")
        parts.append(t)
    return Group(*parts)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False), default=".")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable snapshot.")
@click.option("--watch", "live", is_flag=True, help="The live view (same as `petri watch`).")
def status(run_dir, as_json, live):
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

    Console().print(render(snap))
