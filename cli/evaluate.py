"""`petri eval GALLERY --config CFG`: train a gallery's models longer as daemon jobs and report
their test accuracy. The evaluation is a run of its own (default `runs/eval-<gallery>`):
interrupt it, `petri eval` again (or `petri resume`) and it continues."""
from __future__ import annotations

import json
from pathlib import Path

import click

from petri.cli.status import fmt_cost


def results_table(run_dir: Path):
    from rich.table import Table

    from petri.status import reading

    with reading(run_dir) as view:
        points = view.points()
        jobs = view.jobs()
    t = Table(title=f"evaluation of {run_dir}")
    for col in ("gallery id", "params", "MACs", "search val error", "eval val error",
                "test accuracy"):
        t.add_column(col)
    done = {p.lineage.get("gallery_id"): p for p in points}
    for j in jobs:
        gid = j.spec.get("gallery_id")
        p = done.get(gid)
        if p is None:
            t.add_row(str(gid), "-", "-", "-", "-", f"[yellow]{j.state}[/]")
            continue
        search = p.lineage.get("search_val_error")
        t.add_row(str(gid), fmt_cost(p.params), fmt_cost(p.macs),
                  "-" if search is None else f"{100 * search:.2f}%",
                  "-" if p.val_error is None else f"{100 * p.val_error:.2f}%",
                  f"[bold]{100 * (1 - p.test_error):.2f}%[/]")
    return t


@click.command("eval")
@click.argument("gallery_path", type=click.Path(dir_okay=False))
@click.option("--config", "config", type=click.Path(dir_okay=False), required=True,
              help="An eval config, e.g. configs/eval_toy.yaml.")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the evaluation run lives (default: runs/eval-<gallery name>).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config value, e.g. --set trainer.epochs=600 (repeatable).")
@click.option("--detach", is_flag=True, help="Start the jobs and return; no live view.")
def evaluate(gallery_path, config, run_dir, sets, detach):
    """Train every model of GALLERY_PATH (scaled as CONFIG says) and report test accuracy."""
    from rich.console import Console

    from petri.cli.daemon import launch
    from petri.cli.live import watch
    from petri.launch import load_config, save_config
    from petri.rundir import RunDir
    from petri.daemon.pidfile import daemon_alive
    from petri.io import check_writable
    from petri.store.db import DB_NAME, connect

    gallery_path = Path(gallery_path).resolve()
    run_dir = Path(run_dir or Path("runs") / f"eval-{gallery_path.stem}")
    if RunDir(run_dir).config.exists():
        click.echo(f"{run_dir} already holds this evaluation: continuing it")
    else:
        # Quoted, so YAML reads a path with `: ` or ` #` in it as the path it is.
        cfg = load_config(config, (*sets, f"eval.gallery={json.dumps(str(gallery_path))}"))
        if cfg.get("algo") != "eval":
            raise click.UsageError(f"{config} is not an eval config (algo: {cfg.get('algo')}); "
                                   f"use configs/eval_*.yaml")
        check_writable(run_dir / DB_NAME, "evaluation run")
        connect(run_dir, create=True).close()
        save_config(cfg, run_dir)
    snap_done = _done(run_dir)
    if not snap_done and daemon_alive(run_dir) is None:
        launch(run_dir, foreground=False)
    if detach:
        return
    if not snap_done:
        watch(str(run_dir), exit_when_done=True)
    Console().print(results_table(run_dir))
    if not _done(run_dir):
        click.echo(f"the evaluation goes on in the background; `petri eval {gallery_path} "
                   f"--config {config} --run-dir {run_dir}` shows it again")


def _done(run_dir: Path) -> bool:
    from petri.status import reading

    with reading(run_dir) as view:
        return view.meta().get("done") == "1"
