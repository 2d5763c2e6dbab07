"""A rich progress bar fed by the trainer's progress hook."""
from __future__ import annotations

from contextlib import contextmanager

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


@contextmanager
def training_bar(description: str, console=None):
    """Yield a hook that takes `petri.train.progress.Progress` reports and draws them (on
    `console`, default stdout's)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("epoch {task.fields[epoch]}"), TextColumn("loss {task.fields[loss]}"),
                  TextColumn("{task.fields[rate]} img/s"), TimeElapsedColumn(),
                  TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(description, total=None, epoch="-", loss="-", rate="-")

        def hook(p) -> None:
            bar.update(task, total=p.total_steps, completed=p.step,
                       epoch=f"{min(p.epoch + 1, p.epochs)}/{p.epochs}",
                       loss="-" if p.loss is None else f"{p.loss:.3f}",
                       rate=f"{p.images_per_s:.0f}",
                       description={"train": description, "eval": "evaluating"}.get(
                           p.phase, p.phase))
        yield hook
