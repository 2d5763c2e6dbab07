"""A job is judged by its progress, not by its phase boundaries: every phase that takes long
reports as it goes (evaluation batches) or is reported busy while it runs (loading data,
building the model, the first step, counting cost), on a real daemon with real workers.

Each phase is slowed beyond `daemon.hang_grace_s` on purpose by a plug-in (a dataset whose
load sleeps, an op that sleeps when built, at its first training step and at each evaluation
batch), the way a busy machine or a cold torch.compile slows them."""
import json

import pytest

from tests.conftest import run_petri
from tests.helpers.daemon import db_rows
from tests.helpers.plugins import install

pytestmark = pytest.mark.slow  # real daemons and training jobs

SLUGGISH = '''
import os
import time

import numpy as np

from petri.algos.base import Algorithm, Outcome, trained_point
from petri.algos.registry import AlgoInfo
from petri.data.info import DatasetInfo, DatasetPlugin
from petri.store.records import JobSpec

SLOW_S = float(os.environ["SLUGGISH_S"])


def slow_conv(c, stride, affine, search):
    import torch
    from torch import nn

    class SlowConv(nn.Module):
        def __init__(self):
            super().__init__()
            time.sleep(SLOW_S)  # building the model
            self.conv = nn.Conv2d(c, c, 3, stride, 1, bias=False)
            self.cold = True

        def forward(self, x):
            if self.training and self.cold:  # the first step: a cold torch.compile
                time.sleep(SLOW_S)
                self.cold = False
            elif not self.training:  # each evaluation batch
                time.sleep(SLOW_S / 4)
            return self.conv(torch.relu(x))

    return SlowConv()


def load(data_dir):  # a first read that takes long (decompressing, a remote fetch)
    time.sleep(SLOW_S)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (300, 1, 8, 8), dtype=np.uint8)
    y = rng.integers(0, 2, 300)
    return x[:200], y[:200], x[200:], y[200:]


NOISE = DatasetPlugin(DatasetInfo("noise", (1, 8, 8), ("a", "b"), (0.5,), (0.5,), flip=False,
                                  crop_pad=0, val_size=100), load)

CELL = {"nodes": [{"edges": [{"op": "slow_conv", "input": 1}]}], "concat": [2]}
DESC = {"normal": CELL, "reduce": CELL, "channels": 2, "cells": 1, "reductions": 0,
        "in_channels": 1, "num_classes": 2, "stem_multiplier": 1}


class Sluggish(Algorithm):
    name = "sluggish"

    def propose(self, view, free_slots):
        if view.job_count():
            return []
        trainer = {"epochs": 1, "batch_size": 50, "eval_batch_size": 25,
                   "progress_every_s": 0.2, "checkpoint_every_s": 0}
        return [JobSpec("train", {"desc": DESC, "data": {"dataset": "noise"},
                                  "trainer": trainer, "with_test": True}, "sluggish/0")]

    def on_result(self, job, result, view):
        return Outcome(points=[trained_point(job, result, "sluggish", {})])

    def stop_reason(self, view):
        return "its one job proposed" if view.job_count() else None


ALGOS = [AlgoInfo("sluggish", "sluggish_petri:Sluggish", "one slow training job")]
'''

ENTRY_POINTS = """
[petri.algos]
sluggish = sluggish_petri:ALGOS
[petri.ops]
slow_conv = sluggish_petri:slow_conv
[petri.datasets]
noise = sluggish_petri:NOISE
"""


def sluggish_run(tmp_path, slow_s: float, *daemon: str):
    """Run the plug-in's one job to its end on a daemon judging hangs after 2 s."""
    env = {**install(tmp_path / "site", "sluggish_petri", SLUGGISH, ENTRY_POINTS),
           "SLUGGISH_S": str(slow_s)}
    config = tmp_path / "sluggish.yaml"
    config.write_text("algo: sluggish\ndaemon: {cpu_slots: 1, hang_grace_s: 2, "
                      f"progress_every_s: 0.2, max_attempts: 1{''.join(daemon)}}}\n")
    run = tmp_path / "run"
    res = run_petri("start", config, "--run-dir", run, "--foreground", env=env, timeout=300)
    return res, run, json.loads(run_petri("status", run, "--json", env=env).stdout)


def test_phases_slower_than_the_hang_grace_are_not_killed(tmp_path):
    # Loading data, building the model, the first step and counting cost take 3 s each; the
    # evaluation 8 batches of 0.75 s: every one of them past hang_grace_s = 2 s.
    res, run, snap = sluggish_run(tmp_path, 3.0)
    assert res.returncode == 0, res.stderr
    assert snap["done"] and snap["jobs"]["failed"] == 0, snap["failures"]
    (point,) = snap["points"]
    assert point["error"] is not None and point["test_error"] is not None
    assert db_rows(run, "SELECT outcome FROM attempts") == [("ok",)]


def test_a_busy_phase_past_busy_grace_is_killed_as_hung(tmp_path):
    """A phase that cannot report from inside is still bounded: a deadlock in it must not
    hold a slot for ever."""
    res, run, snap = sluggish_run(tmp_path, 5.0, ", busy_grace_s: 2")
    (fail,) = snap["failures"]
    assert fail["error"] == "hung: loading data took over 2s (daemon.busy_grace_s)"
    # A foreground run whose job failed is no success either.
    assert res.returncode == 1 and f"job 1 (train): {fail['error']}" in res.stderr
