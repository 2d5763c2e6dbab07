"""`petri gc` and `petri archive`: a run's disk after the fact (see petri.disk, petri.archive)."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--json", "as_json", is_flag=True, help="What was freed, as JSON.")
def gc(run_dir, as_json):
    """Delete the checkpoints of RUN_DIR's finished jobs that no point keeps as its weights
    and no job yet to run reads (what `daemon.keep: final` frees as a run goes; for runs made
    before it, or kept with `all`). Safe while the run's daemon runs."""
    from petri.disk import collect, used_bytes
    from petri.io import fmt_bytes
    from petri.rundir import RunDir
    from petri.store.store import RunStore

    rd = RunDir(run_dir)
    with RunStore.open(rd.root, readonly=True) as store:
        freed = collect(rd, store.view)
    left = used_bytes(rd.root)
    if as_json:
        click.echo(json.dumps({"run_dir": str(rd), **freed.to_dict(), "disk_bytes": left}))
        return
    click.echo(f"freed {fmt_bytes(freed.bytes)} ({freed.files} files) in {rd}; it now takes "
               f"{fmt_bytes(left)}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="The archive to write (default: RUN_DIR's name.tar.gz, here).")
@click.option("--json", "as_json", is_flag=True, help="What was written, as JSON.")
def archive(run_dir, output, as_json):
    """Write RUN_DIR as one portable .tar.gz (store, config, point weights, TensorBoard
    events), which `status`, `export`, `plot` and `compare` read in place of a run dir."""
    from petri.archive import write
    from petri.io import fmt_bytes

    out = write(run_dir, output or f"{Path(run_dir).resolve().name}.tar.gz")
    if as_json:
        click.echo(json.dumps(out.to_dict()))
        return
    click.echo(f"wrote {out.path} ({fmt_bytes(out.bytes)}): the store, the config, "
               f"{out.weights} point weight files and {out.events} TensorBoard event files")
