"""A stopped run in every state a job can be in, for the commands that change a run."""
from pathlib import Path

import pytest

from petri.daemon.create import create_run
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore

SMOKE = {"algo": "smoke", "smoke": {"jobs": 4, "steps": 2}}


def job(i: int) -> JobSpec:
    return JobSpec("sleep_train", {"index": i, "seed": 0, "steps": 2}, f"smoke/{i}")


@pytest.fixture
def run(tmp_path) -> Path:
    """A stopped smoke run: job 1 done, 2 failed, 3 running (its daemon died), 4 queued."""
    run = tmp_path / "run"
    assert create_run(SMOKE, run)
    with RunStore.open(run) as store:
        store.enqueue([job(i) for i in range(4)], max_attempts=1)
        done, bad, _ = (store.claim("w", "cpu") for _ in range(3))
        store.complete(done.id, done.lease, {}, [PointSpec("smoke/0/point", 0.2)], [])
        store.fail(bad.id, bad.lease, "deterministic", "Traceback ...\nValueError: bad path")
        store.set_meta(done=1)
    return run


def stored(run: Path):
    with RunStore.open(run, readonly=True) as store:
        return [(j.id, j.state, j.attempts, j.fail_class) for j in store.view.jobs()], \
            store.view.events(100), (run / "config.yaml").read_bytes()
