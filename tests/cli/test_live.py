"""The live view: rendered from a store with known points, and driven in a real pty."""
import os
import sys
import time

import pexpect
import pytest
from rich.console import Console

from petri.cli.live import frame, frontier_plot
from petri.launch import save_config
from petri.rundir import PROGRESS
from petri.io import atomic_write_json
from petri.status import snapshot
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore

# (cost, error): ids 1, 2, 4 and 6 are on the lower hull; 3 is Pareto-optimal and inside the
# 10% band but above the hull; 5 is dominated.
POINTS = [(1e5, 0.40), (3e5, 0.30), (5e5, 0.27), (1e6, 0.20), (2e6, 0.35), (4e6, 0.15)]


@pytest.fixture
def run_dir(tmp_path):
    save_config({"algo": "smoke", "hull": {"eps": 0.1}}, tmp_path)
    store = RunStore.open(tmp_path, create=True)
    store.enqueue([JobSpec("sleep_train", {}, f"k{i}") for i in range(len(POINTS) + 1)])
    for i, (cost, err) in enumerate(POINTS):
        j = store.claim("cpu0", "cpu")
        store.complete(j.id, j.lease, {"wall_s": 10.0},
                       [PointSpec(f"p{i}", err, macs=int(cost), params=100 * (i + 1),
                                  stage="seed" if i < 2 else "grown", parent=1 if i else None)],
                       [], 3)
    running = store.claim("cpu1", "cpu", pid=os.getpid())
    d = tmp_path / "jobs" / f"{running.id:06d}"
    d.mkdir(parents=True)
    atomic_write_json(d / PROGRESS, {"t": time.time(), "job_id": running.id,
                                     "lease": running.lease, "step": 30, "total_steps": 120,
                                     "loss": 1.234, "images_per_s": 456.0, "eta_s": 42.0})
    store.log_event("search", "search done: something to read")
    store.close()
    return tmp_path


def render(snap, width, height):
    console = Console(width=width, height=height, record=True, force_terminal=False,
                      color_system=None)
    console.print(frame(snap, width, height))
    return console.export_text()


def test_snapshot_knows_hull_band_and_compute(run_dir):
    snap = snapshot(run_dir)
    assert snap["hull"] == [1, 2, 4, 6]
    assert set(snap["band"]) == {1, 2, 3, 4, 6}
    assert snap["frontier"] == [1, 2, 3, 4, 6]
    assert snap["compute_s"] >= 60.0
    assert snap["workers"][0]["loss"] == 1.234


@pytest.mark.parametrize("width,height", [(80, 24), (160, 48)])
def test_frame_shows_frontier_jobs_and_events(run_dir, width, height):
    snap = snapshot(run_dir)
    text = render(snap, width, height)
    lines = text.splitlines()
    assert len(lines) <= height and all(len(ln) <= width for ln in lines)
    for needle in ("frontier of", "hull", "newest #6", "eps band 0.1", "cost: MACs (log axis)",
                   "val error %", "running jobs", "sleep_train", "30/120", "1.234", "456",
                   "42s", "slots", "search done: something to read", "stopped"):
        assert needle in text, needle
    if width >= 110:  # a wide terminal also lists the frontier points with their costs
        for cost in ("100.00k", "300.00k", "1.00M", "4.00M"):
            assert cost in text, cost
        assert "2.00M" not in text.split("frontier points")[1]  # id 5 is dominated


@pytest.mark.parametrize("costs", [[0.27], [0.27, 0.27], [0.27, 0.71]])
def test_the_plot_draws_latencies_under_a_millisecond_even_with_one_cost(costs):
    points = [{"id": i + 1, "cost": c, "error": 0.5 - i / 10, "created": i}
              for i, c in enumerate(costs)]
    snap = {"points": points, "hull": [1], "band": [1], "log_cost": True,
            "cost_metric": "latency_ms"}
    text = frontier_plot(snap, 60, 12).plain
    assert "cost: latency ms" in text and ("(log axis)" in text) == (len(set(costs)) > 1)


def test_frame_of_an_empty_run(tmp_path):
    save_config({"algo": "smoke"}, tmp_path)
    RunStore.open(tmp_path, create=True).close()
    text = render(snapshot(tmp_path), 80, 24)
    assert "no trained point yet" in text and "no job running" in text


