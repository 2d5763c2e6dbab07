"""`petri retry | cancel`, and the `--set` of `petri resume`: changes to an existing run.

Each is carried out by the run's daemon where one runs, else here under the run's lock
(petri/daemon/life.py), and is recorded as an event of the run.
"""
from __future__ import annotations

import json
from pathlib import Path

import click

from petri.errors import PetriError

RUN_DIR = click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
JSON = click.option("--json", "as_json", is_flag=True, help="What changed, as one JSON object.")


def _tell(run_dir: Path, done: str, jobs: list[int], by: str, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps({"run_dir": str(run_dir), done: jobs, "by": by}))
        return
    if not jobs:
        click.echo(f"no job of {run_dir} {done}")
        return
    named = ", ".join(map(str, jobs))
    click.echo(f"{done} job(s) {named} of {run_dir}")


@click.command()
@RUN_DIR
@click.argument("jobs", nargs=-1, type=click.IntRange(min=1))
@click.option("--failed", is_flag=True, help="Every failed job (those cancelled excepted).")
@JSON
def retry(run_dir, jobs, failed, as_json):
    """Put failed JOBS of RUN_DIR back in the queue with fresh attempts, after fixing what
    made them fail; --failed: every failed job. A running daemon runs them at once; on a
    stopped run, `petri resume RUN_DIR` does."""
    from petri.daemon.life import Request, submit

    if bool(jobs) == failed:
        raise click.UsageError("name the failed jobs to retry, or pass --failed for all of "
                               "them, not both")
    run_dir = Path(run_dir)
    reply = submit(run_dir, Request("retry", jobs=None if failed else jobs))
    _tell(run_dir, "retried", reply.jobs, reply.by, as_json)
    if reply.jobs and reply.by == "command" and not as_json:
        click.echo(f"no daemon runs on {run_dir}: `petri resume {run_dir}` runs them")


@click.command()
@RUN_DIR
@click.argument("jobs", nargs=-1, required=True, type=click.IntRange(min=1))
@JSON
def cancel(run_dir, jobs, as_json):
    """End queued or running JOBS of RUN_DIR: a running one's worker is stopped and its
    result discarded. `petri retry RUN_DIR JOB` puts one back."""
    from petri.daemon.life import Request, submit

    run_dir = Path(run_dir)
    reply = submit(run_dir, Request("cancel", jobs=jobs))
    _tell(run_dir, "cancelled", reply.jobs, reply.by, as_json)


def extend_run(run_dir: Path, sets: tuple[str, ...]) -> bool:
    """Apply `petri resume --set` (budget and termination keys only), saying what changed;
    whether the run's live daemon took it (then there is nothing to start)."""
    from petri.daemon.life import Request, submit

    reply = submit(run_dir, Request("extend", sets=sets))
    if not reply.changes:
        click.echo(f"{run_dir}: nothing changed ({', '.join(sets)} as before)")
    for key, (before, after) in reply.changes.items():
        click.echo(f"{run_dir}: {key} {before} -> {after}")
    if reply.by == "daemon":
        click.echo(f"the running daemon continues with it; `petri status {run_dir}` shows it")
    return reply.by == "daemon"


def extend_hint(run_dir: Path) -> str:
    """How to extend a finished run: the command and the keys its algorithm lets change."""
    from petri.config import read_yaml
    from petri.daemon.life import extendable_keys
    from petri.rundir import RunDir

    try:
        keys = extendable_keys(read_yaml(RunDir(run_dir).config, "run's saved config"))
    except PetriError:
        keys = []
    if not keys:
        return "its algorithm has no budget to extend"
    return (f"`petri resume {run_dir} --set KEY=VALUE` extends it (KEY: "
            f"{', '.join(keys)})")
