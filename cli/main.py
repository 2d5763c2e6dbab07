"""The `petri` entry point: a click group that imports each command only when it runs.

Inspecting commands (`status`, `watch`, `--help`) must not pay for torch, so the group knows
its commands as "module:attribute" strings and imports one in `get_command`.
"""
from __future__ import annotations

import logging
import sys

import click

from petri.errors import PetriError

COMMANDS = {
    "cost": ("petri.cli.cost:cost", "Params, MACs and activation memory of an architecture."),
    "latency": ("petri.cli.latency:latency", "Latency of a model on a target, measured, or "
                                             "predicted from a per-op table."),
    "train": ("petri.cli.train:train", "Train one architecture with a progress bar."),
    "start": ("petri.cli.daemon:start", "Start a daemon on a run directory."),
    "run": ("petri.cli.daemon:run", "Run a search on a daemon (`petri run --list`: which)."),
    "resume": ("petri.cli.daemon:resume", "Restart the daemon of an existing run directory."),
    "stop": ("petri.cli.daemon:stop", "Stop a run's daemon (workers checkpoint first)."),
    "retry": ("petri.cli.life:retry", "Put a run's failed jobs back with fresh attempts."),
    "cancel": ("petri.cli.life:cancel", "End queued or running jobs of a run, discarding "
                                        "their results."),
    "status": ("petri.cli.status:status", "Jobs, workers, failures and the frontier of a run."),
    "ls": ("petri.cli.ls:ls", "The runs under a directory: state, algorithm, points, compute."),
    "watch": ("petri.cli.live:watch_cmd", "A live full-screen view of a run (Ctrl-C quits)."),
    "export": ("petri.cli.gallery:export", "Write a run's frontier models to an HDF5 gallery, "
                                           "or as TorchScript, pt2, ONNX or safetensors files."),
    "gallery": ("petri.cli.gallery:gallery", "Inspect an HDF5 gallery (`petri gallery show`, "
                                             "`petri gallery desc`)."),
    "eval": ("petri.cli.evaluate:evaluate", "Train a gallery's models longer; test accuracy."),
    "compare": ("petri.cli.compare:compare", "Hypervolume in a fixed frame, budgets and an "
                                             "exact test against random over runs."),
    "ensemble": ("petri.cli.ensemble:ensemble", "MOOD's weighted ensemble of a run's frontier, "
                                                "scored on the test set."),
    "plot": ("petri.cli.plot:plot", "Plot frontiers (or --hv-curve) of runs to PNG/SVG/PDF."),
    "data": ("petri.cli.data:data", "Import your own images or arrays once (.petri); show one."),
    "gc": ("petri.cli.disk:gc", "Delete the checkpoints a run's finished jobs no longer need."),
    "archive": ("petri.cli.disk:archive", "Write a run as one .tar.gz that status, export, "
                                          "plot and compare read."),
    "doctor": ("petri.cli.doctor:doctor", "What a bug report needs, and whether this machine's "
                                          "kernels compute petri's fast paths correctly."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        import importlib

        module, attr = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        # Short help from the table, so `petri --help` imports no command module.
        rows = [(n, COMMANDS[n][1]) for n in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="petri")
def cli():
    """petri: search for families of networks on the Pareto frontier of error against cost."""


LOG_FORMAT = "petri: %(levelname)s: %(message)s"


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    try:
        rv = cli.main(args=argv, prog_name="petri", standalone_mode=False)
    except PetriError as e:
        click.secho(f"error: {e}", fg="red", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.UsageError as e:
        # One line like every other error, instead of click's usage block around it.
        hint = f" (see `{e.ctx.command_path} --help`)" if e.ctx else ""
        click.secho(f"error: {' '.join(e.format_message().split())}{hint}", fg="red", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
