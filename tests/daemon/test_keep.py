"""`daemon.keep` and `petri gc` with a real daemon: a finished job's checkpoint goes as its
result lands (or stays, with `all`), and `petri gc` beside a running daemon frees only what
finished jobs leave, without costing a running job its checkpoint."""
import json
from pathlib import Path

import pytest

from tests.conftest import run_petri
from tests.helpers.daemon import start, steps_trained, wait_done, wait_for
from petri.status import snapshot

pytestmark = pytest.mark.slow  # real daemons


def checkpoints(run: Path) -> set[str]:
    return {p.parent.name for p in run.glob("jobs/*/checkpoint.json")}


@pytest.mark.parametrize("keep", ["final", "all"])
def test_keep_final_frees_each_finished_jobs_checkpoint_and_all_keeps_it(tmp_path, keep):
    run = tmp_path / "run"
    start(run, "smoke.jobs=4", "smoke.steps=10", "smoke.step_time=0.01", f"daemon.keep={keep}")
    snap = wait_done(run)
    assert snap["jobs"]["done"] == 4
    assert steps_trained(run) == 40  # every job's own files besides its checkpoint stay
    assert len(checkpoints(run)) == (0 if keep == "final" else 4)


def test_gc_beside_a_running_daemon_frees_finished_jobs_only(tmp_path):
    run = tmp_path / "run"
    jobs, steps = 6, 40
    start(run, f"smoke.jobs={jobs}", f"smoke.steps={steps}", "smoke.step_time=0.02",
          "smoke.checkpoint_every=2", "daemon.keep=all")
    wait_for(lambda: snapshot(run)["jobs"]["done"] >= 2 and snapshot(run)["workers"], 60,
             "jobs done while others run")
    res = run_petri("gc", run, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["files"] >= 2
    snap = wait_done(run)
    assert snap["jobs"] == {"queued": 0, "running": 0, "done": jobs, "failed": 0}
    assert steps_trained(run) == jobs * steps  # no job restarted from a lost checkpoint
    assert 0 < len(checkpoints(run)) < jobs
