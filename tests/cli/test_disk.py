"""A run's disk: the bytes `status` and `ls` report, `petri gc`, `petri archive` and the
commands that read an archive, and `status`'s capped tables. Real store files, real job dirs."""
import json
import tarfile
from pathlib import Path

import pytest

from petri.disk import finished_files, used_bytes
from petri.launch import save_config
from petri.rundir import RunDir
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore
from tests.helpers.cli import make_run, one_line_error
from tests.conftest import run_petri

pytestmark = pytest.mark.usefixtures("cli_both_ways")

CHILD_INIT = "jobs/000002/child_init.pt"


def write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w" * size)


def grown_run(run: Path) -> Path:
    """Four jobs as Petridish leaves them: #1 trained a point (its weights, a previous copy),
    #2 grew a child (its search checkpoint, the child's warm start), #3 trains that child and
    is queued, #4 ended with no point (a job kind's own checkpoint, a log)."""
    save_config({"algo": "smoke"}, run)
    rd = RunDir(run)
    with RunStore.open(run, create=True) as store:
        store.enqueue([JobSpec("train", {}, "seed"), JobSpec("search", {}, "grow")])
        j1 = store.claim("w", "cpu")
        store.complete(j1.id, j1.lease, {}, [PointSpec(
            "p1", 0.3, macs=1000, checkpoint="jobs/000001/checkpoint.pt")], [])
        j2 = store.claim("w", "cpu")
        store.complete(j2.id, j2.lease, {}, [], [JobSpec("post_train", {"init": CHILD_INIT},
                                                         "child")])
        store.enqueue([JobSpec("sleep_train", {}, "other")])
        store.conn.execute("UPDATE jobs SET priority = 1 WHERE id = 4")  # before #3
        j4 = store.claim("w", "cpu")
        store.complete(j4.id, j4.lease, {}, [], [])
    for rel, size in (("jobs/000001/checkpoint.pt", 5000), ("jobs/000001/checkpoint.pt.prev", 5000),
                      ("jobs/000002/checkpoint.pt", 7000), (CHILD_INIT, 3000),
                      ("jobs/000004/checkpoint.json", 100), ("jobs/000004/steps.log", 10),
                      ("jobs/000001/result.json", 10)):
        write(rd.root / rel, size)
    return run


