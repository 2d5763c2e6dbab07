"""Bad input to train, cost, export, gallery, eval, ensemble and status: one line on stderr
naming the problem and the fix, a non-zero exit, and every file that existed left unchanged."""
import errno
import fcntl
import json
import os
import re
import resource
import signal
import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import pytest
import torch

from petri.errors import DescError, PetriError, StoreError
from tests.conftest import ROOT, needs_fashion, run_petri
from tests.helpers.cli import make_run, one_line_error

# Each case runs in this interpreter (fast) and in a fresh petri process (slow).
pytestmark = pytest.mark.usefixtures("cli_both_ways")

TRAIN = ["DARTS_V2", "--channels", "4", "--cells", "3", "--epochs", "1", "--subset", "64",
         "--val-size", "32", "--batch-size", "32", "--device", "cpu"]


def files(root: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def gallery(run, tmp_path_factory):
    from petri.gallery import export

    path = tmp_path_factory.mktemp("gallery") / "g.h5"
    export(run, path)
    return path


# ---- petri train ------------------------------------------------------------------------

@pytest.mark.parametrize("option,value", [
    ("--epochs", "0"), ("--batch-size", "0"), ("--subset", "-5"), ("--drop-path", "2"),
    ("--lr", "-1"), ("--lr", "nan"), ("--cutout", "-1"), ("--seed", "-1"),
    ("--checkpoint-every", "-1"), ("--channels", "0"), ("--device", "bogus"),
    ("--device", "mps"), ("--threads", "0"),
])
def test_train_option_out_of_range_names_the_option(option, value):
    line = one_line_error(run_petri("train", *TRAIN, option, value), option)
    assert "range" in line or "finite" in line or "device" in line


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_train_on_cuda_without_cuda_is_one_line():
    one_line_error(run_petri("train", *TRAIN, "--device", "cuda"), "--device", "no CUDA GPU",
                   "use cpu")


def test_train_of_a_network_too_large_to_build_is_refused_before_building():
    t = time.time()
    one_line_error(run_petri("train", "DARTS_V2", "--channels", "4000"),
                   "M parameters, over the 10,000 M petri builds", "lower the channels")
    assert time.time() - t < 60


def test_train_check_counts_memory_at_the_batch_size(monkeypatch):
    import petri.cost as cost
    from petri.space.genotypes import genotype

    desc = genotype("DARTS_V2", channels=8, cells=3, in_channels=1)
    monkeypatch.setattr(cost, "free_memory", lambda device: 50 * 2**20)
    assert cost.check_buildable(desc, (1, 28, 28), "cpu", 8).params > 0
    with pytest.raises(DescError, match="to train at batch size 512.*lower the batch size"):
        cost.check_buildable(desc, (1, 28, 28), "cpu", 512)


@needs_fashion
@pytest.mark.parametrize("kind", ["text", "state dict", "damaged"])
def test_train_refuses_a_file_that_is_no_petri_checkpoint_and_leaves_it(tmp_path, kind):
    ckpt = tmp_path / "mine.pt"
    if kind == "text":
        ckpt.write_text("my notes\n")
    elif kind == "state dict":
        torch.save({"w": torch.zeros(3)}, ckpt)
    else:
        torch.save({"format": "petri-ckpt-1", "model": {}}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    before = files(tmp_path)
    res = run_petri("train", *TRAIN, "--checkpoint", ckpt)
    one_line_error(res, str(ckpt), "petri checkpoint", "left untouched")
    assert files(tmp_path) == before  # not renamed to .prev, not overwritten


@needs_fashion
def test_train_on_a_checkpoint_of_another_network_is_one_line(tmp_path):
    from petri.space.build import build_model
    from petri.space.genotypes import genotype
    from petri.train import checkpoint

    ckpt = tmp_path / "c.pt"
    other = build_model(genotype("DARTS_V2", channels=6, cells=3, in_channels=1))
    checkpoint.save({"model": other.state_dict(), "optimizer": {}, "scheduler": {}, "epoch": 0,
                     "step": 1}, ckpt)
    before = files(tmp_path)
    one_line_error(run_petri("train", *TRAIN, "--checkpoint", ckpt), "another network",
                   "differ in shape", "left untouched")
    assert files(tmp_path) == before


@needs_fashion
@pytest.mark.parametrize("where", ["under a file", "in /proc"])
def test_train_with_an_unwritable_checkpoint_fails_before_training(tmp_path, where):
    (tmp_path / "notes").write_text("x")
    ckpt = tmp_path / "notes" / "c.pt" if where == "under a file" else Path("/proc/petri-c.pt")
    res = run_petri("train", *TRAIN, "--checkpoint", ckpt)
    one_line_error(res, "cannot write the checkpoint", "choose")
    assert "accuracy" not in res.stdout


def test_checkpoint_load_refuses_what_it_cannot_resume_from(tmp_path):
    from petri.train import checkpoint

    p = tmp_path / "c.pt"
    torch.save({"w": torch.zeros(3)}, p)
    with pytest.raises(checkpoint.CheckpointError, match="not a petri checkpoint"):
        checkpoint.load(p)
    p.write_text("text")
    with pytest.raises(checkpoint.CheckpointError, match="not a file torch.save wrote"):
        checkpoint.load(p)


# ---- petri cost -------------------------------------------------------------------------

@pytest.mark.parametrize("args,words", [
    (["--channels", "100000"], ["400,000 channels wide", "over 10,000 M", "lower the channels"]),
    (["--cells", "100000"], ["100000 cells", "at most 2000", "cells"]),
])
def test_cost_of_an_absurd_network_is_refused_up_front(args, words):
    t = time.time()
    one_line_error(run_petri("cost", "DARTS_V2", *args), *words)
    assert time.time() - t < 60  # not an allocator's crash nor a hang


def _desc_dict(**changes):
    from petri.space.genotypes import genotype

    return {**genotype("DARTS_V2").to_dict(), **changes}


@pytest.mark.parametrize("name,content,words", [
    ("bin.json", os.urandom(64) + b"\xff", ["not a text file", "JSON"]),
    ("bin.yaml", b"\xff\xfe" + os.urandom(64), ["not a text file", "YAML"]),
    ("bad.json", b'{"normal": ', ["bad.json:1:", "not valid JSON"]),
    ("bad.yaml", b"a: 1\n  b: [\n", ["bad.yaml:2:", "not valid YAML"]),
    ("missing.json", json.dumps({"channels": 16}).encode(), ["no 'normal' key"]),
    ("typed.json", json.dumps(_desc_dict(channels="many")).encode(), ["channels", "'many'"]),
    ("bool.json", json.dumps(_desc_dict(cells=True)).encode(), ["cells", "True"]),
    ("aux.json", json.dumps(_desc_dict(auxiliary="yes")).encode(), ["auxiliary", "'yes'"]),
    ("list.yaml", b"- 1\n- 2\n", ["mapping"]),
])
def test_cost_of_an_unreadable_desc_file_is_one_line(tmp_path, name, content, words):
    (tmp_path / name).write_bytes(content)
    one_line_error(run_petri("cost", tmp_path / name), name, *words)


# ---- petri export -----------------------------------------------------------------------

def test_export_under_a_file_in_proc_or_over_a_foreign_file_is_one_line(run, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    before = files(tmp_path)
    one_line_error(run_petri("export", run, "-o", notes / "g.h5"), "is a file, not a folder")
    one_line_error(run_petri("export", run, "-o", "/proc/petri-g.h5"), "/proc")
    one_line_error(run_petri("export", run, "-o", notes), "not a petri gallery",
                   "left untouched")
    assert files(tmp_path) == before
    assert not list(Path("/proc").glob(".petri-g.h5.*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_export_into_a_read_only_folder_is_one_line(run, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        one_line_error(run_petri("export", run, "-o", out / "g.h5"), "Permission denied")
        assert not list(out.iterdir())
    finally:
        out.chmod(0o755)


@pytest.mark.parametrize("fmt", ["torchscript", "pt2", "onnx", "safetensors"])
def test_export_of_files_onto_a_file_under_a_file_or_in_proc_is_one_line(run, tmp_path, fmt):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    def stored():  # a reader's SQLite -shm/-wal files are no change to the run
        return {p: b for p, b in files(run).items() if not p.name.endswith(("-shm", "-wal"))}

    before, run_before = files(tmp_path), stored()
    one_line_error(run_petri("export", run, "-o", notes, "--format", fmt), str(notes),
                   "is a file", "give a folder with -o")
    one_line_error(run_petri("export", run, "-o", notes / "out", "--format", fmt),
                   "is a file, not a folder")
    one_line_error(run_petri("export", run, "-o", "/proc/petri-out", "--format", fmt), "/proc")
    assert files(tmp_path) == before and stored() == run_before


def test_export_of_an_unknown_format_or_a_missing_run_is_one_line(run, tmp_path):
    one_line_error(run_petri("export", run, "-o", tmp_path / "out", "--format", "tflite"),
                   "--format", "'tflite' is not one of", "onnx")
    one_line_error(run_petri("export", tmp_path / "nowhere", "--format", "onnx"),
                   "nowhere", "does not exist")
    one_line_error(run_petri("export", tmp_path, "--format", "onnx", "-o", tmp_path / "out"),
                   "no petri run")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command", [("export",), ("status",), ("export", "--format", "pt2")])
def test_a_folder_of_runs_names_the_runs_inside_not_a_new_run(run, tmp_path, command):
    import shutil

    for name in ("a", "b"):
        shutil.copytree(run, tmp_path / "runs" / name)
    before = files(tmp_path)
    line = one_line_error(run_petri(command[0], tmp_path / "runs", *command[1:], cwd=tmp_path),
                          str(tmp_path / "runs" / "a"), str(tmp_path / "runs" / "b"),
                          "petri ls")
    assert "petri start" not in line
    assert files(tmp_path) == before


def test_export_of_files_on_a_full_disk_says_so_and_leaves_no_partial_file(run, tmp_path,
                                                                          monkeypatch):
    from petri.export import export

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(PetriError, match="is full: the exported model .*model-1.pt was not "
                                         "written"):
        export(run, tmp_path / "out", "torchscript")
    assert not list((tmp_path / "out").iterdir())


def test_export_to_onnx_without_the_extra_names_it(run, tmp_path, monkeypatch):
    import sys

    from petri.export import export

    monkeypatch.setitem(sys.modules, "onnxscript", None)  # as if not installed
    with pytest.raises(PetriError, match=r"onnxscript is missing\): pip install -e '\.\[onnx\]' in petri's checkout"):
        export(run, tmp_path / "out", "onnx")
    assert not list(tmp_path.iterdir())


def test_gallery_desc_of_a_bad_id_or_to_an_unwritable_path_is_one_line(gallery, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious")
    before = files(tmp_path)
    one_line_error(run_petri("gallery", "desc", gallery, "9"), "has no model '9'",
                   "it holds: 1, 2")
    one_line_error(run_petri("gallery", "desc", gallery, "1", "-o", notes / "net.json"),
                   "cannot write the desc", "is a file, not a folder")
    one_line_error(run_petri("gallery", "desc", tmp_path / "none.h5", "1"), "does not exist",
                   "petri export")
    assert files(tmp_path) == before


def test_export_cleans_temp_files_of_killed_writes_but_not_live_ones(run, tmp_path):
    out = tmp_path / "g.h5"
    stale = tmp_path / ".g.h5.killed.tmp"
    live = tmp_path / ".g.h5.running.tmp"
    young = tmp_path / ".g.h5.young.tmp"
    other = tmp_path / ".notes.abc.tmp"
    for p in (stale, live, other, young):
        p.write_bytes(b"partial")
    old = time.time() - 3600
    for p in (stale, live, other):
        os.utime(p, (old, old))
    with open(live, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a writer still at work
        res = run_petri("export", run, "-o", out)
    assert res.returncode == 0, res.stderr
    assert not stale.exists() and live.exists() and young.exists() and other.exists()


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails, not kills
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))  # SQLite's 32 KiB -shm fits


def test_export_that_fails_while_writing_leaves_no_temp_and_the_old_gallery(run, gallery,
                                                                             tmp_path):
    out = tmp_path / "g.h5"
    out.write_bytes(gallery.read_bytes())
    before = files(tmp_path)
    res = run_petri("export", run, "-o", out, preexec_fn=_limit_file_size)
    one_line_error(res, f"cannot write the gallery {out}", "File too large")
    assert files(tmp_path) == before


def test_export_refuses_up_front_without_the_space(run, tmp_path, monkeypatch):
    import shutil

    from petri.gallery import export

    monkeypatch.setattr(shutil, "disk_usage", lambda p: SimpleNamespace(free=1000))
    with pytest.raises(PetriError, match=r"not enough space on /.*: need .*, have 1000 B"):
        export(run, tmp_path / "g.h5")
    assert not list(tmp_path.iterdir())


def test_export_on_a_full_disk_says_which_disk_and_leaves_nothing(run, gallery, tmp_path,
                                                                  monkeypatch):
    from petri.gallery import export

    out = tmp_path / "g.h5"
    out.write_bytes(gallery.read_bytes())
    before = files(tmp_path)

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(PetriError, match=f"the disk holding {re.escape(str(tmp_path))} .* is full"):
        export(run, out)
    assert files(tmp_path) == before


# ---- damaged galleries: gallery show, load_model, eval -----------------------------------

def _drop(name):
    return lambda f: f["models/1"].attrs.__delitem__(name)


def _set(name, value):
    return lambda f: f["models/1"].attrs.__setitem__(name, value)


DAMAGE = {
    "no desc": (_drop("desc"), ["model 1", "no desc"]),
    "bad JSON": (_set("desc", "{not json"), ["model 1", "not JSON"]),
    "desc not an object": (_set("desc", "[1, 2]"), ["model 1", "JSON object"]),
    "desc missing keys": (_set("desc", json.dumps({"cells": 3})), ["model 1", "cannot build"]),
    "odd group name": (lambda f: f["models"].move("1", "x1"), ["model x1", "point id"]),
    "no weights": (lambda f: f["models/1"].__delitem__("weights"), ["model 1", "weights"]),
    "text number": (_set("val_error", "low"), ["model 1", "val_error", "not a number"]),
    "not a gallery": (lambda f: f.attrs.__setitem__("format", "other"), ["not a petri gallery"]),
    "preprocessing not JSON": (_set("preprocessing", "{"), ["model 1", "preprocessing",
                                                            "not JSON"]),
    "short input shape": (_set("preprocessing", json.dumps({"shape": [1, 28], "mean": [0.1],
                                                            "std": [0.3]})),
                          ["model 1", "preprocessing", "three positive integers"]),
    "mean per channel": (_set("preprocessing", json.dumps({"shape": [3, 8, 8], "mean": [0.1],
                                                           "std": [0.3, 0.3, 0.3]})),
                         ["model 1", "preprocessing", "not 3 numbers, one per channel"]),
}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, gallery, tmp_path):
    damage, words = DAMAGE[request.param]
    path = tmp_path / "damaged.h5"
    path.write_bytes(gallery.read_bytes())
    with h5py.File(path, "a") as f:
        damage(f)
    return path, words


def test_gallery_show_of_a_damaged_entry_is_one_line(damaged):
    path, words = damaged
    before = path.read_bytes()
    one_line_error(run_petri("gallery", "show", path), *words)
    assert path.read_bytes() == before


def test_load_model_of_a_damaged_entry_is_a_store_error(damaged):
    from petri.gallery import load_model

    path, _ = damaged  # the words differ: a renamed model 1 is one the gallery lacks
    with pytest.raises(StoreError) as info:
        load_model(path, 1)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("cut", [3000, 0.5])
def test_gallery_show_of_a_truncated_or_foreign_file_is_one_line(gallery, tmp_path, cut):
    data = gallery.read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[:cut if isinstance(cut, int) else int(len(data) * cut)])
    one_line_error(run_petri("gallery", "show", path), "not a readable HDF5 file")
    text = tmp_path / "text.h5"
    text.write_text("hello")
    one_line_error(run_petri("gallery", "show", text), "not a readable HDF5 file")


@pytest.mark.parametrize("model_id", ["x", "", "1/weights", "../format", -1, 1.5, True, None, 99])
def test_load_model_with_an_odd_id_lists_the_ids(gallery, model_id):
    from petri.gallery import load_model

    with pytest.raises(StoreError, match="has no model .* it holds: 1, 2"):
        load_model(gallery, model_id)


def test_load_model_takes_an_id_as_text_too(gallery):
    from petri.gallery import load_model

    assert load_model(gallery, "2").desc == load_model(gallery, 2).desc


def test_eval_of_a_damaged_gallery_is_one_line_and_creates_nothing(damaged, tmp_path):
    path, words = damaged
    res = run_petri("eval", path, "--config", ROOT / "configs" / "eval_toy.yaml",
                    "--run-dir", tmp_path / "eval", "--detach")
    one_line_error(res, *words)
    assert not (tmp_path / "eval").exists()


# ---- a damaged run store: status, export ---------------------------------------------------

def test_status_of_a_store_with_a_corrupt_page_says_so_and_leaves_it(tmp_path):
    from petri.rundir import RunDir
    from petri.store.records import JobSpec
    from petri.store.store import RunStore

    store = RunStore.open(tmp_path, create=True)
    store.enqueue([JobSpec("sleep_train", {"pad": "x" * 500, "i": i}, f"k{i}")
                   for i in range(200)])
    store.close()
    path = RunDir(tmp_path).db
    with open(path, "r+b") as f:
        f.seek(path.stat().st_size // 2 // 4096 * 4096)  # one whole page in the middle
        f.write(b"garbage!" * 512)
    with pytest.raises(sqlite3.DatabaseError):  # the damage is real, not a false alarm
        check = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        if check.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("quick_check")
    before = files(tmp_path)
    for args in ([], ["--json"]):
        one_line_error(run_petri("status", tmp_path, *args), str(path), "damaged",
                       "left untouched")
    one_line_error(run_petri("export", tmp_path, "-o", tmp_path / "g.h5"), "damaged")
    assert files(tmp_path) == before


def test_ensemble_options_are_checked(run):
    one_line_error(run_petri("ensemble", run, "--device", "bogus"), "--device")
    one_line_error(run_petri("ensemble", run, "--eps", "-1"), "--eps")
