"""`petri data import` (your images or arrays, decoded once into a .petri file) and
`petri data show`. Neither imports torch."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def data():
    """Your own datasets: import an image folder, .npz or .h5 once; inspect the result."""


@data.command("import")
@click.argument("src", type=click.Path(exists=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .petri file to write (replaced atomically).")
@click.option("--size", nargs=2, type=int, metavar="H W",
              help="Resize every image to H×W (bilinear); needed when sizes differ.")
@click.option("--channels", type=click.Choice(["1", "3"]),
              help="1 (gray) or 3 (RGB). Default: 1 when every image is gray, else 3.")
@click.option("--val-size", type=int,
              help="Training images held out for validation by default (default: a tenth).")
@click.option("--skip-bad", is_flag=True,
              help="Skip unreadable or truncated images (counted) instead of stopping.")
def import_(src, output, size, channels, val_size, skip_bad):
    """Decode SRC (ROOT/<class>/<image>, optionally under train/ and test/ or val/; or an
    .npz / .h5 with x, y and optionally x_test, y_test, classes) into OUTPUT."""
    from petri.data.importer import import_dataset, progress_bar
    from petri.data.sources import ImportOptions

    opts = ImportOptions(size=tuple(size) if size else None,
                         channels=int(channels) if channels else None, val_size=val_size,
                         skip_bad=skip_bad)
    with progress_bar() as stage:
        h, skipped = import_dataset(Path(src), Path(output), opts, stage)
    c, height, width = h.shape
    test = f", {h.count('test')} test" if h.has_test else ", no test split"
    click.echo(f"wrote {output}: {h.count('train')} training images{test}, "
               f"{len(h.classes)} classes, {c}×{height}×{width}")
    if skipped:
        click.echo(f"skipped {len(skipped)} unreadable image(s), the first: {skipped[0]}")
    click.echo(f"train on it: petri train DARTS_V2 --dataset {output}  (or data.dataset: "
               f"{output} in a config)")


def summary(path: str) -> dict:
    """What `show` prints, as plain data; reads the labels, checks the content hash."""
    import numpy as np

    from petri.data.petrifile import open_arrays

    h, arrays = open_arrays(path)
    counts = {split: np.bincount(arrays[f"{split}_y"], minlength=len(h.classes)).tolist()
              for split in ("train", "test") if f"{split}_y" in arrays}
    raw = h.raw
    return {"path": str(h.path), "name": h.name, "source": raw.get("source"),
            "format_version": raw["version"], "created": raw.get("created"),
            "shape": list(h.shape), "classes": list(h.classes), "counts": counts,
            "val_size": h.val_size, "mean": list(h.mean), "std": list(h.std),
            "bytes": h.path.stat().st_size, "hash": h.hash, "skipped": raw.get("skipped", 0)}


@data.command()
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def show(path, as_json):
    """Counts per class, image shape, statistics and size on disk of the .petri file PATH."""
    s = summary(path)
    if as_json:
        click.echo(json.dumps(s))
        return
    from rich.console import Console
    from rich.table import Table

    from petri.cli.status import fmt_cost

    c, h, w = s["shape"]
    splits = list(s["counts"])
    t = Table(title=f"{s['name']}: {c}×{h}×{w} images, {len(s['classes'])} classes, "
                    f"{fmt_cost(s['bytes'])}B on disk")
    t.add_column("label", justify="right")
    t.add_column("class")
    for split in splits:
        t.add_column(split, justify="right")
    for i, name in enumerate(s["classes"]):
        t.add_row(str(i), name, *(str(s["counts"][split][i]) for split in splits))
    t.add_row("", "[bold]total", *(f"[bold]{sum(s['counts'][split])}" for split in splits))
    console = Console()
    console.print(t)
    def fmt(values):
        return ", ".join(f"{v:.4f}" for v in values)
    console.print(f"mean {fmt(s['mean'])}, std {fmt(s['std'])} (training images); validation "
                  f"hold-out {s['val_size']} by default; {s['skipped']} skipped at import\n"
                  f"from {s['source']}, format {s['format_version']}, {s['hash'][:19]}… "
                  f"(checked)")
