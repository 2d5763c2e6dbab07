"""`petri compare` and `petri plot --hv-curve` on real run dirs with known points."""
import json
import os
import random

import pytest

from petri.launch import save_config
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore
from tests.conftest import run_petri, run_petri_here


def make_run(path, algo, seed, err, rng, data=None):
    """Three points (100k, 300k, 1M MACs), each from a job of 10 s and 500 images."""
    save_config({"algo": algo, "seed": seed, **({"data": data} if data else {})}, path)
    store = RunStore.open(path, create=True)
    store.enqueue([JobSpec("sleep_train", {}, f"k{i}") for i in range(3)])
    for i, cost in enumerate((1e5, 3e5, 1e6)):
        j = store.claim("cpu0", "cpu")
        e = err * (1 + 0.3 * rng.random()) - 0.02 * i
        store.complete(j.id, j.lease, {"wall_s": 10.0, "steps": 10, "batch_size": 50},
                       [PointSpec(f"p{i}", e, macs=int(cost), params=1000, budget=2)], [], 3)
    store.close()
    return str(path)


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    rng = random.Random(0)
    return {algo: [make_run(root / f"{algo}{s}", algo, s, err, rng) for s in range(5)]
            for algo, err in (("petridish", 0.2), ("random", 0.35))}


def test_compare_prints_frame_budgets_test_and_verdict(arms):
    res = run_petri("compare", *arms["petridish"], *arms["random"], "--by", "seed")
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "hypervolume frame (common support of the runs)" in out
    assert "from 100.00k to 1.00M" in out and "reference point" in out
    for needle in ("image-epochs", "per point", "epochs/point", "1.50k", "500", "2.0",
                   "petridish: beats random at level 0.05", "p = 0.008", "A12 = 1.00",
                   "in frame"):
        assert needle in out, needle


def test_compare_with_three_runs_per_arm_refuses_a_verdict(arms):
    res = run_petri("compare", *arms["petridish"][:3], *arms["random"][:3])
    assert res.returncode == 0, res.stderr
    assert "too few runs for a verdict (3 per arm; need 5)" in " ".join(res.stdout.split())


def test_compare_json_carries_frame_test_budgets_and_curves(arms):
    res = run_petri("compare", *arms["petridish"], *arms["random"], "--frame", "2e5:1e6",
                    "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["frame"]["source"] == "--frame" and out["frame"]["min_cost"] == 2e5
    assert out["frame"]["ref_cost"] > 1e6 and out["min_runs"] == 5
    g = {g["algo"]: g for g in out["groups"]}
    assert g["petridish"]["test"]["p"] < 0.05 and g["petridish"]["test"]["a12"] == 1.0
    assert g["random"]["image_epochs"] == 1500 and g["random"]["image_epochs_per_point"] == 500
    assert g["random"]["curve"][-1][0] == 30.0
    assert [s for s, _, _ in out["runs"][0]["curve"]] == [0, 10, 20, 30]


@pytest.mark.parametrize("frame", ["1e6:1e5", "cheap:dear"])
def test_a_bad_frame_is_one_line(arms, frame):
    res = run_petri("compare", *arms["random"], "--frame", frame)
    assert res.returncode != 0 and "Traceback" not in res.stderr
    assert "COST_MIN" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_plot_draws_the_hypervolume_curves(arms, tmp_path):
    out = tmp_path / "hv.svg"
    res = run_petri("plot", *arms["petridish"], *arms["random"], "--hv-curve", "-o", out)
    assert res.returncode == 0, res.stderr
    svg = out.read_text()
    assert "hypervolume" in svg and "petridish (mean of 5 runs)" in svg


@pytest.mark.parametrize("data,words", [
    ("photos", ["data.dataset", "fashion-mnist", "photos.petri", "input size", "1x28x28",
                "3x12x10"]),
    ({"dataset": "mnist"}, ["data.dataset", "fashion-mnist", "mnist"]),
    ({"subset": 4000}, ["data.subset", "4000", "all"]),
    ({"val_subset": 2000}, ["data.val_subset", "2000"]),
    ({"val_size": 5000}, ["data.val_size", "5000", "10000"]),
    ({"split_seed": 3}, ["data.split_seed", "3", "0"]),
], ids=["photos", "mnist", "subset", "val_subset", "val_size", "split_seed"])
def test_compare_refuses_runs_on_different_data_naming_the_difference(arms, tmp_path, photos,
                                                                      data, words):
    other = make_run(tmp_path / "other", "random", 0, 0.3, random.Random(1),
                     {"dataset": photos} if data == "photos" else data)
    for command in (("compare",), ("plot", "--hv-curve", "-o", tmp_path / "hv.png")):
        res = run_petri_here(*command, *arms["petridish"], other)
        assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
        line, = res.stderr.strip().splitlines()
        for w in (*words, "different data", arms["petridish"][0], other):
            assert w in line, (w, line)
        assert arms["petridish"][1] not in line  # one run per value is enough
    assert not (tmp_path / "hv.png").exists()


def test_compare_takes_a_dataset_default_written_out_as_the_same_data(arms, tmp_path):
    same = make_run(tmp_path / "same", "random", 0, 0.3, random.Random(1), {"val_size": 10000})
    res = run_petri_here("compare", *arms["petridish"], same)
    assert res.returncode == 0, res.stderr


def bad_outputs(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    cases = [(tmp_path / "f.xyz", "unknown figure format .xyz"),
             (tmp_path / "missing" / "f.png", "is not an existing directory")]
    if os.geteuid() != 0:  # root may write anywhere
        cases.append((locked / "f.png", "is not writable"))
    return cases


@pytest.mark.slow
def test_plot_to_a_bad_output_is_one_line_and_fails(arms, tmp_path):
    for out, words in bad_outputs(tmp_path):
        for extra in ((), ("--hv-curve",)):
            res = run_petri("plot", *arms["random"], "-o", out, *extra)
            assert res.returncode != 0 and "Traceback" not in res.stderr, res.stderr
            assert words in res.stderr and len(res.stderr.strip().splitlines()) == 1
            assert not out.exists()
