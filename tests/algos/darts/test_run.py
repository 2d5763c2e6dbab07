"""DARTS, DARTS second order, PC-DARTS and MOOD end to end from `petri run` on their toy
configs (shrunk with --set), with real workers, a real SIGKILL and `petri resume`."""
import json

import pytest

from petri.status import snapshot
from tests.conftest import needs_fashion, run_petri
from tests.helpers.daemon import kill_daemon_and_resume, stored, wait_done, wait_for
from tests.helpers.shrink import SUPERNET_SIZE

pytestmark = pytest.mark.slow  # real daemons and searches: `make test-fast` skips them

PER_ALGO = {"darts": ["darts.searches=2"], "darts2": [],
            "pc-darts": ["supernet.partial=2", "darts.searches=2"],
            # Enough steps for ν = 0 to learn while ν = 0.5 holds the weights down: a trade-off.
            "mood": ["supernet.partial=2", "data.subset=512", "mood.initial=[0.5, 0.0]",
                     "mood.max_searches=3", "mood.parallel=1", "mood.delta=0.0"]}


def submit(tmp, algo, name):
    run_dir = tmp / name
    sets = [a for s in SUPERNET_SIZE + PER_ALGO[algo] for a in ("--set", s)]
    res = run_petri("run", algo, "--run-dir", run_dir, *sets, timeout=60)
    assert res.returncode == 0, res.stderr
    return run_dir


def outcome(run_dir):
    """What a run found: every point's desc and error (ids and timings aside)."""
    return sorted((json.dumps(p.desc, sort_keys=True), p.val_error)
                  for p in stored(run_dir)[0])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("darts")
    done = {}
    for algo in PER_ALGO:
        done[algo] = submit(tmp, algo, algo)
        wait_done(done[algo], timeout=600)
    return tmp, done


@needs_fashion
@pytest.mark.parametrize("algo", list(PER_ALGO))
def test_each_searcher_ends_in_trained_derived_networks(runs, algo):
    tmp, done = runs
    snap = snapshot(done[algo])
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    points = snap["points"]
    assert points and all(p["stage"] == algo for p in points)
    assert all(0 <= p["error"] <= 1 and p["params"] > 0 for p in points)
    for p in stored(done[algo])[0]:
        cells = p.desc["normal"]["nodes"] + p.desc["reduce"]["nodes"]
        assert len(cells) == 4 and all(e["op"] != "none" for n in cells for e in n["edges"])
    assert any(e["message"].startswith("search done") for e in snap["events"])
    res = run_petri("export", done[algo], "-o", tmp / f"{algo}.h5")
    assert res.returncode == 0, res.stderr

    from petri.gallery import load_model
    from petri.store.gallery import read_models

    model = load_model(tmp / f"{algo}.h5", read_models(tmp / f"{algo}.h5")[0].id)
    import torch

    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)


@needs_fashion
def test_mood_searched_three_weights_and_placed_them(runs):
    _, done = runs
    searches = stored(done["mood"], "darts_search")[1]
    nus = [j.spec["regulariser"]["nu"] for j in searches]
    assert nus[:2] == [0.5, 0.0] and len(nus) == 3 and 0 < nus[2] < 0.5
    assert all(j.result["reg"] > 0 and j.result["val_loss"] > 0 for j in searches)


@needs_fashion
def test_kill9_during_a_search_and_resume_gives_the_same_points(runs):
    tmp, done = runs
    killed = submit(tmp, "mood", "mood-killed")
    for n_done in (0, 1):  # once in the first round, once after a search has finished
        wait_for(lambda: snapshot(killed)["jobs"]["done"] >= n_done and
                 snapshot(killed)["jobs"]["running"] > 0, 300, f"{n_done} jobs done")
        kill_daemon_and_resume(killed)
    wait_done(killed, timeout=600)
    assert outcome(killed) == outcome(done["mood"])


@needs_fashion
def test_status_and_compare_show_the_runs(runs):
    _, done = runs
    res = run_petri("status", done["pc-darts"])
    assert res.returncode == 0 and "pc-darts" in res.stdout
    # Runs of one or two points each share no cost range, so the frame is given.
    same_data = [done[a] for a in ("darts", "darts2", "pc-darts")]
    res = run_petri("compare", *same_data, "--frame", "100:1000000000", "--json")
    assert res.returncode == 0, res.stderr
    table = json.loads(res.stdout)
    assert len(table["runs"]) == 3
    # MOOD's run trains on 512 images, the others on 128: not comparable.
    res = run_petri("compare", *done.values(), "--frame", "100:1000000000")
    assert res.returncode != 0 and "data.subset 128" in res.stderr and "512" in res.stderr


@needs_fashion
def test_ensemble_of_the_mood_frontier_on_the_test_set(runs):
    _, done = runs
    res = run_petri("ensemble", done["mood"], "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert sorted(m["id"] for m in result["members"]) == sorted(snapshot(done["mood"])["frontier"])
    assert 0 <= result["test_error"] <= 1 and 0 <= result["uniform_test_error"] <= 1
    assert all(0 <= m["weight"] <= 1 for m in result["members"])
    res = run_petri("ensemble", done["mood"], "--per-class")
    assert res.returncode == 0 and "weighted ensemble test error" in res.stdout
