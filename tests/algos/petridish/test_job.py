"""The `search` job end to end on a tiny parent: both selection rules grow a child."""
import threading

import pytest

from petri.daemon.worker import run_one
from petri.space.genotypes import genotype
from tests.conftest import assignment, needs_fashion

DATA = {"dataset": "fashion-mnist", "subset": 256, "val_size": 1000, "val_subset": 128}
TRAINER = {"epochs": 1, "batch_size": 64, "seed": 5}


@pytest.fixture(scope="module")
def parent(tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    desc = genotype("DARTS_V2", channels=4, cells=3, in_channels=1).to_dict()
    rec = run_one(assignment("seed_train", {"desc": desc, "data": DATA, "trainer": TRAINER},
                             run / "jobs/1"), threading.Event())
    assert rec["status"] == "ok", rec.get("error")
    return run, desc, rec["result"]["checkpoint"]


def search(parent, job_id, select, seed=5):
    run, desc, ckpt = parent
    spec = {"parent_desc": desc, "parent_checkpoint": ckpt, "data": DATA,
            "trainer": {**TRAINER, "seed": seed},
            "grow": {"k": 2, "l1": 1e-3, "grow_existing": False, "select": select}}
    rec = run_one(assignment("search", spec, run / f"jobs/{job_id}", job_id),
                  threading.Event())
    return rec


@pytest.mark.slow
@needs_fashion
def test_alpha_and_random_selection_grow_children_and_random_is_reproducible(parent):
    by_alpha = search(parent, 2, "alpha")["result"]
    by_chance = search(parent, 3, "random")["result"]
    again = search(parent, 4, "random")["result"]
    assert len(by_alpha["picks"]) == len(by_chance["picks"]) == 4  # k per cell type
    assert by_chance["picks"] == again["picks"]  # seeded from the job
    assert by_chance["picks"] != by_alpha["picks"]
    other = search(parent, 5, "random", seed=6)["result"]
    assert other["picks"] != by_chance["picks"]


@needs_fashion
def test_an_unknown_select_rule_fails_the_job_deterministically(parent):
    rec = search(parent, 6, "best")
    assert rec["status"] == "failed" and rec["fail_class"] == "deterministic"
    assert "grow.select" in rec["error"]
