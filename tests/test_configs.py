"""Every shipped config loads, validates and builds its algorithm (no training)."""
import pytest
import yaml

from petri.algos.registry import create_algo
from petri.launch import load_config
from petri.errors import ConfigError
from tests.conftest import ROOT

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


SEARCH = [p for p in CONFIGS if not p.stem.startswith("eval_")]
EVAL = [p for p in CONFIGS if p.stem.startswith("eval_")]


@pytest.mark.parametrize("path", SEARCH, ids=[p.stem for p in SEARCH])
def test_shipped_config_builds_its_algorithm(path):
    cfg = load_config(path)
    assert create_algo(cfg).name == cfg["algo"]


@pytest.mark.parametrize("path", EVAL, ids=[p.stem for p in EVAL])
def test_shipped_eval_config_is_valid_but_for_its_gallery(path):
    """`petri eval GALLERY` fills eval.gallery; every other section must already be right."""
    import yaml

    from petri.algos.evaluate.algorithm import EvalCfg
    from petri.config import DaemonCfg, from_mapping
    from petri.data.config import DataCfg
    from petri.train.config import TrainCfg

    with pytest.raises(ConfigError, match="eval.gallery is not set"):
        load_config(path)
    raw = yaml.safe_load(path.read_text())
    assert raw["algo"] == "eval"
    from_mapping(EvalCfg, raw["eval"], "eval")
    DataCfg.from_dict(raw["data"])
    TrainCfg.from_dict(raw["trainer"])
    DaemonCfg.from_dict(raw.get("daemon"))


def test_every_registered_algorithm_ships_a_toy_config_of_its_own():
    from petri.algos.registry import registry

    for name, info in registry().items():
        path = ROOT / "configs" / info.toy_config
        if info.runnable:
            assert load_config(path)["algo"] == name
        else:
            assert yaml.safe_load(path.read_text())["algo"] == name


def test_toy_petridish_and_random_plan_the_same_training_budget():
    """The budget policy in petridish_toy.yaml: equal image-epochs per run, and each random
    model trained as long as a first child's weights (seed + post-train epochs)."""
    from petri.algos.petridish.algorithm import Petridish

    pd = load_config(ROOT / "configs" / "petridish_toy.yaml")
    rnd = load_config(ROOT / "configs" / "random_toy.yaml")
    algo = Petridish(pd)
    images, search_images = pd["data"]["subset"], pd["petridish"]["search_subset"]
    children = pd["petridish"]["max_points"] - len(algo.seeds)
    petridish = len(algo.seeds) * pd["seed_train"]["epochs"] * images + children * (
        pd["search"]["epochs"] * search_images + pd["post_train"]["epochs"] * images)
    random_ = rnd["random"]["samples"] * rnd["trainer"]["epochs"] * rnd["data"]["subset"]
    assert abs(random_ / petridish - 1) < 0.05, (petridish, random_)
    assert rnd["trainer"]["epochs"] == pd["seed_train"]["epochs"] + pd["post_train"]["epochs"]
    assert pd["compare"] == rnd["compare"]
