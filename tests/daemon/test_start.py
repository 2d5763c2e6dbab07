"""`petri start` and `petri resume` on run dirs that exist, are finished, or are being made by
another petri at the same moment: real processes, real daemons, a real SQLite file."""
import subprocess
import sys

import pytest

from petri.daemon.lock import daemon_alive
from tests.conftest import ROOT, run_petri
from tests.helpers.daemon import SMOKE, db_rows, start, store_bytes, wait_done, wait_for

pytestmark = pytest.mark.slow  # real daemons: `make test-fast` skips them

LONG = ("smoke.jobs=2", "smoke.steps=400", "smoke.step_time=0.05")


def sets(*assignments) -> list[str]:
    return [a for s in assignments for a in ("--set", s)]


def unchanged(run):
    """The run's store and config as they are now, to compare with later."""
    return store_bytes(run), (run / "config.yaml").read_bytes()


def test_start_with_another_config_is_refused_naming_the_keys_and_changes_nothing(tmp_path):
    run = tmp_path / "run"
    start(run, *LONG)
    assert run_petri("stop", run, timeout=120).returncode == 0
    before = unchanged(run)
    for args, keys in (([SMOKE, *sets(*LONG, "smoke.jobs=3", "daemon.cpu_slots=1")],
                        "daemon.cpu_slots, smoke.jobs"),
                       ([ROOT / "configs" / "random_toy.yaml"], "algo, compare")):
        res = run_petri("start", *args, "--run-dir", run, timeout=60)
        assert res.returncode == 1 and f"(different: {keys}" in res.stderr, res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and f"petri resume {run}" in res.stderr
        assert "daemon started" not in res.stdout and daemon_alive(run) is None
        assert unchanged(run) == before
    # The same config resumes the run, as before.
    res = run_petri("start", SMOKE, *sets(*LONG), "--run-dir", run, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "already holds this run: resuming it" in res.stdout and "daemon started" in res.stdout
    assert run_petri("stop", run, "--now").returncode == 0


def test_resume_or_start_of_a_finished_run_says_so_and_starts_nothing(tmp_path):
    run = tmp_path / "run"
    start(run, "smoke.jobs=2", "smoke.steps=2")
    wait_done(run)
    before = unchanged(run)
    for args in (("resume", run), ("resume", run, "--watch"),
                 ("start", SMOKE, *sets("smoke.jobs=2", "smoke.steps=2"), "--run-dir", run)):
        res = run_petri(*args, timeout=60)
        assert res.returncode == 0, res.stderr
        assert f"{run} is finished (search done" in res.stdout, res.stdout
        assert f"petri resume {run} --set KEY=VALUE` extends it (KEY: smoke.jobs)" \
            in res.stdout and "petri start CONFIG --run-dir" in res.stdout
        assert "daemon started" not in res.stdout and daemon_alive(run) is None
        assert unchanged(run) == before


def test_two_starts_at_once_on_a_new_run_dir_create_it_once(tmp_path):
    """What a user met: two `petri start` on one new run dir, and the loser blaming a UNIQUE
    constraint or the run dir's permissions. One must win; the others say that another
    petri is creating or running the run."""
    for attempt in range(4):
        run = tmp_path / f"run{attempt}"
        procs = [subprocess.Popen([sys.executable, "-m", "petri.cli.main", "start", str(SMOKE),
                                   "--run-dir", str(run), *sets(*LONG)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
        outs = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        won = [o for o in outs if o[0] == 0]
        lost = [o for o in outs if o[0] != 0]
        assert len(won) == 1 and "daemon started" in won[0][1], outs
        for code, out, err in lost:
            assert code == 1 and len(err.strip().splitlines()) == 1, err
            assert "another petri is creating or running" in err or "already running" in err, err
        wait_for(lambda: daemon_alive(run), 30, "the winner's daemon")
        assert run_petri("stop", run, "--now").returncode == 0
        assert db_rows(run, "PRAGMA integrity_check") == [("ok",)]
        assert db_rows(run, "SELECT count(*) FROM jobs") == [(2,)]


# The CLI checks the config by building its algorithm; the daemon it runs in the same process
# takes that one instead of building a second.
COUNT_BUILDS = """
import sys
from petri.algos import registry
from petri.cli.main import main
built, real = [], registry.create_algo
registry.create_algo = lambda cfg: built.append(cfg["algo"]) or real(cfg)
code = main(sys.argv[1:])
print("built", len(built))
sys.exit(code)
"""


def count_builds(*args) -> int:
    """How many algorithms `petri ARGS` built in its process (the daemon runs there too)."""
    res = subprocess.run([sys.executable, "-c", COUNT_BUILDS, *map(str, args)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return int(res.stdout.strip().splitlines()[-1].split()[1])


def test_a_foreground_daemon_builds_the_algorithm_once_per_process(tmp_path):
    run = tmp_path / "run"
    assert count_builds("start", SMOKE, "--run-dir", run, *sets("smoke.jobs=1"),
                        "--foreground") == 1
    stopped = tmp_path / "stopped"
    start(stopped, "smoke.jobs=3", "smoke.steps=40")
    assert run_petri("stop", stopped).returncode == 0
    assert count_builds("resume", stopped, "--foreground") == 1
