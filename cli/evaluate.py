"""`petri eval GALLERY --config CFG`: train a gallery's models longer as daemon jobs and report
their test accuracy. The evaluation is a run of its own (default `runs/eval-<gallery>`):
interrupt it, `petri eval` again (or `petri resume`) and it continues."""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import click

from petri.cli.options import set_option
from petri.cli.status import check_failures, fmt_cost


def results(run_dir: Path) -> list[dict]:
    """One row per gallery model: its job's state and, once trained, its cost and errors."""
    from petri.status import last_line
    from petri.store.store import RunStore

    with RunStore.open(run_dir, readonly=True) as store:
        points = store.view.points()
        jobs = store.view.jobs()
    done = {p.lineage.get("gallery_id"): p for p in points}
    rows = []
    for j in jobs:
        gid = j.spec.get("gallery_id")
        p = done.get(gid)
        rows.append({"gallery_id": gid, "state": j.state if p is None else "done",
                     "point": p and p.id, "params": p and p.params, "macs": p and p.macs,
                     "search_val_error": p and p.lineage.get("search_val_error"),
                     "val_error": p and p.val_error, "test_error": p and p.test_error,
                     "error": last_line(j.error) if j.state == "failed" else None})
    return rows


def failed_models(rows: list[dict]) -> list[tuple[str, str]]:
    return [(f"model {r['gallery_id']}", r["error"]) for r in rows if r["state"] == "failed"]


def results_table(run_dir: Path, rows: list[dict]):
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=f"evaluation of {run_dir}")
    for col in ("gallery id", "params", "MACs", "search val error", "eval val error",
                "test accuracy"):
        t.add_column(col)
    for r in rows:
        if r["state"] == "failed":  # with its reason: "failed" alone says nothing to fix
            t.add_row(str(r["gallery_id"]), "-", "-", "-", "-",
                      f"[red]failed: {escape(r['error'] or 'no reason stored')}[/]")
            continue
        if r["point"] is None:
            t.add_row(str(r["gallery_id"]), "-", "-", "-", "-", f"[yellow]{r['state']}[/]")
            continue
        t.add_row(str(r["gallery_id"]), fmt_cost(r["params"]), fmt_cost(r["macs"]),
                  _pct(r["search_val_error"]), _pct(r["val_error"]),
                  f"[bold]{100 * (1 - r['test_error']):.2f}%[/]")
    return t


def _pct(v) -> str:
    return "-" if v is None else f"{100 * v:.2f}%"


@click.command("eval")
@click.argument("gallery_path", type=click.Path(dir_okay=False))
@click.option("--config", "config", type=click.Path(dir_okay=False),
              help="An eval config, e.g. configs/eval_toy.yaml (needed to start an evaluation, "
                   "not to continue one).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the evaluation run lives (default: runs/eval-<gallery name>).")
@set_option("trainer.epochs=600")
@click.option("--detach", is_flag=True, help="Start the jobs and return; no live view.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the results as JSON instead of the live view and table (after the "
                   "evaluation ends; with --detach, as they stand).")
def evaluate(gallery_path, config, run_dir, sets, detach, as_json):
    """Train every model of GALLERY_PATH (scaled as CONFIG says) and report test accuracy."""
    from rich.console import Console

    from petri.cli.daemon import launch
    from petri.cli.live import watch
    from petri.daemon.lock import daemon_alive
    from petri.daemon.create import create_run
    from petri.launch import load_config
    from petri.rundir import RunDir

    gallery_path = Path(gallery_path).resolve()
    run_dir = Path(run_dir or Path("runs") / f"eval-{gallery_path.stem}")
    created = False
    if config is None and not RunDir(run_dir).config.exists():
        raise click.UsageError(f"missing --config: name an eval config for the gallery's "
                               f"data, e.g. --config {toy_eval_config()}")
    if config is None:
        check_same_gallery(run_dir, gallery_path)
    else:
        # Quoted, so YAML reads a path with `: ` or ` #` in it as the path it is.
        cfg = load_config(config, (*sets, f"eval.gallery={json.dumps(str(gallery_path))}"))
        if cfg.get("algo") != "eval":
            raise click.UsageError(f"{config} is not an eval config (algo: {cfg.get('algo')}); "
                                   f"use configs/eval_*.yaml")
        with_gallery_cost(cfg, gallery_path)
        created = create_run(cfg, run_dir)  # continuing is only for the same evaluation
    if not created:
        click.echo(f"{run_dir} already holds this evaluation: continuing it", err=as_json)
    snap_done = _done(run_dir)
    if not snap_done and daemon_alive(run_dir) is None:
        # With --json, stdout carries the JSON alone: what launch says goes to stderr.
        with contextlib.redirect_stdout(sys.stderr if as_json else sys.stdout):
            launch(run_dir, foreground=False)
    if as_json:
        if not (detach or snap_done):
            _wait(run_dir, gallery_path)
        rows = results(run_dir)
        click.echo(json.dumps({"run_dir": str(run_dir), "done": _done(run_dir),
                               "models": rows}, indent=1))
        check_failures(run_dir, failed_models(rows))
        return
    if detach:
        return
    if not snap_done:
        watch(str(run_dir), exit_when_done=True)
    rows = results(run_dir)
    Console().print(results_table(run_dir, rows))
    if not _done(run_dir):
        click.echo(f"the evaluation goes on in the background; `petri eval {gallery_path} "
                   f"--run-dir {run_dir}` shows it again")
    check_failures(run_dir, failed_models(rows))


def check_same_gallery(run_dir: Path, gallery_path: Path) -> None:
    """An existing evaluation continues only for the gallery it was begun on."""
    from petri.config import read_yaml
    from petri.errors import ConfigError
    from petri.rundir import RunDir

    saved = (read_yaml(RunDir(run_dir).config, "run's saved config").get("eval") or {})
    if Path(saved.get("gallery", gallery_path)).resolve() != gallery_path:
        raise ConfigError(f"{run_dir} holds the evaluation of {saved['gallery']}, not of "
                          f"{gallery_path}; nothing was changed: choose another --run-dir")


def with_gallery_cost(cfg: dict, gallery_path: Path) -> None:
    """Plot and list the evaluation on the cost axis the gallery's models were selected on,
    unless the config or --set names one."""
    from petri.hull import cost_axis
    from petri.store.gallery import read_meta

    cost = cost_axis(read_meta(gallery_path).get("cost_metric"))
    hull = cfg.get("hull") or {}
    if cost is not None and "cost" not in hull:
        cfg["hull"] = {**hull, "cost": cost}


def toy_eval_config() -> str:
    """The shipped toy eval config, as a path relative to here where it lies below."""
    import os

    from petri.algos.registry import algo_info
    from petri.cli.daemon import shipped_config

    path = shipped_config(algo_info("eval").toy_config)
    rel = os.path.relpath(path)
    return str(path) if rel.startswith("..") else rel


def _wait(run_dir: Path, gallery_path: Path) -> None:
    """Wait quietly, as the live view would, until the evaluation ends or its daemon stops."""
    import time

    from petri.daemon.lock import daemon_alive

    click.echo(f"evaluating {gallery_path.name} in {run_dir}; Ctrl-C leaves it running (see "
               f"`petri status {run_dir}`)", err=True)
    while not _done(run_dir) and daemon_alive(run_dir) is not None:
        time.sleep(1.0)


def _done(run_dir: Path) -> bool:
    from petri.store.store import RunStore

    with RunStore.open(run_dir, readonly=True) as store:
        return store.view.meta().get("done") == "1"
