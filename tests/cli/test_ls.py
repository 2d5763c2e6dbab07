import json
import subprocess
import sys

from tests.conftest import ROOT, run_petri

SMOKE = ROOT / "configs" / "smoke.yaml"


def test_ls_lists_the_runs_made_here_with_their_state(tmp_path):
    for name, jobs in (("a", 2), ("nested/b", 3)):
        res = run_petri("start", SMOKE, "--run-dir", tmp_path / name, "--foreground",
                        "--set", f"smoke.jobs={jobs}", "--set", "smoke.steps=2")
        assert res.returncode == 0, res.stderr
    (tmp_path / "not-a-run").mkdir()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "petri.db").write_bytes(b"")
    (broken / "config.yaml").write_text("algo: smoke\n")
    res = run_petri("ls", tmp_path, "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["run_dir"]: r for r in json.loads(res.stdout)}
    assert set(rows) == {str(tmp_path / "a"), str(tmp_path / "nested" / "b"), str(broken)}
    a = rows[str(tmp_path / "a")]
    assert a["state"] == "done" and a["algo"] == "smoke" and a["points"] == 2 and a["frontier"]
    assert rows[str(tmp_path / "nested" / "b")]["points"] == 3
    assert rows[str(broken)]["state"] == "unreadable"
    table = run_petri("ls", tmp_path, env={"COLUMNS": "160"}).stdout
    assert "done" in table and "unreadable" in table
    # An inspecting command: no torch.
    code = ("import sys; from petri.cli.main import main; main(['ls', sys.argv[1]]); "
            "assert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code, str(tmp_path)]).returncode == 0


def test_run_list_finds_the_shipped_configs_from_any_directory(tmp_path):
    res = run_petri("run", "--list", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    names = {line.split()[0]: line.rsplit("[", 1)[1].rstrip("]") for line in
             res.stdout.splitlines()}
    assert {"petridish", "random", "darts", "pc-darts", "mood"} <= set(names)
    from pathlib import Path

    assert all(Path(p).is_file() for p in names.values())
