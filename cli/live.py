"""`petri watch`: a full-screen live view of a run, read-only, redrawn only when it changes.

Model and view are apart (as in nvitop): `petri.status.snapshot` reads the store into a plain
dict; `frame` turns a snapshot into rich renderables for a given terminal size and is pure,
so tests render it to a recorded console. The terminal scatter is plotext's, rendered into rich.
"""
from __future__ import annotations

import json
import signal
import threading
import time

import click

from petri.cli.status import done_label, fmt_cost, jobs_table, run_progress
from petri.hull import snapshot_priced

# Height of the header and of the parts below the plot: bottom row (slots + events).
HEADER_ROWS = 2
BOTTOM_ROWS = 7
MIN_PLOT_ROWS = 8


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def newest(snap: dict) -> int | None:
    """The point that landed last among those plotted (ids follow the plan, not time)."""
    pts = snapshot_priced(snap["points"])
    return max(pts, key=lambda p: (p["created"], p["id"]))["id"] if pts else None


def frontier_plot(snap: dict, width: int, height: int) -> "Text":
    """Error against cost: every point, the eps band, the hull as a line, the newest point."""
    import plotext as plt
    from rich.text import Text

    pts = {p["id"]: p for p in snapshot_priced(snap["points"])}
    if not pts:
        return Text("no trained point yet", style="dim")
    fig = plt.figure
    fig.clear()
    plt.terminal.limit(False, False)
    fig.plot_size(max(20, width), max(MIN_PLOT_ROWS, height))
    fig.theme("clear")
    fig.canvas("default")

    def draw(ids, glyph, color, lines=False):
        ids = [i for i in ids if i in pts]
        if not ids:
            return
        xs = [pts[i]["cost"] for i in ids]
        ys = [100 * pts[i]["error"] for i in ids]
        sig = fig.signal(xs, ys, marker=plt.marker(glyph, plt.pixel(foreground=color)))
        fig.draw(sig.lines() if lines else sig)

    # The legend is a line of rich text under the plot: plotext drops its own on small plots.
    hull, band = snap["hull"], set(snap["band"])
    draw(hull, "hd", "green", lines=True)
    draw([i for i in pts if i not in band], "•", "white")
    draw([i for i in band if i not in hull], "•", "yellow")
    draw(hull, "o", "green")
    draw([newest(snap)], "x", "red")
    # One cost has no range to log: plotext pads it by ±1, below zero for a cost under 1 (ms).
    log = snap["log_cost"] and len({p["cost"] for p in pts.values()}) > 1
    if log:
        fig.ruler("x").scale("log")
    unit = {"macs": "MACs", "params": "params", "activation_bytes": "activation bytes",
            "latency_ms": "latency ms"}
    fig.label(f"cost: {unit.get(snap['cost_metric'], snap['cost_metric'])}"
              f"{' (log axis)' if log else ''}", axis="x")
    fig.label("val error %", axis="y")
    return Text.from_ansi(fig.build().string(colorless=False).rstrip("\n"))


def legend(snap: dict) -> "Text":
    from rich.text import Text

    t = Text(no_wrap=True, overflow="ellipsis")
    entries = [("o", "green", "hull"), ("•", "yellow", f"eps band {snap['eps']:g}"),
               ("•", "white", "point")]
    last = newest(snap)
    if last is not None:
        entries.append(("x", "red", f"newest #{last}"))
    for glyph, style, label in entries:
        t.append(f" {glyph} ", style=style)
        t.append(label + " ")
    return t