def test_watch_runs_in_a_real_pty_and_quits_on_ctrl_c(run_dir):
    child = pexpect.spawn(sys.executable, ["-m", "petri.cli.main", "watch", str(run_dir),
                                           "--interval", "0.2"],
                          dimensions=(24, 80), timeout=30, env={**os.environ, "TERM": "xterm"})
    child.expect("frontier")
    child.expect("running jobs")
    time.sleep(1.0)  # a few refreshes
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before


def test_watch_of_a_missing_run_is_one_clear_line(tmp_path):
    from tests.conftest import run_petri

    res = run_petri("watch", tmp_path / "nope")
    assert res.returncode == 1 and "no petri run" in res.stderr


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_a_figure_of_several_runs(run_dir, tmp_path_factory, suffix):
    pytest.importorskip("matplotlib")
    from tests.conftest import run_petri

    out = tmp_path_factory.mktemp("plot") / f"frontier{suffix}"
    res = run_petri("plot", run_dir, run_dir, "-o", out, "--lineage")
    assert res.returncode == 0, res.stderr
    data = out.read_bytes()
    assert len(data) > 5000
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data[:500]
    if suffix == ".svg":
        assert b"validation error" in data and b"MACs" in data


def test_header_is_whole_at_80x24_with_run_progress_and_eta(run_dir):
    snap = {**snapshot(run_dir), "planned_points": 20, "eta_s": 754.0}
    head = render(snap, 80, 24).splitlines()[:2]
    assert "6 of 20 points" in head[0] and "ETA 0:12:34" in head[0]
    assert "compute 0:01:00" in head[1] and "frontier 5" in head[1]
    assert not any("…" in line for line in head)
    snap["planned_points"] = None  # an algorithm that cannot know its total: just the count
    assert "│ 6 points" in render(snap, 80, 24).splitlines()[0]


def test_header_shows_an_uncertain_eta_as_a_range_and_stays_whole(run_dir):
    snap = {**snapshot(run_dir), "planned_points": 20, "eta_s": 754.0,
            "eta_range_s": [600.0, 1000.0]}
    head = render(snap, 80, 24).splitlines()[0]
    assert "ETA 0:10:00-0:16:40" in head and "…" not in head
    from petri.cli.status import eta_text

    assert eta_text(snap) == "10-17 min"
    assert eta_text({**snap, "eta_range_s": None}) == "about 13 min"
    assert eta_text({"eta_s": 9000.0, "eta_range_s": [7200.0, 12000.0]}) == "2.0-3.3 h"


