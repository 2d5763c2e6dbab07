"""The Ray executor on a real multi-node Ray: several raylets on this machine (Ray's own
`cluster_utils.Cluster`), one cluster for the module, the daemon a separate process joining it.

What must hold as with local workers: every job lands once, with the points the local executor
gives for the same config and seed; a node lost mid-run costs at most a checkpoint interval and
its jobs resume elsewhere; `kill -9` of the daemon plus `petri resume` continues; and a run
that asks for Ray where it is not installed is refused in one line, changing nothing.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from petri.daemon.create import create_run
from petri.launch import load_config
from petri.status import snapshot
from tests.conftest import ROOT, needs_fashion, run_petri
from tests.helpers.daemon import (SMOKE, db_rows, kill_daemon_and_resume, start, steps_trained,
                                      wait_done, wait_for)

pytestmark = pytest.mark.slow  # real Ray clusters and daemons: `make test-fast` skips them

# 2 cores here: one CPU per raylet, small object stores, no dashboard; node death noticed in
# about a second instead of Ray's production 15 s.
NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}
HEAD = {**NODE, "include_dashboard": False,
        "_system_config": {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                           "health_check_failure_threshold": 3}}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    from petri.daemon.ray_executor import remove_orphaned_scratch

    # Ray keeps sockets, logs and the "current cluster" address under RAY_TMPDIR; a short
    # private one keeps socket paths within their limit and this cluster away from others'.
    tmp = tempfile.mkdtemp(prefix="petri-ray-", dir="/tmp")
    saved = os.environ.get("RAY_TMPDIR")
    os.environ["RAY_TMPDIR"] = tmp  # the daemons started by the tests inherit it
    c = Cluster(initialize_head=True, head_node_args=HEAD)
    try:
        c.add_node(**NODE)
        c.wait_for_nodes()
        yield c
    finally:
        c.shutdown()
        remove_orphaned_scratch()  # of the actors the tests killed mid-job
        # A private Ray whose daemon was killed leaves its agents behind for a minute.
        for pid in started_under(tmp):
            os.kill(pid, signal.SIGKILL)
        if saved is None:
            os.environ.pop("RAY_TMPDIR", None)
        else:
            os.environ["RAY_TMPDIR"] = saved
        shutil.rmtree(tmp, ignore_errors=True)


def started_under(ray_tmpdir: str) -> list[int]:
    """Processes the tests started with this RAY_TMPDIR (Ray's own, and the daemons')."""
    mark = f"RAY_TMPDIR={ray_tmpdir}".encode()
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if mark in proc.joinpath("environ").read_bytes().split(b"\0"):
                pids.append(int(proc.name))
        except OSError:
            pass
    return [p for p in pids if p != os.getpid()]


def on_ray(cluster, *sets, slots=2):
    """The settings of a run on `cluster`; `slots=None` lets the daemon fill the cluster."""
    own = ("daemon.executor=ray", f"ray.address={cluster.address}")
    return (*own, *([f"ray.slots={slots}"] if slots else []), *sets)


def points(run) -> list[tuple]:
    return db_rows(run, "SELECT key, val_error, macs, params, test_error FROM points ORDER BY key")


def attempts(run) -> list[tuple]:
    return db_rows(run, "SELECT job_id, lease, device, outcome, error FROM attempts "
                        "ORDER BY job_id, lease")


def node_of(device: str) -> str:
    return device.split("@", 1)[1]  # cpu@HOST/NODE


def slot_actors() -> int:
    """Live processes of petri's slot actors on this machine (Ray names them ray::SlotActor)."""
    n = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            n += proc.joinpath("cmdline").read_bytes().startswith(b"ray::SlotActor")
        except OSError:
            pass
    return n


