import dataclasses
import threading

from petri.daemon.worker import run_one
from petri.io import read_json
from petri.space.genotypes import genotype
from tests.conftest import assignment, needs_fashion


@needs_fashion
def test_train_job_records_cost_and_error_and_resumes_after_stop(tmp_path):
    desc = genotype("DARTS_V2", channels=4, cells=3, in_channels=1).to_dict()
    spec = {"desc": desc, "data": {"dataset": "fashion-mnist", "subset": 512, "val_size": 1000,
                                   "val_subset": 256},
            "trainer": {"epochs": 2, "batch_size": 64, "checkpoint_every_s": 0.0}}
    msg = assignment("train", spec, tmp_path)
    stop = threading.Event()
    stop.set()  # asked to stop at once: checkpoint after the first step and report it
    rec = run_one(msg, stop)
    assert rec["status"] == "stopped" and (tmp_path / "checkpoint.pt").exists()
    rec = run_one(dataclasses.replace(msg, lease=2), threading.Event())
    assert rec["status"] == "ok", rec.get("error")
    r = rec["result"]
    assert 0 <= r["val_error"] <= 1 and r["macs"] > 0 and r["params"] > 0
    assert r["steps"] == 2 * (512 // 64)
    assert read_json(tmp_path / "result.json")["lease"] == 2


def test_train_job_with_a_bad_desc_fails_deterministically(tmp_path):
    desc = genotype("DARTS_V2").to_dict()
    desc["normal"]["nodes"][0]["edges"][0]["op"] = "conv_9x9"
    msg = assignment("train", {"desc": desc, "data": {"dataset": "fashion-mnist"},
                               "trainer": {}}, tmp_path)
    rec = run_one(msg, threading.Event())
    assert rec["status"] == "failed" and rec["fail_class"] == "deterministic"
    assert "conv_9x9" in rec["error"]


@needs_fashion
def test_out_of_memory_halves_the_batch_and_retries(tmp_path, monkeypatch):
    """CUDA OOM cannot happen on a CPU machine; raise it from the trainer boundary instead."""
    import torch

    import petri.train.loop as loop

    real_train = loop.train
    batches = []

    def flaky_train(model, splits, cfg, *a, **kw):
        batches.append(cfg.batch_size)
        if cfg.batch_size > 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_train(model, splits, cfg, *a, **kw)

    monkeypatch.setattr(loop, "train", flaky_train)
    desc = genotype("DARTS_V2", channels=4, cells=3, in_channels=1).to_dict()
    spec = {"desc": desc, "data": {"dataset": "fashion-mnist", "subset": 128, "val_size": 1000,
                                   "val_subset": 64}, "trainer": {"epochs": 1, "batch_size": 64}}
    msg = assignment("train", spec, tmp_path)
    rec = run_one(msg, threading.Event())
    assert rec["status"] == "ok" and batches == [64, 32, 16] and rec["result"]["batch_size"] == 16
    spec["min_batch_size"] = 32  # cannot go below 32: a deterministic failure
    rec = run_one(dataclasses.replace(msg, lease=2, job_dir=tmp_path / "b"), threading.Event())
    assert rec["status"] == "failed" and rec["fail_class"] == "deterministic"
    assert "out of memory even at batch 32" in rec["error"]
