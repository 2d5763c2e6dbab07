"""At 80 columns `petri status` and `petri gallery show` fit: columns are chosen, and no cell
or header is cut to "…" (a number cut short reads as another number)."""
import os
import time

import pytest

from petri.io import atomic_write_json
from petri.launch import save_config
from petri.rundir import PROGRESS, RunDir
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore
from tests.helpers.cli import make_run
from tests.conftest import run_petri_here


@pytest.fixture(scope="module")
def busy_run(tmp_path_factory):
    """Points with costs in the millions, a failure with a long reason, and a post_train job
    running on a GPU slot at step 1030 of 12000."""
    run = tmp_path_factory.mktemp("busy")
    save_config({"algo": "smoke", "hull": {"cost": "params"}}, run)
    store = RunStore.open(run, create=True)
    store.enqueue([JobSpec("post_train", {}, f"k{i}") for i in range(6)])
    for i in range(4):
        j = store.claim("gpu0.1", "cuda:0")
        store.complete(j.id, j.lease, {"wall_s": 100.0},
                       [PointSpec(f"p{i}", 0.4 - 0.05 * i, macs=123_456_789 * (i + 1),
                                  params=3_345_678 * (i + 1), stage="grown", parent=1)], [], 3)
    j = store.claim("gpu0.1", "cuda:0")
    store.fail(j.id, j.lease, "deterministic",
               "Traceback ...\nValueError: the desc of model 12 has a node without any input "
               "edge; fix the desc or the algorithm that wrote it")
    running = store.claim("gpu0.12", "cuda:0", pid=os.getpid())
    store.close()
    d = RunDir(run).job(running.id)
    d.mkdir(parents=True)
    atomic_write_json(d / PROGRESS, {"t": time.time(), "job_id": running.id,
                                     "lease": running.lease, "step": 1030,
                                     "total_steps": 12000, "loss": 1.2345,
                                     "images_per_s": 1456.0, "eta_s": 4200.0})
    return run


def assert_fits(text: str, width: int = 80):
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert "…" not in text, text


def test_status_fits_80_columns_whole(busy_run):
    res = run_petri_here("status", busy_run, env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    assert_fits(res.stdout)
    for number in ("1030/12000", "4200s", "1.234", "1456", "3.35M", "13.38M", "40.00%",
                   "25.00%", "done 4", "failed 1", "running 1"):
        assert number in res.stdout, number
    reason = "fix the desc or the algorithm that wrote it"  # folded onto lines, every word
    assert all(word in res.stdout.split() for word in reason.split())
    assert "left out at this width" in res.stdout


def test_status_at_160_columns_shows_every_column(busy_run):
    res = run_petri_here("status", busy_run, env={"COLUMNS": "160"})
    assert "gpu0.12 cuda:0" in res.stdout and "left out" not in res.stdout


def test_gallery_show_fits_80_columns_whole(tmp_path):
    from petri.gallery import export

    run = make_run(tmp_path / "run")
    export(run, tmp_path / "g.h5")
    res = run_petri_here("gallery", "show", tmp_path / "g.h5", env={"COLUMNS": "80"})
    assert res.returncode == 0, res.stderr
    assert_fits(res.stdout)
    for shown in ("id", "MACs", "params", "val err", "test err", "30.00%", "20.00%", "1.00k",
                  "2.00k", "left out at this width"):
        assert shown in res.stdout, shown
    wide = run_petri_here("gallery", "show", tmp_path / "g.h5", env={"COLUMNS": "160"}).stdout
    assert "nodes (normal/reduce)" in wide and "1 (0 red.)" in wide and "left out" not in wide