def gc(run) -> dict:
    res = run_petri("gc", run, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def left(run: Path) -> set[str]:
    return {p.relative_to(run).as_posix() for p in run.glob("jobs/*/*")}


def test_gc_frees_what_no_point_keeps_and_no_job_to_come_reads(tmp_path):
    run = grown_run(tmp_path / "run")
    before = used_bytes(run / "jobs")
    out = gc(run)
    assert out["files"] == 3 and out["bytes"] >= 5000 + 7000 + 100
    assert out["disk_bytes"] == used_bytes(run)
    assert used_bytes(run / "jobs") == before - out["bytes"]  # the store's files aside
    assert left(run) == {"jobs/000001/checkpoint.pt", CHILD_INIT, "jobs/000004/steps.log",
                         "jobs/000001/result.json"}
    assert gc(run)["files"] == 0  # nothing more to free
    with RunStore.open(run) as store:  # the child trains: its warm start is no longer read
        j3 = store.claim("w", "cpu")
        assert j3.id == 3
        store.complete(j3.id, j3.lease, {}, [], [])
    assert gc(run)["files"] == 1 and CHILD_INIT not in left(run)


def test_a_failed_job_may_be_retried_so_its_inputs_stay(tmp_path):
    run = grown_run(tmp_path / "run")
    with RunStore.open(run) as store:
        j3 = store.claim("w", "cpu")
        store.fail(j3.id, j3.lease, "deterministic", "out of memory")
    gc(run)
    assert CHILD_INIT in left(run)


def test_a_finished_job_leaves_its_own_weights_and_those_its_spec_read(tmp_path):
    run = grown_run(tmp_path / "run")
    with RunStore.open(run, readonly=True) as store:
        child, seed = store.view.jobs(kind="post_train")[0], store.get(1)
    assert finished_files(RunDir(run), child) == [CHILD_INIT]
    assert finished_files(RunDir(run), seed) == ["jobs/000001/checkpoint.pt",
                                                 "jobs/000001/checkpoint.pt.prev"]


def test_gc_of_what_is_no_run_is_one_line(tmp_path):
    one_line_error(run_petri("gc", tmp_path), "no petri run")
    one_line_error(run_petri("gc", tmp_path / "missing"), "does not exist")


def test_status_and_ls_report_the_bytes_a_run_takes(tmp_path):
    run = grown_run(tmp_path / "runs" / "a")
    res = run_petri("status", run, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["disk_bytes"] == used_bytes(run) > 20_000
    assert "disk" in run_petri("status", run).stdout
    res = run_petri("ls", tmp_path / "runs", "--json")
    assert [r["disk_bytes"] for r in json.loads(res.stdout)] == [used_bytes(run)]
    assert "KiB" in run_petri("ls", tmp_path / "runs").stdout


def test_status_caps_its_tables_and_all_shows_every_row(tmp_path):
    save_config({"algo": "smoke"}, tmp_path)
    n = 30
    with RunStore.open(tmp_path, create=True) as store:
        store.enqueue([JobSpec("sleep_train", {}, f"k{i}") for i in range(n)])
        for i in range(n):
            j = store.claim("w", "cpu")
            # every point on the frontier: dearer and more accurate in step
            store.complete(j.id, j.lease, {}, [PointSpec(f"p{i}", 0.5 - 0.01 * i,
                                                         macs=1000 * (i + 1))], [])
    capped = run_petri("status", tmp_path, env={"COLUMNS": "120"}).stdout
    assert "… and 10 more" in capped
    rows = [ln for ln in capped.splitlines() if "smoke" not in ln and "%" in ln]
    assert len(rows) == 20
    assert "1.00k" in capped and "30.00k" in capped  # the cheapest and the most accurate
    full = run_petri("status", tmp_path, "--all", env={"COLUMNS": "120"}).stdout
    assert "more" not in full and len([ln for ln in full.splitlines() if "%" in ln]) == n


@pytest.fixture(scope="module")
def archived(tmp_path_factory):
    """A run with two trained points, and its archive."""
    run = make_run(tmp_path_factory.mktemp("base") / "run")
    save_config({"algo": "smoke", "data": {"dataset": "fashion-mnist"}}, run)
    write(run / "jobs/000001/events.out.tfevents.1.host", 64)
    write(run / "jobs/000001/checkpoint.pt.prev", 64)  # no point keeps it: it stays behind
    out = run.parent / "run.tar.gz"
    res = run_petri("archive", run, "-o", out, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) | {"bytes": 0} == {"path": str(out), "weights": 2,
                                                     "events": 1, "bytes": 0}
    return run, out


def test_an_archive_holds_store_config_point_weights_and_events_only(archived):
    run, out = archived
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert {"run/ARCHIVE.json", "run/petri.db", "run/config.yaml",
            "run/jobs/000001/checkpoint.pt", "run/jobs/000002/checkpoint.pt",
            "run/jobs/000001/events.out.tfevents.1.host"} <= names
    assert "run/jobs/000001/checkpoint.pt.prev" not in names


def test_status_compare_and_plot_read_an_archive_as_the_run(archived, tmp_path):
    run, out = archived
    snap = json.loads(run_petri("status", run, "--json").stdout)
    res = run_petri("status", out, "--json")
    assert res.returncode == 0, res.stderr
    from_archive = json.loads(res.stdout)
    assert from_archive["points"] == snap["points"]
    assert from_archive["frontier"] == snap["frontier"]
    res = run_petri("compare", out, run, "--json")
    assert res.returncode == 0, res.stderr
    a, b = json.loads(res.stdout)["runs"]
    assert a["hypervolume"] == b["hypervolume"] and a["points"] == b["points"] == 2
    res = run_petri("plot", out, "-o", tmp_path / "f.png")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "f.png").stat().st_size > 1000


def test_export_reads_the_weights_from_an_archive(archived, tmp_path):
    run, out = archived
    res = run_petri("export", out, "-o", tmp_path / "g.h5", "--json")
    assert res.returncode == 0, res.stderr
    assert [m["id"] for m in json.loads(res.stdout)["models"]] == [1, 2]


def test_a_damaged_or_foreign_archive_is_one_line_and_left_untouched(archived, tmp_path):
    run, out = archived
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(out.read_bytes()[:2000])
    foreign = tmp_path / "foreign.tar.gz"
    with tarfile.open(foreign, "w:gz") as tar:
        tar.add(run / "config.yaml", "run/config.yaml")
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    for bad in (cut, foreign, text):
        before = bad.read_bytes()
        one_line_error(run_petri("status", bad), str(bad), "not a readable petri archive")
        assert bad.read_bytes() == before
    one_line_error(run_petri("compare", run, cut), "not a readable petri archive")


def test_archive_of_what_is_no_run_is_one_line(tmp_path):
    one_line_error(run_petri("archive", tmp_path, "-o", tmp_path / "x.tar.gz"), "no petri run")
    assert not (tmp_path / "x.tar.gz").exists()