def test_smoke_run_on_two_nodes_lands_every_job_once_with_the_local_points(cluster, tmp_path):
    sets = ("smoke.jobs=6", "smoke.steps=10", "smoke.step_time=0.02")
    start(tmp_path / "local", *sets)
    start(tmp_path / "ray", *on_ray(cluster, *sets))
    local, ray = wait_done(tmp_path / "local"), wait_done(tmp_path / "ray")
    assert ray["jobs"] == local["jobs"] == {"queued": 0, "running": 0, "done": 6, "failed": 0}
    assert points(tmp_path / "ray") == points(tmp_path / "local")
    rows = attempts(tmp_path / "ray")
    assert [(r[0], r[1], r[3]) for r in rows] == [(j, 1, "ok") for j in range(1, 7)]
    assert len({node_of(r[2]) for r in rows}) == 2  # the slots' actors sat on both nodes
    assert steps_trained(tmp_path / "ray") == 6 * 10
    # Status names each slot's node and share, read from the store without importing Ray.
    line = ray["daemon"]["slots"]
    assert line.startswith(f"Ray at {cluster.address}: 2 slot(s) of 1 CPU on ")
    assert all(node_of(r[2]) in line for r in rows)
    code = ("import sys; from petri.cli.main import main; main(['status', sys.argv[1]]); "
            "bad = {'ray', 'torch'} & set(sys.modules); assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ray")],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "Ray at" in res.stdout
    wait_for(lambda: slot_actors() == 0, 30, "the actors gone with their daemon")


@needs_fashion
def test_tiny_training_on_ray_gives_the_points_of_local_workers(cluster, tmp_path):
    config = ROOT / "configs" / "random_toy.yaml"
    sets = ["random.samples=2", "trainer.epochs=1", "data.subset=256", "data.val_subset=128",
            "trainer.checkpoint_every_s=0"]
    runs = {}
    for name, extra in (("local", ["daemon.threads=1"]), ("ray", list(on_ray(cluster)))):
        args = ["start", config, "--run-dir", tmp_path / name]
        for s in sets + extra:
            args += ["--set", s]
        res = run_petri(*args, timeout=120)
        assert res.returncode == 0, res.stderr
        runs[name] = wait_done(tmp_path / name, timeout=300)
    assert runs["ray"]["jobs"]["done"] == runs["local"]["jobs"]["done"] == 2
    assert points(tmp_path / "ray") == points(tmp_path / "local")  # to the last bit
    rows = attempts(tmp_path / "ray")
    assert [r[3] for r in rows] == ["ok", "ok"] and len({node_of(r[2]) for r in rows}) == 2
    # The checkpoints the points name came back to the head's job dirs, whole.
    for (ckpt,) in db_rows(tmp_path / "ray", "SELECT checkpoint FROM points"):
        assert (tmp_path / "ray" / ckpt).stat().st_size > 1000


def test_a_node_removed_mid_run_its_job_resumes_elsewhere_from_its_checkpoint(cluster,
                                                                                tmp_path):
    run = tmp_path / "run"
    extra = cluster.add_node(**NODE)
    cluster.wait_for_nodes()
    jobs_n, steps, every = 8, 60, 5
    start(run, *on_ray(cluster, f"smoke.jobs={jobs_n}", f"smoke.steps={steps}",
                       f"smoke.checkpoint_every={every}", "smoke.step_time=0.05", slots=3))
    gone = extra.node_id[:8]
    victim = wait_for(lambda: next((w for w in snapshot(run)["workers"]
                                    if w["device"].endswith(gone) and (w["step"] or 0) >= 12),
                                   None), 60, "a job in progress on the extra node")
    cluster.remove_node(extra, allow_graceful=False)
    wait_for(lambda: "waiting for room" in snapshot(run)["daemon"]["slots"], 30,
             "the lost slot waiting for a node")
    # A new node gives the lost slot room again; its new actor takes jobs there.
    fresh = cluster.add_node(**NODE)
    try:
        snap = wait_done(run, timeout=120)
        assert snap["jobs"] == {"queued": 0, "running": 0, "done": jobs_n, "failed": 0}
        assert [k for (k, *_) in points(run)] == sorted(f"smoke/{i}/point" for i in range(jobs_n))
        rows = [r for r in attempts(run) if r[0] == victim["job_id"]]
        assert [r[3] for r in rows] == ["infra", "ok"], rows
        assert "lost" in rows[0][4] and "ActorDiedError" in rows[0][4]
        assert node_of(rows[0][2]).endswith(gone) and not node_of(rows[1][2]).endswith(gone)
        assert any(node_of(r[2]).endswith(fresh.node_id[:8]) for r in attempts(run))
        log = [int(v) for v in (run / "jobs" / f"{victim['job_id']:06d}" / "steps.log")
               .read_text().split()]
        # Every step ran; the resumed attempt began at a checkpoint that had reached the head,
        # not at step 0; at most one checkpoint interval was done twice.
        assert set(log) == set(range(1, steps + 1)) and log.count(1) == 1
        assert len(log) <= steps + every
        assert steps_trained(run) <= jobs_n * steps + every
    finally:
        cluster.remove_node(fresh)


