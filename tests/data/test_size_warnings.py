"""Data too small for what a config asks of it is said, one line each, when a run is set up:
subsets beyond the images there are, and a validation split too small to rank models by."""
import logging

import pytest
import yaml

from petri.data.config import MIN_VAL_IMAGES, DataCfg
from petri.launch import load_config
from tests.conftest import ROOT


def test_the_toy_config_on_90_images_warns_of_each_problem_in_one_line(photos, caplog):
    with caplog.at_level(logging.WARNING, "petri"):
        load_config(ROOT / "configs" / "petridish_toy.yaml", (f"data.dataset={photos}",))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("\n" not in ln for ln in lines)
    subset, val_subset, small = lines
    assert "data.subset 4000" in subset and "81 training images" in subset
    assert "data.val_subset 2000" in val_subset and "9 validation images" in val_subset
    assert "only 9 images" in small and "steps of 11.1 points" in small
    assert "add images" in small and "90 training images" in small


def test_a_small_validation_subset_of_a_large_dataset_says_how_to_fix_it():
    small, = DataCfg(val_subset=200).size_warnings()
    assert "only 200 images" in small and "±3.54" in small
    assert f"use at least {MIN_VAL_IMAGES} (data.val_size and data.val_subset)" in small
    over, = DataCfg(subset=55000).size_warnings()
    assert "data.subset 55000 exceeds the 50000 training images" in over


def test_no_validation_split_at_all_is_no_warning():
    assert DataCfg(val_size=0, subset=5000).size_warnings() == []  # eval: train on everything


@pytest.mark.parametrize("config", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_the_shipped_configs_give_no_warning(config):
    cfg = yaml.safe_load((ROOT / "configs" / config).read_text())
    assert DataCfg.from_dict(cfg.get("data")).size_warnings() == []
