"""The Ray executor's settings: checked with the rest of the config, one line each, and no Ray
imported for a local run."""
import subprocess
import sys

import pytest

from petri.config import DaemonCfg, RayCfg
from petri.errors import ConfigError
from petri.launch import load_config
from tests.conftest import ROOT

SMOKE = ROOT / "configs" / "smoke.yaml"

CASES = [
    ("daemon.executor=slurm", ["daemon.executor", "one of local, ray", "'slurm'"]),
    ("ray.address=6379", ["ray.address", "a string", "6379"]),
    ("ray.slots=0", ["ray.slots", "at least 1"]),
    ("ray.num_cpus=0", ["ray.num_cpus", "greater than 0"]),
    ("ray.num_gpus=-0.5", ["ray.num_gpus", "at least 0"]),
    ("ray.num_gpus=1.5", ["ray.num_gpus", "below 1 or a whole number", "1.5"]),
    ("ray.nodes=2", ["unknown ray setting", "nodes"]),
]


@pytest.mark.parametrize("assignment,words", CASES, ids=[c[0] for c in CASES])
def test_bad_ray_setting_is_one_line_naming_it(assignment, words):
    with pytest.raises(ConfigError) as info:
        load_config(SMOKE, ("daemon.executor=ray", assignment))
    message = str(info.value)
    assert "\n" not in message
    for w in words:
        assert w in message, message


def test_good_ray_settings_and_their_defaults():
    cfg = load_config(SMOKE, ("daemon.executor=ray", "ray.address=10.0.0.1:6379",
                              "ray.num_gpus=0.5", "ray.slots=4"))
    assert DaemonCfg.from_dict(cfg["daemon"]).executor == "ray"
    assert RayCfg.from_dict(cfg["ray"]) == RayCfg(address="10.0.0.1:6379", slots=4,
                                                  num_gpus=0.5)
    assert DaemonCfg().executor == "local" and RayCfg().address == "auto"
    assert RayCfg().slots is None and RayCfg().num_cpus == 1 and RayCfg().num_gpus == 0


def test_a_local_run_never_imports_ray():
    code = ("import sys; from petri.launch import load_config; from petri.daemon import daemon; "
            f"load_config({str(SMOKE)!r}, ('ray.num_cpus=2',)); "
            "assert 'ray' not in sys.modules, 'ray imported'")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
