"""Bad configuration is one line naming the key, what it expects and what it got.

Checked at load time, for the file and for every `--set`, so nothing reaches a worker; and a
bad run dir file (config, pid file) is one line too, with nothing stored changed.
"""
import pytest

from petri.launch import load_config
from petri.errors import ConfigError
from tests.conftest import ROOT, run_petri
from tests.helpers.cli import one_line_error

# Each case runs in this interpreter (fast) and in a fresh petri process (slow).
pytestmark = pytest.mark.usefixtures("cli_both_ways")

SMOKE = ROOT / "configs" / "smoke.yaml"
TOY = ROOT / "configs" / "petridish_toy.yaml"
RANDOM = ROOT / "configs" / "random_toy.yaml"
DARTS = ROOT / "configs" / "pc_darts_toy.yaml"
MOOD = ROOT / "configs" / "mood_toy.yaml"

CASES = [
    # (config, --set, words the message must hold)
    (SMOKE, "daemon.cpu_slots=two", ["daemon.cpu_slots", "integer", "'two'"]),
    (SMOKE, "daemon.cpu_slots=1.5", ["daemon.cpu_slots", "integer", "1.5"]),
    (SMOKE, "daemon.cpu_slots=0", ["daemon.cpu_slots", "at least 1"]),
    (SMOKE, "daemon.threads=-1", ["daemon.threads", "at least 1"]),
    (SMOKE, "daemon.threads=some", ["daemon.threads", "integer", "'some'"]),
    (SMOKE, "seed=abc", ["seed", "integer", "'abc'"]),
    (SMOKE, "seed=-1", ["seed", "at least 0"]),
    (SMOKE, "daemon.backoff_s=.nan", ["daemon.backoff_s", "finite"]),
    (SMOKE, "daemon.hang_grace_s=-5", ["daemon.hang_grace_s", "at least"]),
    (SMOKE, "daemon.poll_s=0", ["daemon.poll_s", "at least"]),
    (SMOKE, "daemon.use_gpus=maybe", ["daemon.use_gpus", "true or false"]),
    (SMOKE, "smoke.jobs=100000000", ["smoke.jobs", "at most"]),
    (SMOKE, "smoke.steps=many", ["smoke.steps", "integer"]),
    (SMOKE, "smoke.jobz=3", ["unknown smoke setting", "jobz"]),
    (SMOKE, "daemon=3", ["daemon must be a mapping"]),
    (TOY, "trainer.epochs=three", ["trainer.epochs", "integer", "'three'"]),
    (TOY, "trainer.lr=fast", ["trainer.lr", "number", "'fast'"]),
    (TOY, "trainer.lr=-1", ["trainer.lr", "greater than 0"]),
    (TOY, "trainer.drop_path=2", ["trainer.drop_path", "less than 1"]),
    (TOY, "post_train.epochs=0", ["trainer.epochs", "at least 1"]),
    (TOY, "hull.eps=.nan", ["hull.eps", "finite"]),
    (RANDOM, "random.samples='3'", ["random.samples", "integer", "'3'"]),
    (DARTS, "arch.betas=[0.5]", ["arch.betas", "2 values"]),
    (DARTS, "arch.train_portion=1.5", ["arch.train_portion", "less than 1"]),
    (MOOD, "mood.regulariser=l3", ["mood.regulariser", "one of l1, l2"]),
]


@pytest.mark.parametrize("config,assignment,words", CASES,
                         ids=[c[1] for c in CASES])
def test_bad_value_is_one_line_naming_key_type_and_value(config, assignment, words):
    with pytest.raises(ConfigError) as info:
        load_config(config, (assignment,))
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_a_good_float_written_the_yaml_1_1_way_is_accepted():
    # PyYAML reads `1e-3` as a string; a number field takes it as the number it means.
    cfg = load_config(TOY, ("trainer.lr=1e-3",))
    assert cfg["trainer"]["lr"] == "1e-3"  # the file's own text is kept; the job gets 0.001
    from petri.train.config import TrainCfg

    assert TrainCfg.from_dict(cfg["trainer"]).lr == 0.001


