"""Every shipped config loads, validates and builds its algorithm (no training)."""
import pytest

from petri.algos.base import create_algo
from petri.config import load_config
from tests.conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_shipped_config_builds_its_algorithm(path):
    if path.stem.startswith("eval_"):  # an eval config needs a gallery to read
        pytest.skip("eval configs are exercised by the eval tests")
    cfg = load_config(path)
    assert create_algo(cfg).name == cfg["algo"]


def test_every_run_algo_has_a_toy_config():
    from petri.cli.daemon import RUN_ALGOS

    for algo in RUN_ALGOS:
        cfg = load_config(ROOT / "configs" / f"{algo.replace('-', '_')}_toy.yaml")
        assert cfg["algo"] == algo
