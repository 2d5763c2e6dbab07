"""`petri retry | cancel | resume --set` on a stopped run, and the requests a live daemon
serves: what changes, the events it leaves, and one-line refusals that change nothing.
tests/test_life.py checks the requests, tests/daemon/test_life.py real daemons."""
import json

import pytest

from petri.store.store import RunStore
from tests.helpers.cli import one_line_error
from tests.helpers.life import stored
from tests.conftest import run_petri

pytestmark = pytest.mark.usefixtures("cli_both_ways")

def test_retry_and_cancel_on_a_stopped_run_change_the_store_and_say_so(run):
    res = run_petri("retry", run, "--failed", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"run_dir": str(run), "retried": [2], "by": "command"}
    res = run_petri("cancel", run, "3", "4")
    assert res.returncode == 0 and f"cancelled job(s) 3, 4 of {run}" in res.stdout
    res = run_petri("retry", run, "4")
    assert res.returncode == 0 and f"`petri resume {run}` runs them" in res.stdout
    jobs, events, _ = stored(run)
    assert jobs == [(1, "done", 1, None), (2, "queued", 0, None), (3, "failed", 1, "cancelled"),
                    (4, "queued", 0, None)]
    assert [e["kind"] for e in events[2:]] == ["retry", "cancel", "cancel", "retry"]
    assert "ValueError: bad path" in events[2]["message"]
    assert RunStore.open(run, readonly=True).view.meta()["done"] == "0"  # work to do again
    assert not (run / "requests").exists() or not list((run / "requests").iterdir())


@pytest.mark.parametrize("args, words", [
    (("retry", "{run}", "9"), ("the run has no job 9", "petri status")),
    (("retry", "{run}", "2", "1"), ("job 1 (sleep_train) is done, so it cannot be retried",)),
    (("retry", "{run}"), ("name the failed jobs to retry, or pass --failed",)),
    (("retry", "{run}", "2", "--failed"), ("not both",)),
    (("retry", "{run}", "0"), ("0 is not in the range x>=1",)),
    (("cancel", "{run}", "4", "2"), ("job 2 (sleep_train) is failed, so it cannot be cancel",)),
    (("cancel", "{run}"), ("Missing argument 'JOBS...'",)),
    (("resume", "{run}", "--set", "smoke.steps=9"),
     ("--set smoke.steps: an existing run keeps its config", "only smoke.jobs may change")),
    (("resume", "{run}", "--set", "smoke.jobs=0"), ("smoke.jobs must be at least 1",)),
    (("resume", "{run}", "--set", "smoke.jobs"), ("is not KEY=VALUE",)),
])
def test_bad_input_is_one_line_and_changes_nothing(run, args, words):
    before = stored(run)
    one_line_error(run_petri(*(a.format(run=run) for a in args)), *words)
    assert stored(run) == before


def test_a_folder_that_is_no_run_is_one_line_and_gets_no_lock_file(tmp_path):
    for args in (("retry", tmp_path, "--failed"), ("cancel", tmp_path, "1")):
        one_line_error(run_petri(*args), f"no petri run in {tmp_path}")
    assert list(tmp_path.iterdir()) == []
