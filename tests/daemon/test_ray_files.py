"""What travels between the head's job dirs and a slot actor's scratch, without a cluster:
the actor class is used in-process, the way Ray would call it on a node."""
import dataclasses
import json
import threading

from petri.daemon.ray_executor import SlotActor, apply_update, job_files, job_inputs
from petri.daemon.worker import run_one
from petri.io import read_json
from petri.rundir import RESULT, RunDir
from tests.conftest import assignment

SMOKE_SPEC = {"index": 0, "seed": 0, "steps": 12, "step_time": 0.0, "checkpoint_every": 5,
              "crash_at": None, "hang_at": None, "raise_at": None}


def message(run, job_id, lease, spec):
    return dataclasses.replace(assignment("sleep_train", spec, RunDir(run).job(job_id), job_id,
                                          lease, run), progress_every_s=0.1)


def run_on_actor(actor, job) -> None:
    """Ship the job, run it, and mirror its scratch job dir back into the head's."""
    rel, files = job_inputs(job)
    apply_update(job.job_dir, actor.run(job, rel, files))


def test_inputs_are_the_job_dir_and_the_files_the_spec_names_under_jobs(tmp_path):
    run = tmp_path / "run"
    rd = RunDir(run)
    own, parent = rd.job(7), rd.job(3)
    for d in (own, parent):
        d.mkdir(parents=True)
    (own / "checkpoint.pt").write_bytes(b"ckpt")
    (own / "progress.json").write_text("{}")  # an earlier attempt's: not shipped
    (own / ".checkpoint.pt.x1.tmp").write_bytes(b"half")  # a killed write's: not shipped
    (parent / "child_init.pt").write_bytes(b"weights")
    (run / "config.yaml").write_text("algo: smoke\n")
    spec = {"init": "jobs/000003/child_init.pt", "nested": [{"p": "jobs/000003/child_init.pt"}],
            "outside": "config.yaml", "escape": "jobs/../config.yaml",
            "missing": "jobs/000003/nothing.pt", "op": "sep_conv_3x3"}
    rel, files = job_inputs(assignment("train", spec, own, 7, run_dir=run))
    assert rel == "jobs/000007"
    assert files == {"jobs/000007/checkpoint.pt": b"ckpt", "jobs/000003/child_init.pt": b"weights"}


def test_a_job_on_an_actor_leaves_the_head_job_dir_a_local_worker_would(tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_one(message(local, 1, 1, SMOKE_SPEC), threading.Event())
    actor = SlotActor()
    run_on_actor(actor, message(remote, 1, 1, SMOKE_SPEC))
    a, b = job_files(RunDir(local).job(1)), job_files(RunDir(remote).job(1))
    assert sorted(a) == sorted(b) == ["checkpoint.json", "progress.json", "result.json",
                                      "steps.log"]
    for name in ("checkpoint.json", "steps.log"):
        assert a[name].read_bytes() == b[name].read_bytes()
    assert read_json(a["result.json"]) == read_json(b["result.json"])
    assert not actor.root.exists()  # the last sync cleared the scratch


def test_a_resumed_job_continues_from_the_shipped_checkpoint_and_stale_syncs_are_refused(
        tmp_path):
    run = tmp_path / "run"
    job = RunDir(run).job(1)
    job.mkdir(parents=True)
    # What the head holds after a lost attempt: a checkpoint at step 5 and its log.
    (job / "checkpoint.json").write_text(json.dumps({"step": 5}))
    (job / "steps.log").write_text("".join(f"{i}\n" for i in range(1, 7)))
    actor = SlotActor()
    assert actor.sync(2) is None  # nothing of lease 2 has started here yet
    run_on_actor(actor, message(run, 1, 2, SMOKE_SPEC))
    log = [int(v) for v in (job / "steps.log").read_text().split()]
    assert log == list(range(1, 7)) + list(range(6, 13))  # step 6 ran twice, nothing from 0
    assert read_json(job / RESULT)["lease"] == 2
    # A pull arriving after the last one, or for an older lease, gets nothing to mirror.
    assert actor.sync(2) is None and actor.sync(1) is None


def test_the_mirror_removes_what_the_job_removed_and_ignores_temp_files(tmp_path):
    job = tmp_path / "job"
    job.mkdir()
    (job / "old.pt").write_bytes(b"x")
    (job / ".result.json.abc.tmp").write_bytes(b"")
    apply_update(job, {"put": {"new.pt": b"y", RESULT: b"{}"}, "keep": ["new.pt", RESULT]})
    assert sorted(p.name for p in job.iterdir()) == [".result.json.abc.tmp", "new.pt",
                                                      RESULT]
