import json

import pytest

from petri.cli.main import COMMANDS
from tests.conftest import ROOT, needs_fashion, run_petri
from tests.helpers.cli import modules_after


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_lazy_command_has_help(name):
    from click.testing import CliRunner

    from petri.cli.main import cli

    res = CliRunner().invoke(cli, [name, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_import_petri_and_help_load_no_torch():
    mods = modules_after("import petri, petri.space.desc, petri.space.genotypes, petri.data.info")
    assert "torch" not in mods and "torchvision" not in mods
    mods = modules_after("from petri.cli.main import main\n"
                          "try:\n main(['--help'])\nexcept SystemExit: pass")
    assert "torch" not in mods


def test_nothing_imports_torchvision():
    mods = modules_after("import petri.space.build, petri.train.loop, petri.cost, "
                          "petri.data.loader")
    assert "torchvision" not in mods


@pytest.mark.slow
def test_cost_json_gives_plain_numbers():
    res = run_petri("cost", "DARTS_V2", "--dataset", "cifar10", "--json")
    assert res.returncode == 0, res.stderr
    c = json.loads(res.stdout)
    assert set(c) == {"params", "macs", "activation_bytes"}
    assert c["params"] == 3349342 and 0.52e9 < c["macs"] < 0.54e9


@pytest.mark.slow
def test_cost_of_a_desc_file_for_fashion_mnist(tmp_path):
    from petri.space.genotypes import genotype

    path = tmp_path / "net.yaml"
    path.write_text(genotype("PC_DARTS_cifar", channels=8, cells=5).to_yaml())
    res = run_petri("cost", path, "--dataset", "fashion-mnist", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["macs"] > 0


@pytest.mark.slow
def test_bad_input_is_one_line_and_nonzero(tmp_path):
    res = run_petri("cost", tmp_path / "missing.json")
    assert res.returncode != 0
    assert res.stderr.strip().count("\n") == 0 and "does not exist" in res.stderr
    assert "Traceback" not in res.stderr
    res = run_petri("train", "DARTS_V2", "--dataset", "cifar10", "--data-dir", tmp_path,
                    "--epochs", "1", env={"PETRI_OFFLINE": "1"}, timeout=120)
    assert res.returncode != 0 and "cifar10" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.slow
@needs_fashion
def test_train_prints_validation_and_test_accuracy():
    res = run_petri("train", "DARTS_V2", "--channels", "8", "--cells", "3", "--epochs", "2",
                    "--subset", "2048", "--val-size", "1000", "--batch-size", "64", "--lr", "0.1",
                    "--test", timeout=600)
    assert res.returncode == 0, res.stderr
    val = float(res.stdout.split("validation accuracy:")[1].split("%")[0])
    test = float(res.stdout.split("test accuracy:")[1].split("%")[0])
    assert 40 < val <= 100 and 40 < test <= 100  # chance is 10%; two short epochs reach ~55%


@pytest.mark.slow
def test_run_and_ensemble_errors_are_one_line(tmp_path):
    res = run_petri("run", "darts", "--config", ROOT / "configs" / "petridish_toy.yaml",
                    "--run-dir", tmp_path / "a")
    assert res.returncode == 1 and "not a darts config" in res.stderr
    res = run_petri("run", "mood", "--config", ROOT / "configs" / "mood_toy.yaml",
                    "--run-dir", tmp_path / "b", "--set", "mood.regulariser=l3")
    assert res.returncode == 1 and "one of l1, l2" in res.stderr
    assert not (tmp_path / "b").exists()  # nothing created for a config that cannot run
    res = run_petri("ensemble", tmp_path)
    assert res.returncode == 1 and "no petri run" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_train_trains_the_desc_at_its_own_size_and_says_so(tmp_path):
    # A desc file's own channels and cells, not a --channels/--cells default, are trained.
    from petri.space.genotypes import genotype

    path = tmp_path / "net.json"
    path.write_text(json.dumps(genotype("DARTS_V2", channels=4, cells=2, reductions=0,
                                        in_channels=1).to_dict()))
    res = run_petri("train", path, "--epochs", "1", "--subset", "64", "--val-size", "32",
                    "--batch-size", "32", "--threads", "1")
    assert res.returncode == 0, res.stderr
    assert "(C=4, L=2)" in res.stdout and "1 thread(s) (set)" in res.stdout