def test_kill9_of_the_daemon_then_resume_rejoins_the_cluster_and_lands_once(cluster, tmp_path):
    run = tmp_path / "run"
    jobs_n, steps, every = 4, 40, 5
    start(run, *on_ray(cluster, f"smoke.jobs={jobs_n}", f"smoke.steps={steps}",
                       f"smoke.checkpoint_every={every}", "smoke.step_time=0.03", slots=None))
    wait_for(lambda: any((w["step"] or 0) >= 6 for w in snapshot(run)["workers"]), 60,
             "a job in progress")
    assert " 2 slot(s) of 1 CPU " in snapshot(run)["daemon"]["slots"]  # one per live node
    killed = snapshot(run)["jobs"]["running"]
    kill_daemon_and_resume(run)
    snap = wait_done(run)
    assert snap["jobs"] == {"queued": 0, "running": 0, "done": jobs_n, "failed": 0}
    assert [k for (k, *_) in points(run)] == sorted(f"smoke/{i}/point" for i in range(jobs_n))
    outcomes = [r[3] for r in attempts(run)]
    # A job whose result landed just before the kill is ingested at resume, not rerun.
    assert outcomes.count("ok") == jobs_n and 1 <= outcomes.count("stopped") <= killed
    assert jobs_n * steps <= steps_trained(run) <= jobs_n * steps + killed * every
    assert db_rows(run, "PRAGMA integrity_check") == [("ok",)]
    # Ray ended the dead daemon's actors; the resumed daemon's went when it finished.
    wait_for(lambda: slot_actors() == 0, 30, "no actor left")


