"""`JobContext.progress`: the liveness signal a job writes for the daemon."""
import time

from petri.io import read_json
from petri.job import JobContext
from petri.rundir import PROGRESS


def test_a_busy_phase_is_reported_again_and_again_until_it_ends(tmp_path):
    ctx = JobContext(job_id=1, lease=2, job_dir=tmp_path, device="cpu", progress_every_s=0.05)
    with ctx.busy("loading data"):
        first = read_json(tmp_path / PROGRESS)
        time.sleep(0.4)
        later = read_json(tmp_path / PROGRESS)
    assert first["phase"] == later["phase"] == "loading data" and first["lease"] == 2
    assert later["t"] > first["t"] and later["busy_since"] == first["busy_since"] == first["t"]
    ended = read_json(tmp_path / PROGRESS)
    time.sleep(0.2)
    assert read_json(tmp_path / PROGRESS) == ended  # nothing is written once the phase ends
    # A report of its own ends a busy one, and is not busy.
    ctx.progress(busy=True, phase="warm-up")
    ctx.progress(force=True, phase="train", step=1)
    time.sleep(0.2)
    now = read_json(tmp_path / PROGRESS)
    assert now["phase"] == "train" and "busy_since" not in now
