"""`petri latency`: a desc, a gallery model and an exported ONNX file measured on their
targets, the cache, `--predict` beside a table, and every bad input refused in one line."""
import json
import random
import sys

import pytest
import torch

from petri.space.build import build_model
from petri.space.sample import random_desc
from petri.store.gallery import GalleryModel, Preprocessing, write_gallery
from tests.helpers.cli import one_line_error
from tests.conftest import run_petri_here as run_petri

TINY = random_desc(random.Random(0), 1, channels=4, cells=3, reductions=1, in_channels=1)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A desc file, a gallery holding it as model 1, and its ONNX export with the JSON
    `petri export` writes beside it."""
    root = tmp_path_factory.mktemp("latency")
    (root / "tiny.json").write_text(TINY.to_json())
    net = build_model(TINY).eval()
    pre = Preprocessing((1, 12, 12), (0.5,), (0.25,))
    write_gallery(root / "g.h5", [GalleryModel(
        id=1, key=TINY.key(), desc=TINY.to_dict(), val_error=0.5, params=1, macs=1,
        activation_bytes=1, parent=None, stage="seed", lineage={}, trainer={}, data={},
        preprocessing=pre, weights={k: v.numpy() for k, v in net.state_dict().items()})],
        {"source": "test"})
    program = torch.onnx.export(net, (torch.zeros(2, 1, 12, 12),), input_names=["images"],
                                dynamo=True, verbose=False,
                                dynamic_shapes=({0: torch.export.Dim("batch")},))
    (root / "model-1.onnx").write_bytes(program.model_proto.SerializeToString())
    (root / "model-1.json").write_text(json.dumps({"preprocessing": pre.to_dict(),
                                                   "desc": TINY.to_dict()}))
    return root


def _json(res) -> list[dict]:
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


@pytest.mark.parametrize("args,words", [
    ([], ["measure", "table"]), (["table"], ["--channels", "--threads"]),
    (["measure"], ["--predict", "--no-cache", "--threads", "--target"])])
def test_help_of_every_latency_command(args, words):
    res = run_petri("latency", *args, "--help")
    assert res.returncode == 0, res.stderr
    for w in words:
        assert w in res.stdout


def test_a_desc_is_measured_then_cached_and_no_cache_measures_again(files):
    args = ["latency", files / "tiny.json", "--dataset", "mnist", "--batch", "2", "--json"]
    first, = _json(run_petri(*args))
    assert first["input_shape"] == [1, 28, 28] and first["info"]["target"] == {
        "kind": "cpu", "threads": 1, "batch": 2}
    t = first["timings"]
    assert t["runs"] >= 30 and t["median_ms"] > 0 and t["iqr_ms"] >= 0 and not first["cached"]
    again, = _json(run_petri(*args))
    assert again["cached"] and again["timings"] == t
    fresh, = _json(run_petri(*args, "--no-cache"))
    assert not fresh["cached"]
    text = run_petri(*args[:-1])
    assert "target: cpu on CPU" in text.stdout and "batch 2" in text.stdout
    assert "median" in text.stdout and "IQR" in text.stdout and "CV" in text.stdout


def test_a_gallery_model_and_its_onnx_export_run_on_their_inputs(files):
    g, = _json(run_petri("latency", f"{files / 'g.h5'}:1", "--json"))
    assert g["input_shape"] == [1, 12, 12] and g["identity"] == f"desc:{TINY.key()}"
    onnx, = _json(run_petri("latency", files / "model-1.onnx", "--json", "--batch", "3"))
    assert onnx["info"]["target"]["kind"] == "onnxruntime"
    assert onnx["input_shape"] == [1, 12, 12] and onnx["timings"]["median_ms"] > 0
    # A desc runs on onnxruntime too, exported on the way.
    desc, = _json(run_petri("latency", files / "tiny.json", "--target", "onnxruntime",
                            "--json", "--dataset", "mnist"))
    assert desc["info"]["onnxruntime"] and desc["timings"]["runs"] >= 30


def test_predict_prints_the_tables_figure_beside_the_measurement(files, tmp_path):
    env = {"PETRI_DATA": str(tmp_path)}
    res = run_petri("latency", files / "tiny.json", "--dataset", "mnist", "--predict", env=env)
    one_line_error(res, "no latency table", "petri latency table --target cpu --threads 1 "
                                            "--batch 1 --dataset mnist")
    table = run_petri("latency", "table", "--dataset", "mnist", "--channels", "4",
                      "--max-nodes", "1", env=env)
    assert table.returncode == 0 and "latency table:" in table.stdout, table.stderr
    out, = _json(run_petri("latency", files / "tiny.json", "--dataset", "mnist", "--predict",
                           "--json", env=env))
    assert out["predicted_ms"] > 0
    res = run_petri("latency", files / "tiny.json", "--dataset", "mnist", "--predict", env=env)
    assert "predicted" in res.stdout and "% of the measurement" in res.stdout


@pytest.mark.parametrize("args,words", [
    (["--target", "tpu"], ["'tpu' is not one of", "cpu", "onnxruntime"]),
    (["--threads", "0"], ["--threads", "0 is not in the range x>=1"]),
    (["--batch", "-1"], ["--batch", "-1 is not in the range x>=1"]),
])
def test_bad_options_are_refused_in_one_line(files, args, words):
    one_line_error(run_petri("latency", files / "tiny.json", *args), *words)


def test_bad_models_are_refused_in_one_line(files, tmp_path):
    one_line_error(run_petri("latency", "NO_SUCH_NET"), "does not exist",
                   "known genotype name")
    one_line_error(run_petri("latency", tmp_path / "none.onnx"), "does not exist",
                   "GALLERY.h5:ID")
    one_line_error(run_petri("latency", f"{files / 'g.h5'}:7"), "has no model '7'", "holds: 1")
    one_line_error(run_petri("latency", f"{tmp_path / 'missing.h5'}:1"), "does not exist",
                   "petri export")
    one_line_error(run_petri("latency", files / "model-1.onnx", "--target", "cpu"),
                   "ONNX file", "--target onnxruntime")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused_in_one_line(files):
    one_line_error(run_petri("latency", files / "tiny.json", "--target", "cuda"),
                   "needs a CUDA GPU", "--target cpu")
    one_line_error(run_petri("latency", "table", "--target", "cuda"), "needs a CUDA GPU")


def test_onnxruntime_missing_is_refused_naming_the_install(files, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    one_line_error(run_petri("latency", files / "model-1.onnx"), "onnxruntime",
                   "pip install -e '.[onnx]'")
