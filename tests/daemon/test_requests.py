"""The requests that change a run (petri/daemon/life.py): carried out by a live daemon between two
turns of its loop, or by the command under the run's lock where none runs."""
import threading
import time
from pathlib import Path

import pytest
import yaml

from petri.daemon.lock import RunLock
from petri.errors import PetriError
from petri.daemon.life import Request, perform, serve, submit
from petri.store.store import RunStore
from tests.helpers.life import stored
from tests.conftest import run_petri_here


def test_resume_set_extends_a_finished_run_before_its_daemon_starts(run, monkeypatch):
    from petri.cli import daemon as cli_daemon

    launched = []
    monkeypatch.setattr(cli_daemon, "launch", lambda run_dir, fg, opened: launched.append(run_dir))
    res = run_petri_here("resume", run, "--set", "smoke.jobs=6")
    assert res.returncode == 0 and f"{run}: smoke.jobs 4 -> 6" in res.stdout, res.stderr
    assert launched == [run]
    assert yaml.safe_load((run / "config.yaml").read_text())["smoke"]["jobs"] == 6
    with RunStore.open(run, readonly=True) as store:
        assert store.view.events(1)[0]["message"] == "extended: smoke.jobs 4 -> 6"
        meta = store.view.meta()
    assert meta["planned_points"] == "6" and meta["done"] == "0"
    res = run_petri_here("resume", run, "--set", "smoke.jobs=6")  # as it is: nothing to do
    assert f"{run}: nothing changed (smoke.jobs=6 as before)" in res.stdout


# ---- the request a live daemon serves ---------------------------------------------------------
class FakeDaemon:
    """What the daemon does for requests: hold the run's lock and `serve` in its loop."""

    def __init__(self, run: Path, serving: bool = True):
        self.run, self.lock = run, RunLock(run)
        assert self.lock.acquire()
        self.stopped = []
        self.end = threading.Event()
        self.thread = threading.Thread(target=self.loop if serving else self.end.wait)
        self.thread.start()

    def loop(self):
        with RunStore.open(self.run) as store:  # the daemon's own connection
            while not self.end.is_set():
                serve(self.run, lambda r: perform(r, store, self.run, self.stopped.append,
                                                  "daemon")[0])
                time.sleep(0.01)

    def close(self):
        self.end.set()
        self.thread.join(10)
        self.lock.release()


def test_a_live_daemon_carries_requests_out_and_stops_a_cancelled_worker(run):
    daemon = FakeDaemon(run)
    try:
        reply = submit(run, Request("cancel", jobs=(3,)))
        assert (reply.by, reply.jobs) == ("daemon", [3])
        assert [j.id for j in daemon.stopped] == [3]  # the running one's worker
        assert submit(run, Request("extend", sets=("smoke.jobs=5",))).changes == \
            {"smoke.jobs": [4, 5]}
        with pytest.raises(PetriError, match="the run has no job 7"):
            submit(run, Request("retry", jobs=(7,)))
    finally:
        daemon.close()
    assert sorted(p.name for p in (run / "requests").iterdir()) == []


def test_a_request_no_daemon_takes_is_withdrawn_and_one_it_left_is_done_here(run):
    daemon = FakeDaemon(run, serving=False)
    try:
        with pytest.raises(PetriError, match="did not take the request within 0 s"):
            submit(run, Request("retry", jobs=(2,)), timeout_s=0.2)
        assert list((run / "requests").iterdir()) == []
        threading.Timer(0.3, daemon.close).start()  # it ends without serving
        reply = submit(run, Request("retry", jobs=(2,)))
    finally:
        daemon.end.set()
    assert (reply.by, reply.jobs) == ("command", [2])
    assert stored(run)[0][1] == (2, "queued", 0, None)
