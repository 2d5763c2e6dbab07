"""`petri ls`: the runs under a directory, one line each (like `optuna studies`)."""
from __future__ import annotations

import json
from pathlib import Path

import click


def find_runs(root: Path, depth: int = 3) -> list[Path]:
    """Run dirs (see `RunDir.is_run`) at most `depth` levels below `root`."""
    from petri.rundir import RunDir

    found, frontier = [], [root]
    for _ in range(depth + 1):
        nxt = []
        for d in frontier:
            if RunDir(d).is_run():
                found.append(d)
                continue  # a run's own folders (jobs/) hold no runs
            try:
                nxt += sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith("."))
            except OSError:
                pass
        frontier = nxt
    return sorted(found)


def summary(run: Path) -> dict:
    """The facts `petri ls` shows; a run it cannot read is listed with the reason."""
    from petri.config import read_yaml
    from petri.errors import PetriError
    from petri.rundir import RunDir
    from petri.status import snapshot

    try:
        algo = read_yaml(RunDir(run).config).get("algo")
        snap = snapshot(run, events=1)
    except PetriError as e:
        return {"run_dir": str(run), "state": "unreadable", "error": str(e)}
    d = snap["daemon"]
    state = ("running" if d["state"] == "running" else "done" if snap["done"]
             else "crashed" if d["crashed"] else "stopped")
    last = snap["events"][-1]["message"] if snap["events"] else ""
    return {"run_dir": str(run), "state": state, "algo": algo, "points": len(snap["points"]),
            "frontier": len(snap["frontier"]), "jobs": snap["jobs"],
            "compute_s": round(snap["compute_s"], 1), "disk_bytes": snap["disk_bytes"],
            "last_event": last}


@click.command("ls")
@click.argument("root", type=click.Path(file_okay=False, exists=True), required=False)
@click.option("--json", "as_json", is_flag=True, help="One JSON list for scripts.")
def ls(root, as_json):
    """The runs under ROOT (default: runs/ if it exists, else the current directory)."""
    root = Path(root or ("runs" if Path("runs").is_dir() else "."))
    rows = [summary(r) for r in find_runs(root)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo(f"no petri runs under {root}; start one with `petri run petridish`")
        return
    from rich.console import Console
    from rich.table import Table

    from petri.cli.status import done_label
    from petri.io import fmt_bytes

    t = Table(box=None, header_style="bold", title=f"runs under {root}", title_justify="left")
    t.add_column("run", overflow="fold")  # long paths wrap; the short facts stay whole
    for col in ("state", "algo", "points", "frontier", "compute", "disk"):
        t.add_column(col, no_wrap=True, min_width=len(col))
    t.add_column("last event", overflow="fold")
    for r in rows:
        name = str(Path(r["run_dir"]).relative_to(root))
        if r["state"] == "unreadable":
            t.add_row(name, "[red]unreadable[/]", "", "", "", "", "", r["error"])
            continue
        color = {"running": "green", "done": "cyan", "crashed": "red"}.get(r["state"], "yellow")
        state = r["state"]
        if state == "done" and r["jobs"]["failed"]:
            state, color = done_label(r["jobs"]), "red"
        t.add_row(name, f"[{color}]{state}[/]", str(r["algo"]), str(r["points"]),
                  str(r["frontier"]), f"{r['compute_s'] / 60:.1f} min",
                  fmt_bytes(r["disk_bytes"]), r["last_event"])
    Console().print(t)
