"""A tiny Petridish search on a user's image folder, named directly in the config by a path
relative to where petri runs (imported on first use) and streamed from the .petri file in the
workers; exported, shown, loaded with its class names, and evaluated on the test split."""
import pytest
import torch
import yaml

from tests.conftest import run_petri
from tests.helpers.daemon import wait_done
from tests.helpers.userdata import CLASSES, write_folder


@pytest.mark.slow
def test_tiny_search_on_an_image_folder(tmp_path):
    write_folder(tmp_path / "pets", {"train": 30, "test": 5})
    # Relative paths: the daemon runs in the run dir, so the saved config must pin them.
    data = {"dataset": "pets", "data_dir": "cache", "val_size": 18, "on_device": False}
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({
        "algo": "petridish", "seed": 0, "data": data,
        "pareto": {"min_reductions": 0, "max_reductions": 0, "min_cells": 1, "max_cells": 2,
                   "min_nodes": 1, "max_nodes": 1},
        "petridish": {"channels": 4, "stem_multiplier": 1, "parallel": 1, "max_points": 3},
        "trainer": {"batch_size": 16, "lr": 0.05},
        "seed_train": {"epochs": 1}, "search": {"epochs": 1}, "post_train": {"epochs": 1},
        "daemon": {"cpu_slots": 2, "backoff_s": 0.2, "progress_every_s": 0.2}}))
    run = tmp_path / "run"
    res = run_petri("start", cfg, "--run-dir", run, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "cache" / "imported").glob("pets-*.petri"))) == 1
    snap = wait_done(run, timeout=300)
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    assert [p["stage"] for p in snap["points"]].count("grown") == 1

    gallery = tmp_path / "g.h5"
    assert run_petri("export", run, "-o", gallery).returncode == 0
    res = run_petri("gallery", "show", gallery, env={"COLUMNS": "200"})
    assert res.returncode == 0 and "classes: cat, dog, eel" in res.stdout

    from petri.gallery import load_model
    from petri.store.gallery import read_models

    m = read_models(gallery)[0]
    model = load_model(gallery, m.id)
    assert model.classes == CLASSES and model(torch.randn(2, 3, 12, 10)).shape == (2, 3)

    eval_cfg = tmp_path / "eval.yaml"
    eval_cfg.write_text(yaml.safe_dump({
        "algo": "eval", "data": data, "trainer": {"epochs": 1, "batch_size": 16},
        "daemon": {"cpu_slots": 2, "progress_every_s": 0.2}}))
    res = run_petri("eval", gallery, "--config", eval_cfg, "--run-dir", tmp_path / "eval",
                    "--detach", timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    snap = wait_done(tmp_path / "eval", timeout=300)
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    assert all(0 <= p["test_error"] <= 1 for p in snap["points"])