@pytest.mark.parametrize("text,where", [
    ("algo: smoke\n  bad: [\n", ":2:"),
    ("algo: smoke\nx: [1, 2\n", ":3:"),
    ("algo: smoke\n\tseed: 1\n", ":2:"),
])
def test_yaml_errors_are_file_line_col(tmp_path, text, where):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(f)
    assert str(info.value).startswith(f"{f}{where}") and "\n" not in str(info.value)


def test_binary_and_non_mapping_configs(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a text file"):
        load_config(f)
    f.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(f)


def test_cli_refuses_a_bad_set_before_creating_anything(tmp_path):
    run = tmp_path / "run"
    line = one_line_error(run_petri("start", TOY, "--run-dir", run,
                                    "--set", "trainer.epochs=three"))
    assert "trainer.epochs" in line and "'three'" in line
    assert not run.exists()
    line = one_line_error(run_petri("run", "random", "--run-dir", run,
                                    "--set", "random.samples=-3"))
    assert "random.samples" in line
    assert not run.exists()


def test_damaged_run_dir_files_are_one_line_and_left_as_they_were(tmp_path):
    run = tmp_path / "run"
    res = run_petri("start", SMOKE, "--run-dir", run, "--set", "smoke.jobs=1",
                    "--set", "smoke.steps=1", "--foreground")
    assert res.returncode == 0, res.stderr
    (run / "daemon.pid").write_text("{not json")
    assert run_petri("status", run).returncode == 0  # liveness does not need the pid file
    assert run_petri("stop", run).returncode == 0
    for damage in (b"\x00\xff\xfe binary", b"algo: smoke\nsmoke: {jobs: [\n", b"- a list\n"):
        (run / "config.yaml").write_bytes(damage)
        line = one_line_error(run_petri("resume", run))
        assert "config.yaml" in line
        assert (run / "config.yaml").read_bytes() == damage
        assert run_petri("status", run).returncode == 0  # the store is still readable


def test_stop_on_a_dir_that_is_no_run_fails(tmp_path):
    line = one_line_error(run_petri("stop", tmp_path))
    assert "not a petri run dir" in line


@pytest.mark.parametrize("args", [
    ("start", SMOKE, "--set", "smoke.jobs", "3"),
    ("run", "random", "--set", "seed", "1"),
    ("eval", "gallery.h5", "--config", ROOT / "configs" / "eval_toy.yaml",
     "--set", "trainer.epochs", "3"),
], ids=["start", "run", "eval"])
def test_set_with_a_space_names_key_equals_value(tmp_path, args):
    line = one_line_error(run_petri(*args, "--run-dir", tmp_path / "run", cwd=tmp_path))
    key = args[args.index("--set") + 1]
    assert "KEY=VALUE" in line and f"--set {key}=VALUE" in line
    assert list(tmp_path.iterdir()) == []


def test_eval_without_config_names_the_toy_eval_config(tmp_path):
    line = one_line_error(run_petri("eval", tmp_path / "g.h5", "--run-dir", tmp_path / "ev",
                                    cwd=ROOT))
    assert "--config configs/eval_toy.yaml" in line
    assert not (tmp_path / "ev").exists()


def test_run_list_marks_eval_and_smoke_as_run_otherwise(tmp_path):
    res = run_petri("run", "--list", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    lines = {line.split()[0]: line for line in res.stdout.splitlines()}
    assert "petri eval GALLERY.h5 --config" in lines["eval"]
    assert "eval_toy.yaml" in lines["eval"] and "not a `petri run`" in lines["eval"]
    assert "petri start" in lines["smoke"] and "smoke.yaml" in lines["smoke"]
    assert "not a `petri run`" not in lines["petridish"]