def _header(snap: dict):
    """Two lines, so that 80 columns hold it whole: the run, then its jobs and compute."""
    from rich.text import Text

    d = snap["daemon"]
    t = Text(no_wrap=True, overflow="ellipsis")
    if snap["done"]:
        t.append(f"● search {done_label(snap['jobs'])}",
                 style="bold red" if snap["jobs"]["failed"] else "bold green")
    elif d["state"] == "running":
        t.append(f"● daemon running (pid {d['pid']})", style="green")
    else:
        t.append(f"● daemon stopped (last: {d['last_state'] or 'never started'})",
                 style="bold yellow")
    t.append(f" │ {run_progress(snap)}", style="bold")
    if snap["eta_range_s"] is not None:
        t.append(f" │ ETA {'-'.join(map(_duration, snap['eta_range_s']))}")
    elif snap["eta_s"] is not None:
        t.append(f" │ ETA {_duration(snap['eta_s'])}")
    j = snap["jobs"]
    t.append(f"\njobs queued {j['queued']} running {j['running']} done {j['done']}")
    if j["failed"]:
        t.append(f" failed {j['failed']}", style="red")
    t.append(f" │ frontier {len(snap['frontier'])} │ compute {_duration(snap['compute_s'])}")
    return t


def _tested(snap: dict) -> bool:
    """An evaluation run (`petri eval`): its points carry test errors."""
    return any(p["test_error"] is not None for p in snap["points"])


def _points_table(snap: dict, rows: int):
    """The frontier by cost; for an evaluation run, every model as it finishes, with its
    test accuracy."""
    from rich.table import Table

    t = Table(expand=True, box=None, padding=(0, 1), header_style="bold")
    tested = _tested(snap)
    cols = ("#", snap["cost_metric"], "val acc", "test acc") if tested else \
        ("#", snap["cost_metric"], "error", "stage")
    for col in cols:
        t.add_column(col, no_wrap=True)
    by_id = {p["id"]: p for p in snap["points"]}
    if tested:  # the newest last, so the rows that fit are the latest results
        ids = sorted(by_id, key=lambda i: (by_id[i]["created"], i))[-max(1, rows):]
    else:
        ids = sorted(snap["frontier"], key=lambda i: by_id[i]["cost"])[:max(1, rows)]
    last = newest(snap)

    def pct(err):
        return "-" if err is None else f"{100 * err:.2f}%"

    for i in ids:
        p = by_id[i]
        style = "bold red" if i == last else ("green" if i in snap["hull"] else "")
        tail = (pct(None if p["error"] is None else 1 - p["error"]),
                pct(None if p["test_error"] is None else 1 - p["test_error"])) if tested \
            else (pct(p["error"]), p["stage"] or "")
        t.add_row(str(i), fmt_cost(p["cost"]), *tail, style=style)
    return t


def _slots(snap: dict, gpus):
    from rich.table import Table

    t = Table(expand=True, box=None, padding=(0, 1), header_style="bold")
    if gpus:
        for col in ("gpu", "util", "memory"):
            t.add_column(col, no_wrap=True)
        for g in gpus:
            used = g.mem_total - g.mem_free
            t.add_row(f"{g.index} {g.name}", "-" if g.util is None else f"{g.util}%",
                      f"{used / 2**30:.1f}/{g.mem_total / 2**30:.1f} GiB")
    elif snap["workers"]:
        for col in ("slot", "job", "cpu", "memory"):
            t.add_column(col, no_wrap=True)
        for w in sorted(snap["workers"], key=lambda w: w["worker"] or ""):
            cpu = w["cpu_percent"]
            mem = w["rss_bytes"]
            t.add_row(w["worker"] or "-", f"#{w['job_id']}",
                      "-" if cpu is None else f"{cpu:.0f}%",
                      "-" if mem is None else f"{mem / 2**30:.2f} GiB")
    else:
        t.add_column("slots", no_wrap=False)
        t.add_row(snap["daemon"].get("slots") or "no slots yet")
    return t


def _events(snap: dict, rows: int):
    from rich.text import Text

    t = Text(no_wrap=True, overflow="ellipsis")
    for e in snap["events"][-rows:]:
        stamp = time.strftime("%H:%M:%S", time.localtime(e["t"]))
        style = "red" if e["kind"] in ("failed", "lost") else ""
        t.append(f"{stamp} {e['message']}\n", style=style)
    return t


