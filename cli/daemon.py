"""`petri start | resume | stop`: `start` launches the daemon as `python -m petri.daemon`."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from petri.cli.options import set_option
from petri.errors import PetriError
from petri.store.records import CANCELLED


def launch(run_dir: Path, foreground: bool, opened=None) -> None:
    """Start RUN_DIR's daemon, detached or here (`foreground`; `opened`: the run's (config,
    algorithm) when this process built them already)."""
    from petri.daemon.lock import already_running, daemon_alive, lock_held, pid_file

    if daemon_alive(run_dir) is not None:
        raise PetriError(already_running(run_dir))
    if not os.access(run_dir, os.W_OK):
        raise PetriError(f"run dir {run_dir} is not writable; the daemon must write its store, "
                         f"log and checkpoints there: fix its permissions or copy the run")
    if foreground:
        from petri.daemon.daemon import Daemon

        logging.getLogger("petri").setLevel(logging.INFO)
        Daemon(run_dir, opened=opened).run()
        click.echo(f"daemon on {run_dir} exited")
        check_jobs(run_dir)
        return
    from petri.rundir import RunDir

    log_path = RunDir(run_dir).daemon_log
    try:
        with open(log_path, "ab") as log:
            offset = log.tell()
            # Started inside the run dir: `-m` puts the working directory first on sys.path,
            # and from a source checkout that would shadow the installed package with its
            # folders (petri/ without the cli/ and store/ that setup.py maps into it).
            here = run_dir.resolve()
            proc = subprocess.Popen([sys.executable, "-m", "petri.daemon", str(here)],
                                    cwd=here, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, start_new_session=True)
    except OSError as e:
        raise PetriError(f"cannot start a daemon on {run_dir}: {e.strerror} ({log_path})") from None
    # "started" only once the daemon has opened and checked the store and built the search:
    # it writes its pid file after that, and a daemon that fails start-up exits instead.
    deadline = time.time() + STARTUP_TIMEOUT_S
    while time.time() < deadline:
        if pid_file(run_dir) == proc.pid and lock_held(run_dir):
            click.echo(f"daemon started (pid {proc.pid}) on {run_dir}; log: {log_path}\n"
                       f"  petri status {run_dir}    petri stop {run_dir}")
            return
        if proc.poll() is not None:
            if lock_held(run_dir):  # another `petri start` won the race for the lock
                raise PetriError(already_running(run_dir))
            raise PetriError(f"the daemon could not start: {_failure(log_path, offset)} "
                             f"(log: {log_path})")
        time.sleep(0.05)
    raise PetriError(f"the daemon did not finish starting within {STARTUP_TIMEOUT_S} s; see "
                     f"{log_path}")


STARTUP_TIMEOUT_S = 120


def _failure(log_path: Path, offset: int) -> str:
    """The daemon's own error line from what it wrote to the log this time."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        lines = [ln.strip() for ln in f.read().decode(errors="replace").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    return (errors or lines or ["it wrote nothing"])[-1].removeprefix("error: ")


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the run lives (default: runs/<config name>).")
@click.option("--foreground", is_flag=True, help="Run the daemon in this terminal.")
@click.option("--watch", "live", is_flag=True,
              help="Show the live view until the search is done (Ctrl-C leaves it running).")
@set_option("smoke.jobs=10")
def start(config, run_dir, foreground, live, sets):
    """Start a daemon for CONFIG on a run directory (resumes the run there if it was made
    with this same config)."""
    from petri.launch import load_run

    cfg, algo = load_run(config, sets)
    start_run(cfg, Path(run_dir or Path("runs") / Path(config).stem), foreground, live, algo)


def start_run(cfg: dict, run_dir: Path, foreground: bool, live: bool, algo=None) -> None:
    """Create the run and start its daemon; on an existing run with this same config, resume
    it (a different config is refused, a finished run only said to be so)."""
    from petri.daemon.lock import daemon_alive
    from petri.daemon.create import create_run

    if not create_run(cfg, run_dir):
        if said_finished(run_dir):
            return
        if live and not foreground and daemon_alive(run_dir) is not None:
            # `make demo` again while its search runs: the view, as `petri watch` gives it
            click.echo(f"{run_dir} is running this config already: showing it")
            follow(run_dir)
            return
        click.echo(f"{run_dir} already holds this run: resuming it")
    launch(run_dir, foreground, (cfg, algo) if algo is not None else None)
    if live and not foreground:
        follow(run_dir)


def said_finished(run_dir: Path) -> bool:
    """Whether the run is finished, saying so: its daemon would only start and exit."""
    from petri.status import finished

    how = finished(run_dir)
    if how is not None:
        from petri.cli.life import extend_hint

        click.echo(f"{run_dir} is finished ({how}): there is nothing to resume; "
                   f"{extend_hint(run_dir)}. `petri status {run_dir}` shows it; for another "
                   f"search, start a new run: `petri start CONFIG --run-dir NEW_DIR`")
    return how is not None


def follow(run_dir: Path) -> None:
    """The live view until the daemon stops, then the final status (and `check_jobs`)."""
    from rich.console import Console

    from petri.cli.live import watch
    from petri.cli.status import render

    snap = watch(str(run_dir), exit_when_done=True)
    Console().print(render(snap))
    if snap["daemon"]["state"] == "running" and not snap["done"]:
        click.echo(f"the daemon keeps running; `petri watch {run_dir}` shows it again, "
                   f"`petri stop {run_dir}` stops it")
    check_jobs(run_dir, snap)


