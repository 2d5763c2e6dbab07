"""`petri data import | show` in a real interpreter, and `train` / `cost` on the result."""
import json

import numpy as np
import pytest

from tests.helpers.cli import modules_after
from tests.conftest import run_petri
from tests.helpers.userdata import CLASSES, write_folder


@pytest.mark.slow
def test_import_show_train_and_cost_on_a_png_folder(tmp_path):
    write_folder(tmp_path / "pets", {"train": 20, "test": 4})
    out = tmp_path / "pets.petri"
    res = run_petri("data", "import", tmp_path / "pets", "-o", out, "--val-size", "12")
    assert res.returncode == 0, res.stderr
    assert "60 training images, 12 test, 3 classes, 3×12×10" in res.stdout
    res = run_petri("data", "show", out, "--json")
    assert res.returncode == 0, res.stderr
    s = json.loads(res.stdout)
    assert s["classes"] == list(CLASSES) and s["counts"] == {"train": [20] * 3, "test": [4] * 3}
    assert s["val_size"] == 12 and s["bytes"] == out.stat().st_size and s["shape"] == [3, 12, 10]
    res = run_petri("data", "show", out, env={"COLUMNS": "120"})
    assert res.returncode == 0 and "(checked)" in res.stdout
    assert all(c in res.stdout for c in CLASSES)

    res = run_petri("train", "DARTS_V2", "--dataset", out, "--channels", "4", "--cells", "3",
                    "--epochs", "1", "--batch-size", "16", "--test", "--on-device", "false")
    assert res.returncode == 0, res.stderr
    assert "48 train / 12 val images" in res.stdout and "test accuracy:" in res.stdout
    res = run_petri("cost", "DARTS_V2", "--dataset", out, "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["macs"] > 0


def test_bad_data_is_one_line_and_writes_nothing(tmp_path):
    np.savez(tmp_path / "a.npz", x=np.zeros((10, 8, 8), np.uint8), y=np.arange(10) - 1)
    res = run_petri("data", "import", tmp_path / "a.npz", "-o", tmp_path / "out" / "a.petri")
    assert res.returncode == 1 and res.stderr.startswith("error: ")
    assert "labels of the train split lie outside" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()
    (tmp_path / "b.petri").write_bytes(b"PETRIDS\n" + bytes(100))
    res = run_petri("data", "show", tmp_path / "b.petri")
    assert res.returncode == 1 and "truncated" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = run_petri("train", "DARTS_V2", "--dataset", tmp_path / "nope.petri", "--epochs", "1")
    assert res.returncode == 1 and "nope.petri does not exist" in res.stderr


def test_the_data_command_imports_no_torch(tmp_path):
    write_folder(tmp_path / "src", {"": 2})
    mods = modules_after(f"from petri.cli.main import main\n"
                          f"assert main(['data', 'import', {str(tmp_path / 'src')!r}, '-o', "
                          f"{str(tmp_path / 'd.petri')!r}]) == 0\n"
                          f"assert main(['data', 'show', {str(tmp_path / 'd.petri')!r}]) == 0")
    assert "torch" not in mods and "PIL" in mods