def frame(snap: dict, width: int, height: int, gpus=None):
    """The whole screen for one snapshot at `width`×`height` (pure: no I/O)."""
    from rich.console import Group
    from rich.layout import Layout
    from rich.panel import Panel

    jobs_rows = min(len(snap["workers"]), 6) + 3 if snap["workers"] else 3
    plot_rows = max(MIN_PLOT_ROWS, height - HEADER_ROWS - jobs_rows - BOTTOM_ROWS)
    wide = width >= 110
    plot_w = (width * 3 // 5 if wide else width) - 2
    root = Layout()
    root.split_column(Layout(_header(snap), size=HEADER_ROWS),
                      Layout(name="main", size=plot_rows),
                      Layout(name="jobs", size=jobs_rows), Layout(name="bottom", size=BOTTOM_ROWS))
    plot = Panel(Group(frontier_plot(snap, plot_w, plot_rows - 3), legend(snap)),
                 title=f"frontier of {snap['run_dir']}", padding=0)
    table = Panel(_points_table(snap, plot_rows - 3),
                  title="models evaluated" if _tested(snap) else "frontier points")
    if wide:
        root["main"].split_row(Layout(plot, ratio=3), Layout(table, ratio=2))
    else:  # room for one: an evaluation's results, else the frontier
        root["main"].update(table if _tested(snap) else plot)
    root["jobs"].update(Panel(jobs_table(snap) if snap["workers"] else "no job running",
                              title="running jobs", padding=0))
    root["bottom"].split_row(Layout(Panel(_slots(snap, gpus), title="slots"), ratio=2),
                             Layout(Panel(_events(snap, BOTTOM_ROWS - 2), title="events"),
                                    ratio=3))
    return root


def _signature(snap: dict) -> str:
    """What decides the picture; progress ages tick every second and are left out."""
    return json.dumps({**snap, "workers": [{k: v for k, v in w.items() if k != "progress_age_s"}
                                           for w in snap["workers"]]}, sort_keys=True,
                      default=str)


def watch(run_dir: str, interval: float = 0.5, exit_when_done: bool = False) -> dict:
    """Show the live view until Ctrl-C (or the run is done, when asked); the last snapshot."""
    from rich.console import Console
    from rich.live import Live

    from petri.daemon.slots import query_gpus
    from petri.status import snapshot, with_cpu_percent

    console = Console()
    snap = snapshot(run_dir)
    gpus, gpus_at, shown = None, 0.0, None
    # Ctrl-C sets a flag the loop reads, rather than raising wherever the main thread is: a
    # KeyboardInterrupt raised inside the store's or rich's code may be caught and lost there.
    quit_ = threading.Event()
    main = threading.current_thread() is threading.main_thread()  # where handlers can go
    previous = signal.signal(signal.SIGINT, lambda *_: quit_.set()) if main else None
    try:
        with Live(console=console, screen=True, auto_refresh=False, transient=False) as live:
            while True:
                if time.time() - gpus_at > 2.0:
                    gpus, gpus_at = query_gpus(), time.time()
                key = (_signature(snap), console.size, repr(gpus))
                if key != shown:
                    live.update(frame(snap, console.size.width, console.size.height, gpus),
                                refresh=True)
                    shown = key
                if exit_when_done and (snap["done"] or snap["daemon"]["state"] != "running"):
                    break
                if quit_.wait(interval):
                    break
                snap = with_cpu_percent(snapshot(run_dir), snap)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous or signal.SIG_DFL)
    return snap


@click.command("watch")
@click.argument("run_dir", type=click.Path(file_okay=False), default=".")
@click.option("--interval", type=float, default=0.5, show_default=True,
              help="Seconds between reads of the store.")
@click.option("--exit-when-done", is_flag=True, help="Leave once the daemon stops.")
def watch_cmd(run_dir, interval, exit_when_done):
    """A live, full-screen view of RUN_DIR: frontier, jobs, slots and events (Ctrl-C quits)."""
    from petri.store.store import RunStore

    RunStore.open(run_dir, readonly=True).close()  # a wrong dir: one clear error, before the screen
    watch(run_dir, interval, exit_when_done)
