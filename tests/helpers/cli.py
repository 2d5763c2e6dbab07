"""Made-up runs and the shape of a failed command's output, for the CLI tests."""
import json
import subprocess
import sys
from pathlib import Path


def one_line_error(res, *words):
    """Assert `res` failed with exactly one line on stderr holding `words`; return it."""
    assert res.returncode != 0, res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def make_run(run_dir: Path) -> Path:
    """A run with two trained points and their checkpoints, written through the store's API."""
    from petri.space.build import build_model
    from petri.space.genotypes import genotype
    from petri.store.records import JobSpec, PointSpec
    from petri.store.store import RunStore
    from petri.train import checkpoint

    points = []
    for i, channels in enumerate((4, 6)):
        desc = genotype("DARTS_V2", channels=channels, cells=1, reductions=0, in_channels=1)
        ckpt = f"jobs/{i + 1:06d}/checkpoint.pt"
        checkpoint.save({"model": build_model(desc).state_dict(), "optimizer": {},
                         "scheduler": {}, "epoch": 1, "step": 0}, run_dir / ckpt)
        points.append(PointSpec(key=f"p{i}", val_error=0.3 - 0.1 * i, macs=1000 * (i + 1),
                                params=10 * (i + 1), desc=desc.to_dict(), checkpoint=ckpt))
    store = RunStore.open(run_dir, create=True)
    store.enqueue([JobSpec("train", {"data": {"dataset": "fashion-mnist"}}, "j")])
    job = store.claim("w", "cpu")
    store.complete(job.id, job.lease, {"wall_s": 1.0}, points, [])
    store.close()
    return run_dir


def modules_after(code) -> set:
    """The modules a fresh interpreter has imported after running `code`."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json; "
                          "print(json.dumps(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))