def check_jobs(run_dir: Path, snap: dict | None = None) -> None:
    """An error naming each failed job of the run with its reason: a command that ran or
    watched a run whose jobs failed must not exit 0."""
    from petri.cli.status import check_failures
    from petri.status import snapshot

    snap = snap or snapshot(run_dir, events=0)
    check_failures(run_dir, [(f"job {f['job_id']} ({f['kind']})", f["error"])
                             for f in snap["failures"] if f["fail_class"] != CANCELLED])


def shipped_config(name: str) -> Path:
    """A config that ships with petri (package data), found from any directory."""
    from importlib import resources

    return Path(str(resources.files("petri.configs").joinpath(name)))


def run_choices() -> list[str]:
    from petri.algos.registry import registry

    return sorted(n for n, info in registry().items() if info.runnable and info.toy_config)


def list_algos(ctx, param, value) -> None:
    if not value or ctx.resilient_parsing:
        return
    from petri.algos.registry import registry

    for name, info in sorted(registry().items()):
        if info.toy_config:
            how = "" if info.runnable else f"; not a `petri run`: {info.command}"
            click.echo(f"{name:10} {info.help}{how}  [{shipped_config(info.toy_config)}]")
    ctx.exit()


@click.command("run")
@click.argument("algo", type=click.Choice(run_choices()))
@click.option("--config", type=click.Path(dir_okay=False),
              help="Config file (default: the algorithm's shipped toy config).")
@click.option("--run-dir", type=click.Path(file_okay=False),
              help="Where the run lives (default: runs/<config name>-seed<seed>).")
@click.option("--watch", "live", is_flag=True, help="Show the live view until it is done.")
@set_option("seed=1")
@click.option("--list", is_flag=True, expose_value=False, is_eager=True, callback=list_algos,
              help="List the algorithms and their shipped configs (and those run otherwise: "
                   "eval, smoke), then exit.")
def run(algo, config, run_dir, live, sets):
    """Submit a search of ALGO to a daemon on its run dir (resumable, watchable, exportable)."""
    from petri.algos.registry import algo_info
    from petri.launch import load_config

    config = config or shipped_config(algo_info(algo).toy_config)
    cfg = load_config(config, sets)
    if cfg.get("algo") != algo:
        raise PetriError(f"{config} is not a {algo} config (its algo is {cfg.get('algo')!r}); "
                         f"pass --config for {algo}")
    # One run dir per seed, so `--set seed=N` for several seeds gives runs `compare` can pair.
    run_dir = run_dir or Path("runs") / f"{Path(config).stem}-seed{cfg.get('seed', 0)}"
    start_run(cfg, Path(run_dir), False, live)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--foreground", is_flag=True, help="Run the daemon in this terminal.")
@click.option("--watch", "live", is_flag=True, help="Show the live view until it is done.")
@set_option("petridish.max_points=40")
def resume(run_dir, foreground, live, sets):
    """Restart the daemon of RUN_DIR: running jobs are reconciled and continue. --set
    changes a budget or termination key (a running daemon takes it at once), so a finished
    search goes on."""
    from petri.cli.life import extend_run
    from petri.launch import open_run

    opened = open_run(Path(run_dir))  # a damaged config fails here, not in the detached daemon
    if sets and extend_run(Path(run_dir), sets):
        return
    if said_finished(Path(run_dir)):
        return
    launch(Path(run_dir), foreground, None if sets else opened)  # --set changed the config
    if live and not foreground:
        follow(Path(run_dir))


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--now", is_flag=True, help="Kill the daemon and workers without checkpointing.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds to wait for a clean stop.")
def stop(run_dir, now, timeout):
    """Stop RUN_DIR's daemon: workers checkpoint, jobs go back to the queue, nothing is lost."""
    from petri.daemon.lock import daemon_alive, wait_gone
    from petri.rundir import RunDir

    run_dir = Path(run_dir)
    rd = RunDir(run_dir)
    if not rd.db.exists():
        raise PetriError(f"{run_dir} is not a petri run dir (no {rd.db.name}); pass the "
                         f"directory that `petri start --run-dir` created")
    pid = daemon_alive(run_dir)
    # A daemon holds the lock a moment without a pid file: starting (the pid is written last)
    # and ending (it is removed first).
    deadline = time.monotonic() + 10
    while pid == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        pid = daemon_alive(run_dir)
    if pid is None:
        click.echo(f"no daemon is running on {run_dir}")
        return
    if pid == 0:
        raise PetriError(f"a daemon holds {run_dir}'s lock but its pid cannot be read; find it "
                         f"with `fuser {rd.lock}` and stop it by hand")
    if now:
        _kill_workers(run_dir)
        os.kill(pid, signal.SIGKILL)
        # Return only once the kernel has dropped its lock, so `resume` right after works.
        if not wait_gone(run_dir, 30):
            raise PetriError(f"daemon {pid} was killed but still holds its lock after 30 s")
        click.echo(f"killed daemon {pid}; `petri resume {run_dir}` continues from checkpoints")
        return
    os.kill(pid, signal.SIGTERM)
    if wait_gone(run_dir, timeout):
        click.echo(f"daemon {pid} stopped; `petri resume {run_dir}` continues the run")
        return
    raise PetriError(f"daemon {pid} did not stop within {timeout:.0f} s; use `petri stop --now`")


def _kill_workers(run_dir: Path) -> None:
    from petri.daemon.process import kill_if_same
    from petri.store.store import RunStore

    with RunStore.open(run_dir, readonly=True) as store:
        running = store.running()
    for job in running:
        kill_if_same(job.pid, job.pid_start)