def test_kill9_of_a_daemon_with_a_private_ray_then_resume_starts_a_new_one(cluster, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("RAY_DEFAULT_OBJECT_STORE_MEMORY_PROPORTION", "0.01")  # shared box
    run = tmp_path / "run"
    start(run, "daemon.executor=ray", "ray.address=local", "ray.slots=2", "smoke.jobs=2",
          "smoke.steps=60", "smoke.step_time=0.03")
    wait_for(lambda: any((w["step"] or 0) >= 6 for w in snapshot(run)["workers"]), 60,
             "a job in progress")
    first = snapshot(run)["daemon"]["slots"]
    kill_daemon_and_resume(run)  # the private Ray died with its daemon: a new one starts
    assert wait_done(run)["jobs"]["done"] == 2
    assert steps_trained(run) <= 2 * 60 + 2 * 5
    assert snapshot(run)["daemon"]["slots"].split(":")[:2] != first.split(":")[:2]  # new Ray
    wait_for(lambda: slot_actors() == 0, 30, "no actor left")


def test_stop_checkpoints_the_jobs_on_their_actors_and_resume_finishes_them(cluster, tmp_path):
    run = tmp_path / "run"
    steps, every = 120, 5
    start(run, *on_ray(cluster, "smoke.jobs=2", f"smoke.steps={steps}",
                       f"smoke.checkpoint_every={every}", "smoke.step_time=0.02"))
    wait_for(lambda: sum((w["step"] or 0) >= 10 for w in snapshot(run)["workers"]) == 2, 60,
             "both jobs in progress")
    res = run_petri("stop", run, timeout=120)
    assert res.returncode == 0, res.stderr
    rows = attempts(run)
    assert [r[3] for r in rows] == ["stopped", "stopped"]
    for job in (1, 2):  # the stop checkpoint (any step) reached the head with its log
        d = run / "jobs" / f"{job:06d}"
        done = len((d / "steps.log").read_text().split())
        assert json.loads((d / "checkpoint.json").read_text())["step"] == done
    assert run_petri("resume", run).returncode == 0
    assert wait_done(run)["jobs"]["done"] == 2
    assert steps_trained(run) == 2 * steps  # nothing done twice after a clean stop


def test_an_actor_that_dies_or_hangs_is_replaced_and_its_attempt_fails_as_infra(cluster,
                                                                                 tmp_path):
    crash, hang = tmp_path / "crash", tmp_path / "hang"
    start(crash, *on_ray(cluster, "smoke.jobs=1", "smoke.crash_at=2", "daemon.max_attempts=2",
                         "daemon.backoff_s=0.05", slots=1))
    (fail,) = wait_done(crash)["failures"]
    assert fail["attempts"] == 2 and fail["fail_class"] == "infra"
    assert "Ray actor ray0 lost" in fail["error"]
    start(hang, *on_ray(cluster, "smoke.jobs=1", "smoke.hang_at=3", "daemon.hang_grace_s=1.0",
                        "daemon.progress_every_s=0.1", "daemon.max_attempts=2",
                        "daemon.backoff_s=0.05", slots=1))
    (fail,) = wait_done(hang)["failures"]
    rows = attempts(hang)
    assert [r[3] for r in rows] == ["infra", "infra"] and all("hung" in r[4] for r in rows)
    # Nothing of the given-up attempts landed: no result, and the same slot served each time
    # by a new actor.
    assert not (hang / "jobs" / "000001" / "result.json").exists()
    assert {w for (w,) in db_rows(hang, "SELECT DISTINCT worker FROM attempts")} == {"ray0"}


SHIM = textwrap.dedent('''
    # Loaded at start-up from PYTHONPATH: this interpreter behaves as if Ray were not installed.
    import sys
    class NoRay:
        def find_spec(self, name, path=None, target=None):
            if name == "ray" or name.startswith("ray."):
                raise ModuleNotFoundError("No module named 'ray'", name="ray")
    sys.meta_path.insert(0, NoRay())
''')


def test_a_run_asking_for_ray_without_ray_is_one_line_and_changes_nothing(tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(SHIM)
    env = {"PYTHONPATH": str(shim)}
    run = tmp_path / "run"
    res = run_petri("start", SMOKE, "--run-dir", run, "--set", "daemon.executor=ray", env=env)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "pip install -e '.[ray]'" in res.stderr and "daemon.executor" in res.stderr
    assert not run.exists()
    # A run saved with Ray asked for, resumed where Ray is gone: refused, its files untouched.
    create_run(load_config(SMOKE, ("daemon.executor=ray",)), run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    res = run_petri("resume", run, env=env)
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "pip install -e '.[ray]'" in res.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


def test_an_unreachable_cluster_fails_petri_start_in_one_line(tmp_path):
    res = run_petri("start", SMOKE, "--run-dir", tmp_path / "run", "--set", "daemon.executor=ray",
                    "--set", "ray.address=127.0.0.1:1", timeout=60)
    assert res.returncode != 0 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "cannot reach a Ray cluster at ray.address=127.0.0.1:1" in res.stderr
    assert "ray start --head" in res.stderr
