import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from petri.train import checkpoint
from tests.conftest import needs_fashion


def _state(v):
    return {"model": {"w": torch.full((3,), float(v))}, "optimizer": {}, "scheduler": {},
            "epoch": v, "step": 0}


def test_save_keeps_previous_and_falls_back_on_corruption(tmp_path, caplog):
    p = tmp_path / "ckpt.pt"
    checkpoint.save(_state(1), p)
    checkpoint.save(_state(2), p)
    assert checkpoint.load(p)["epoch"] == 2
    p.write_bytes(p.read_bytes()[:100])  # truncated, as if the disk filled up
    with caplog.at_level("WARNING", logger="petri"):
        assert checkpoint.load(p)["epoch"] == 1
    assert "unreadable" in caplog.text
    # Nothing whole to fall back to: refused, not a fresh start whose saves would overwrite it.
    checkpoint.prev_path(p).write_bytes(b"garbage")
    before = {f: f.read_bytes() for f in tmp_path.iterdir()}
    with pytest.raises(checkpoint.CheckpointError, match="left untouched"):
        checkpoint.load(p)
    assert {f: f.read_bytes() for f in tmp_path.iterdir()} == before
    assert checkpoint.load(tmp_path / "none.pt") is None


def test_crash_between_renames_keeps_the_new_checkpoint(tmp_path):
    p = tmp_path / "ckpt.pt"
    checkpoint.save(_state(1), p)
    checkpoint.save(_state(2), p)
    os.replace(p, checkpoint.staged_path(p))  # as if killed after staging, before the rename
    assert checkpoint.load(p)["epoch"] == 2


TRAIN = ["DARTS_V2", "--dataset", "fashion-mnist", "--channels", "4", "--cells", "3",
         "--epochs", "2", "--subset", "1536", "--val-size", "500", "--batch-size", "32",
         "--drop-path", "0.2", "--cutout", "8", "--checkpoint-every", "0.3", "--device", "cpu"]


def _train_cmd(ckpt):
    return [sys.executable, "-m", "petri.cli.main", "train", *TRAIN, "--checkpoint", str(ckpt)]


@pytest.mark.slow
@needs_fashion
def test_sigkill_mid_epoch_then_resume_gives_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    ref = tmp_path / "ref.pt"
    subprocess.run(_train_cmd(ref), check=True, capture_output=True, env=env, timeout=600)

    ckpt = tmp_path / "killed.pt"
    proc = subprocess.Popen(_train_cmd(ckpt), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    state = None
    while time.time() < deadline:
        time.sleep(0.2)
        state = checkpoint.load(ckpt) if ckpt.exists() else None
        if state is not None and state["epoch"] == 0 and state["step"] >= 10:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state is not None and state["epoch"] == 0 and 0 < state["step"], \
        "the run was not killed mid-epoch"

    subprocess.run(_train_cmd(ckpt), check=True, capture_output=True, env=env, timeout=600)
    a, b = checkpoint.load(ref)["model"], checkpoint.load(ckpt)["model"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@needs_fashion
def test_a_run_resumed_after_its_last_step_keeps_its_training_loss(tmp_path):
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.space.build import build_model
    from petri.space.genotypes import genotype
    from petri.train.config import TrainCfg
    from petri.train.loop import train

    splits = make_splits(DataCfg(subset=64, val_subset=32))
    cfg = TrainCfg(epochs=1, batch_size=32)
    desc = genotype("DARTS_V2", channels=4, cells=1, reductions=0, in_channels=1)
    first = train(build_model(desc), splits, cfg, ckpt_path=tmp_path / "c.pt")
    again = train(build_model(desc), splits, cfg, ckpt_path=tmp_path / "c.pt")
    assert again.train_loss == first.train_loss and first.train_loss == first.train_loss


def test_deterministic_algorithms_are_scoped_to_one_training_run():
    # A worker runs job after job: one job's switch must not stay on for the next.
    import torch

    from petri.train.config import TrainCfg
    from petri.train.loop import device_settings

    before = torch.are_deterministic_algorithms_enabled()
    with device_settings(torch.device("cpu"), TrainCfg(deterministic=not before)):
        assert torch.are_deterministic_algorithms_enabled() != before
    assert torch.are_deterministic_algorithms_enabled() == before


@needs_fashion
def test_a_diverging_loss_is_caught_without_a_sync_per_step_and_never_checkpointed(tmp_path):
    # The loss is summed on the device and read when reported or saved; a NaN must still end
    # the run as TrainingDiverged, before any checkpoint could store NaN weights.
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.space.build import build_model
    from petri.space.genotypes import genotype
    from petri.train.config import TrainCfg
    from petri.train.loop import TrainingDiverged, train

    splits = make_splits(DataCfg(subset=128, val_subset=32))
    cfg = TrainCfg(epochs=1, batch_size=16, lr=1e30, grad_clip=0.0, checkpoint_every_s=0.0)
    desc = genotype("DARTS_V2", channels=4, cells=1, reductions=0, in_channels=1)
    with pytest.raises(TrainingDiverged):
        train(build_model(desc), splits, cfg, ckpt_path=tmp_path / "c.pt")
    state = checkpoint.load(tmp_path / "c.pt") if (tmp_path / "c.pt").exists() else None
    if state is not None:
        assert all(torch.isfinite(v).all() for v in state["model"].values()
                   if v.is_floating_point())
