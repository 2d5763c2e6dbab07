"""Import user data once into a `.petri` file.

`petri data import SRC -o NAME.petri` decodes every image once (Pillow), writes the file
atomically and records per-channel mean/std of the training images. A config or command that
names SRC itself gets it imported on first use (`petri.data.info.resolve_dataset`).
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from petri import __version__
from petri.data import petrifile
from petri.data.sources import ImportOptions, Stage, open_source
from petri.errors import DataError

SKIPPED_LISTED = 20  # skipped files named in the header; all are counted


def _quiet(description: str, total: int):
    return lambda n: None


class _PixelStats:
    """Exact per-channel mean/std from value histograms: integer counts, no float overflow."""

    def __init__(self, channels: int):
        self.counts = np.zeros((channels, 256), dtype=np.int64)

    def add(self, x: np.ndarray) -> None:
        for c in range(x.shape[1]):
            self.counts[c] += np.bincount(x[:, c].ravel(), minlength=256)

    def mean_std(self) -> tuple[list[float], list[float]]:
        v = np.arange(256) / 255.0
        n = self.counts.sum(1)
        mean = self.counts @ v / n
        var = np.maximum(self.counts @ (v * v) / n - mean ** 2, 0.0)
        # A constant channel would divide by zero when normalised: give it unit std.
        std = np.where(var > 1e-12, np.sqrt(var), 1.0)
        return [round(float(m), 6) for m in mean], [round(float(s), 6) for s in std]


def import_dataset(src: str | Path, out: str | Path, opts: ImportOptions = ImportOptions(),
                   stage: Stage = _quiet) -> tuple[petrifile.Header, list[str]]:
    """Write `src` to the `.petri` file `out`; returns its header and the skipped files."""
    src, out = Path(src), Path(out)
    if out.suffix != petrifile.SUFFIX:
        raise DataError(f"-o {out}: a petri dataset file ends in {petrifile.SUFFIX}")
    source = open_source(src, opts, stage)
    stats = _PixelStats(source.shape[0])
    labels = {}
    with petrifile.Writer(out) as w:
        for split in source.splits:
            w.begin(f"{split}_x", source.shape, np.uint8)
            ys = []
            for x, y in source.read(split, stage(f"decoding {split}", source.count(split))):
                w.write(x)
                ys.append(y)
                if split == "train":
                    stats.add(x)
            w.end()
            labels[split] = np.concatenate(ys) if ys else np.zeros(0, np.int64)
        n_train = len(labels["train"])
        if n_train < 2:
            raise DataError(f"{src} gives {n_train} training image(s); petri needs at least 2")
        val_size = n_train // 10 if opts.val_size is None else opts.val_size
        if not 0 <= val_size < n_train:
            raise DataError(f"--val-size {val_size} must be between 0 and {n_train - 1} (the "
                            f"training images minus one)")
        for split in source.splits:
            w.array(f"{split}_y", labels[split])
        mean, std = stats.mean_std()
        header = w.commit({
            "name": out.stem, "source": str(src.resolve()), "petri": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "classes": list(source.classes),
            "shape": list(source.shape), "mean": mean, "std": std, "val_size": val_size,
            "skipped": len(source.skipped), "skipped_files": source.skipped[:SKIPPED_LISTED]})
    return header, source.skipped


@contextmanager
def progress_bar():
    """A rich progress display on stderr; yields a `Stage` that adds one bar per stage. The
    bars vanish when done (the caller says what was written) and print nothing off a tty."""
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    console = Console(stderr=True)
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        def stage(description: str, total: int):
            task = bar.add_task(description, total=total)
            return lambda n: bar.advance(task, n)
        yield stage