# Ten jobs of 60 s on two slots, back to back: 300 s of wall time for ten jobs.
EVEN = [(t0 + 60.0 * (i // 2), t0 + 60.0 * (i // 2 + 1)) for t0 in [1000.0] for i in range(10)]


def test_eta_is_the_jobs_left_at_the_throughput_measured_so_far():
    from petri.status import run_eta

    eta = run_eta(20, EVEN, [], now=1300.0)
    assert eta.s == pytest.approx(300.0) and not eta.uncertain  # every job took 60 s
    half = run_eta(20, EVEN, [(1300.0, 0.5), (1300.0, 0.5)], now=1330.0)
    assert half.s == pytest.approx(9 * 330 / 11)  # running jobs count by the share done
    assert run_eta(None, EVEN, [], 1300.0) is None and run_eta(20, [], [], 1300.0) is None
    assert run_eta(10, EVEN, [], 1300.0) is None  # the plan is done


def test_eta_does_not_jump_when_jobs_start_or_wait():
    # The old estimate divided by the jobs running at the moment: one or two halved it.
    from petri.status import run_eta

    one = run_eta(20, EVEN, [(1300.0, 0.0)], now=1300.0)
    two = run_eta(20, EVEN, [(1300.0, 0.0), (1300.0, 0.0)], now=1300.0)
    assert one.s == pytest.approx(two.s)
    # A wait between jobs (the daemon stopped overnight) is not throughput lost.
    later = [(s + 36000.0, f + 36000.0) if s >= 1120.0 else (s, f) for s, f in EVEN]
    assert run_eta(20, later, [], now=37300.0).s == pytest.approx(300.0)


def test_eta_is_a_range_while_few_jobs_of_unequal_length_have_ended():
    from petri.status import run_eta

    spans = [(0.0, 30.0), (30.0, 120.0), (120.0, 165.0), (165.0, 365.0)]
    few = run_eta(20, spans, [], now=365.0)
    assert few.uncertain and few.low_s < few.s < few.high_s
    assert few.s == pytest.approx(16 * 365 / 4)
    many = run_eta(80, spans * 10, [], now=365.0)  # the same spread, measured on more jobs
    assert many.high_s / many.low_s < few.high_s / few.low_s


def test_snapshot_and_status_give_the_eta_from_the_planned_jobs(tmp_path, monkeypatch):
    import petri.status

    save_config({"algo": "smoke"}, tmp_path)
    store = RunStore.open(tmp_path, create=True)
    store.enqueue([JobSpec("sleep_train", {}, f"k{i}") for i in range(3)])
    for _ in range(2):
        j = store.claim("cpu0", "cpu")
        store.complete(j.id, j.lease, {"wall_s": 1.0}, [], [], 3)
    store.set_meta(planned_points=4, planned_jobs=4)
    store.close()
    monkeypatch.setattr(petri.status, "daemon_alive", lambda run_dir: os.getpid())
    snap = snapshot(tmp_path)
    assert snap["eta_s"] is not None and snap["eta_range_s"] is not None  # two jobs: unsure
    from petri.cli.status import render as status_render

    console = Console(width=80, record=True, color_system=None)
    console.print(status_render(snap))
    assert "min to go" in console.export_text()


def test_newest_is_the_point_that_landed_last_and_never_none(run_dir, tmp_path_factory):
    snap = snapshot(run_dir)
    snap["points"][1]["created"] = snap["points"][-1]["created"] + 1  # id 2 landed last
    text = render(snap, 80, 24)
    assert "newest #2" in text
    empty = tmp_path_factory.mktemp("empty")
    save_config({"algo": "smoke"}, empty)
    RunStore.open(empty, create=True).close()
    assert "newest" not in render(snapshot(empty), 80, 24)


def test_cpu_slots_show_cpu_percent_and_memory_of_their_worker(run_dir):
    from petri.status import process_usage, with_cpu_percent

    usage = process_usage(os.getpid())
    assert usage.rss_bytes > 2 ** 20 and usage.cpu_s > 0
    before = snapshot(run_dir)
    worker = {"pid": os.getpid(), "cpu_s": 10.0, "rss_bytes": 3 * 2 ** 29}
    before["workers"] = [{**before["workers"][0], **worker}]
    after = {**before, "t": before["t"] + 2.0,
             "workers": [{**before["workers"][0], "cpu_s": 11.5}]}
    text = render(with_cpu_percent(after, before), 80, 24)
    row = next(ln for ln in text.splitlines() if "cpu1" in ln and "#7" in ln)
    assert "75%" in row and "1.50 GiB" in row


def test_an_evaluation_shows_test_accuracy_as_models_finish(tmp_path):
    save_config({"algo": "smoke"}, tmp_path)
    store = RunStore.open(tmp_path, create=True)
    store.enqueue([JobSpec("eval_train", {}, f"e{i}") for i in range(2)])
    for i, test_error in enumerate((0.125, 0.25)):
        j = store.claim("cpu0", "cpu")
        store.complete(j.id, j.lease, {}, [PointSpec(f"e{i}", None, macs=1000 * (i + 1),
                                                     test_error=test_error, stage="eval")],
                       [], 3)
    store.close()
    text = render(snapshot(tmp_path), 80, 24)
    assert "models evaluated" in text and "test acc" in text
    assert "87.50%" in text and "75.00%" in text


@pytest.mark.parametrize("same_process", [True, False])
def test_snapshot_reads_a_workers_usage_only_from_the_process_that_claimed_the_job(
        tmp_path, monkeypatch, same_process):
    import petri.status
    from petri.daemon.process import process_start_time

    save_config({"algo": "smoke"}, tmp_path)
    store = RunStore.open(tmp_path, create=True)
    store.enqueue([JobSpec("sleep_train", {}, "k")])
    start = process_start_time(os.getpid()) if same_process else "1"  # "1": a reused pid
    store.claim("cpu0", "cpu", pid=os.getpid(), pid_start=start)
    store.close()
    monkeypatch.setattr(petri.status, "daemon_alive", lambda run_dir: os.getpid())
    worker = snapshot(tmp_path)["workers"][0]
    assert (worker["rss_bytes"] is not None and worker["cpu_s"] > 0) == same_process
