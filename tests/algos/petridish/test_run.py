"""A whole tiny Petridish search on real Fashion-MNIST, with real workers and a real SIGKILL:
reproducible, resumable, exportable to a gallery, loadable and evaluable."""

import pytest
import torch
import yaml

from petri.status import snapshot
from tests.conftest import needs_fashion, run_petri
from tests.helpers.daemon import TINY_PETRIDISH as TINY, kill_daemon_and_resume, wait_done, wait_for

pytestmark = pytest.mark.slow  # real daemons and searches: `make test-fast` skips them



def start(tmp_path, name):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    run_dir = tmp_path / name
    res = run_petri("start", cfg, "--run-dir", run_dir, timeout=60)
    assert res.returncode == 0, res.stderr
    return run_dir


def points_of(run_dir):
    """Every point as (stage, cost, error, its parent's cost): ids may differ, models not."""
    pts = {p["id"]: p for p in snapshot(run_dir)["points"]}
    return sorted((p["stage"], p["macs"], p["params"], p["error"],
                   pts[p["parent"]]["macs"] if p["parent"] else None) for p in pts.values())


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """One run straight through and one killed twice with SIGKILL and resumed."""
    tmp = tmp_path_factory.mktemp("petridish")
    clean = start(tmp, "clean")
    wait_done(clean, timeout=300)
    killed = start(tmp, "killed")
    for n_done in (1, 4):
        wait_for(lambda: len(snapshot(killed)["points"]) >= n_done and
                 snapshot(killed)["jobs"]["running"] > 0, 300, f"{n_done} points")
        kill_daemon_and_resume(killed)
    wait_done(killed, timeout=300)
    return tmp, clean, killed


@needs_fashion
def test_tiny_search_completes_with_lineage(searched):
    _, clean, _ = searched
    snap = snapshot(clean)
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    stages = [p["stage"] for p in snap["points"]]
    assert stages.count("seed") == 2 and stages.count("grown") == 4
    ids = {p["id"] for p in snap["points"]}
    assert all(p["parent"] in ids for p in snap["points"] if p["stage"] == "grown")
    grown = [p for p in snap["points"] if p["stage"] == "grown"]
    assert any(p["params"] > min(q["params"] for q in snap["points"]) for p in grown)
    assert any(e["message"].startswith("search done: max_points") for e in snap["events"])


@needs_fashion
def test_kill9_and_resume_gives_the_same_points_as_an_uninterrupted_run(searched):
    _, clean, killed = searched
    assert points_of(killed) == points_of(clean)  # no point lost, duplicated or changed
    import sqlite3

    conn = sqlite3.connect(killed / "petri.db")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*) FROM points").fetchone()[0] == 6


@needs_fashion
def test_export_show_load_and_eval(searched):
    tmp, clean, _ = searched
    gallery = tmp / "gallery.h5"
    res = run_petri("export", clean, "-o", gallery)
    assert res.returncode == 0, res.stderr
    front = snapshot(clean)["frontier"]
    assert f"wrote {len(front)} models" in res.stdout
    res = run_petri("gallery", "show", gallery)
    assert res.returncode == 0 and all(str(i) in res.stdout for i in front)

    from petri.gallery import load_model
    from petri.store.gallery import read_models
    from petri.train import checkpoint

    m = read_models(gallery)[0]
    model = load_model(gallery, m.id)
    point = next(p for p in snapshot(clean)["points"] if p["id"] == m.id)
    job_dir = clean / "jobs" / f"{point['job_id']:06d}"
    state = checkpoint.load(job_dir / "checkpoint.pt")["model"]
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    x = torch.randn(2, 1, 28, 28)
    assert model(x).shape == (2, 10) and not model.training

    eval_cfg = tmp / "eval.yaml"
    eval_cfg.write_text(yaml.safe_dump({
        "algo": "eval", "eval": {"channels": 6},
        "data": {"dataset": "fashion-mnist", "subset": 256, "val_subset": 128},
        "trainer": {"epochs": 1, "batch_size": 64},
        "daemon": {"cpu_slots": 2, "progress_every_s": 0.2}}))
    res = run_petri("eval", gallery, "--config", eval_cfg, "--run-dir", tmp / "eval",
                    "--detach", timeout=60)
    assert res.returncode == 0, res.stderr
    snap = wait_done(tmp / "eval", timeout=300)
    assert len(snap["points"]) == len(front)
    # One id and one cost axis throughout: the search's point ids and its hull.cost.
    assert sorted(p["id"] for p in snap["points"]) == sorted(front)
    assert snap["cost_metric"] == "params"
    assert all(0 <= p["test_error"] <= 1 for p in snap["points"])
    res = run_petri("eval", gallery, "--config", eval_cfg, "--run-dir", tmp / "eval",
                    env={"COLUMNS": "200"})  # a wide table: headers on one line
    assert res.returncode == 0 and "test accuracy" in res.stdout and "%" in res.stdout


@needs_fashion
def test_tensorboard_names_each_job_by_the_point_it_makes_and_its_kind(searched):
    _, clean, _ = searched
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    tb = clean / "tensorboard"
    jobs = {p["id"]: p["job_id"] for p in snapshot(clean)["points"]}
    names = sorted(p.name for p in tb.iterdir())
    assert names == sorted([f"p{i}-seed_train" for i in (1, 2)] +
                           [f"p{i}-{k}" for i in (3, 4, 5, 6) for k in ("search", "post_train")])
    for i, job_id in jobs.items():  # the link of a point's own job leads to that job
        kind = "seed_train" if i <= 2 else "post_train"
        assert (tb / f"p{i}-{kind}").resolve() == (clean / "jobs" / f"{job_id:06d}").resolve()
    mux = EventMultiplexer().AddRunsFromDirectory(str(tb))
    mux.Reload()
    assert {"p1-seed_train", "p6-post_train"} <= set(mux.Runs())
    assert mux.Scalars("p6-post_train", "val/error")
