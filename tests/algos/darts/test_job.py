"""The `darts_search` job: a supernet search that resumes exactly and derives a genotype."""
import dataclasses
import threading

import pytest

from petri.daemon.worker import run_one
from petri.space.build import build_model
from petri.space.desc import ModelDesc
from tests.conftest import assignment, needs_fashion

DATA = {"dataset": "fashion-mnist", "subset": 128, "val_size": 1000, "val_subset": 64}


def spec(partial=None, second_order=False, warmup=0, reg=None, nu=0.0, epochs=2):
    return {"supernet": {"channels": 4, "cells": 3, "nodes": 2, "stem_multiplier": 1,
                         "partial": partial},
            "arch": {"lr": 0.01, "second_order": second_order, "warmup_epochs": warmup},
            "regulariser": {"kind": reg, "nu": nu},
            "derived": {"channels": 4, "cells": 3, "stem_multiplier": 1},
            "data": DATA,
            "trainer": {"epochs": epochs, "batch_size": 16, "lr": 0.05,
                        "checkpoint_every_s": 0.0}}


def run(tmp_path, name, s, stop_first=False):
    job_dir = tmp_path / "jobs" / name
    job_dir.mkdir(parents=True, exist_ok=True)
    msg = assignment("darts_search", s, job_dir, run_dir=tmp_path)
    if stop_first:
        stop = threading.Event()
        stop.set()
        rec = run_one(msg, stop)
        assert rec["status"] == "stopped", rec
        msg = dataclasses.replace(msg, lease=2)
    rec = run_one(msg, threading.Event())
    assert rec["status"] == "ok", rec.get("error")
    return rec["result"]


@pytest.mark.slow
@needs_fashion
@pytest.mark.parametrize("partial,second_order", [(None, False), (2, False), (None, True)])
def test_search_resumed_after_a_stop_equals_an_uninterrupted_one(tmp_path, partial,
                                                                 second_order):
    s = spec(partial, second_order)
    whole = run(tmp_path, "whole", s)
    resumed = run(tmp_path, "resumed", s, stop_first=True)
    assert resumed["alphas"] == whole["alphas"] and resumed["desc"] == whole["desc"]
    assert whole["arch_steps"] == 2 * 4  # one α step per weight step: 64 images / 16
    desc = ModelDesc.from_dict(whole["desc"])
    assert desc.channels == 4 and desc.cells == 3 and desc.in_channels == 1
    assert all(e.op != "none" for n in desc.normal.nodes + desc.reduce.nodes for e in n.edges)
    build_model(desc)  # the derived network builds
    # α moved away from its 1e-3·randn start
    spread = max(max(row) - min(row) for row in whole["alphas"]["normal"])
    assert spread > 1e-3


@needs_fashion
@pytest.mark.slow
def test_warmup_epochs_hold_the_architecture_still(tmp_path):
    r = run(tmp_path, "warm", spec(partial=2, warmup=1))
    assert r["arch_steps"] == 4  # only the second of two epochs updates α


@pytest.mark.slow
@needs_fashion
def test_mood_regulariser_shrinks_the_weights(tmp_path):
    plain = run(tmp_path, "plain", spec(reg="l1", nu=0.0, epochs=2))
    strong = run(tmp_path, "strong", spec(reg="l1", nu=0.2, epochs=2))
    # Gradient clipping at 5 (as in the reference) caps how fast ν·sign(θ) can shrink the
    # weights: 8 steps take R down by about 14%.
    assert strong["reg"] < 0.9 * plain["reg"]
    assert strong["nu"] == 0.2 and strong["reg_kind"] == "l1"
