"""`hull.cost: latency` and `constraints` with a real daemon and workers: every point is
measured on the target after it trains, alone on the machine, and the frontier, `status
--json` and the store carry the figure and its target; no point breaks the constraints."""
import json

import pytest
import yaml

from petri.cost import count_cost
from petri.space.desc import ModelDesc
from petri.store.gallery import read_model
from petri.store.store import RunStore
from tests.conftest import needs_fashion, run_petri
from tests.helpers.daemon import TINY_PETRIDISH as TINY, wait_done

pytestmark = pytest.mark.slow  # real daemons, training and measurements

LATENCY = {**TINY, "hull": {"cost": "latency"}, "latency": {"target": "cpu", "threads": 1},
           "petridish": {**TINY["petridish"], "max_points": 4},
           "constraints": {"max_params": 20000}}


def start(tmp_path, config, env):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    run_dir = tmp_path / "run"
    res = run_petri("start", path, "--run-dir", run_dir, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    return run_dir


@needs_fashion
def test_a_latency_search_measures_every_point_alone_and_reports_it(tmp_path):
    env = {"PETRI_CACHE_DIR": str(tmp_path / "cache")}
    run_dir = start(tmp_path, LATENCY, env)
    snap = wait_done(run_dir, timeout=600)
    assert not snap["failures"], snap["failures"]
    points = snap["points"]
    assert len(points) == 4
    assert all(p["latency_ms"] > 0 and p["cost"] == p["latency_ms"] for p in points)
    assert snap["frontier"] and snap["latency_target"].startswith("cpu on CPU")
    with RunStore.open(run_dir, readonly=True) as store:
        jobs = store.view.jobs()
        stored = store.view.points()
    for p in stored:
        assert p.latency["info"]["target"] == {"kind": "cpu", "threads": 1, "batch": 1}
        assert count_cost(ModelDesc.from_dict(p.desc), (1, 28, 28)).params \
            <= LATENCY["constraints"]["max_params"]
    measures = [j for j in jobs if j.kind == "measure"]
    assert len(measures) == 4
    # Alone: no other job ran while a measurement did.
    for m in measures:
        assert not [j.id for j in jobs if j.id != m.id and j.started < m.finished
                    and (j.finished or float("inf")) > m.started], f"measure #{m.id} overlapped"
    res = run_petri("status", run_dir, "--json", env=env)
    assert all(p["latency_ms"] for p in json.loads(res.stdout)["points"])
    # The gallery and every exported file's JSON carry the figure and its target.
    res = run_petri("export", run_dir, "-o", tmp_path / "g.h5", env=env)
    assert res.returncode == 0, res.stderr
    for p in stored:
        if p.id in snap["frontier"]:
            m = read_model(tmp_path / "g.h5", p.id, with_weights=False)
            assert (m.latency_ms, m.latency) == (p.latency_ms, p.latency)
    res = run_petri("export", run_dir, "--format", "torchscript", "-o", tmp_path / "ts",
                    env=env)
    assert res.returncode == 0, res.stderr
    sidecars = [json.loads(f.read_text()) for f in (tmp_path / "ts").glob("model-*.json")]
    assert sidecars and all(d["latency_ms"] > 0 and d["latency"]["info"] for d in sidecars)


def test_a_latency_cost_without_a_latency_section_starts_nothing(tmp_path):
    config = {k: v for k, v in LATENCY.items() if k != "latency"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    res = run_petri("start", path, "--run-dir", tmp_path / "run", timeout=60)
    assert res.returncode != 0 and "no `latency` section" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()
