"""Found models that travel: `petri export --format torchscript|onnx|safetensors` files that run
without petri and match the eager model, the preprocessing carried by galleries and exports,
`petri gallery desc`, and `--json` on the inspecting commands."""
import json
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from petri.data.info import DATASETS
from petri.export import ExportedModel, ExportSummary
from petri.store.gallery import GalleryModel, Preprocessing
from tests.helpers.cli import make_run, one_line_error
from tests.conftest import ROOT, needs_fashion, run_petri

# Each case runs in this interpreter (fast) and in fresh petri processes (slow).
pytestmark = pytest.mark.usefixtures("cli_both_ways")

FASHION = DATASETS["fashion-mnist"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"))


@pytest.fixture(scope="module")
def gallery(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("gallery") / "g.h5"
    res = run_petri("export", run, "-o", path, "--json")
    assert res.returncode == 0, res.stderr
    summary = ExportSummary.from_dict(json.loads(res.stdout))
    assert summary.format == "hdf5" and [m.id for m in summary.models] == [1, 2]
    assert all(m.file == str(path) for m in summary.models)
    return path


def _export(run, out, fmt) -> ExportSummary:
    res = run_petri("export", run, "-o", out, "--format", fmt, "--json", timeout=600)
    assert res.returncode == 0, res.stderr
    return ExportSummary.from_dict(json.loads(res.stdout))


def _images(n=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, *FASHION.shape, generator=g)


def _eager(gallery, model_id, x):
    from petri.gallery import load_model

    with torch.no_grad():
        return load_model(gallery, model_id)(x)


RUNNER = """
import json, sys
import numpy as np
kind, path, x = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
if kind == "torchscript":
    import torch
    out = torch.jit.load(path)(torch.from_numpy(x)).detach().numpy()
elif kind == "pt2":
    import torch
    out = torch.export.load(path).module()(torch.from_numpy(x)).detach().numpy()
else:
    import onnxruntime
    out = onnxruntime.InferenceSession(path).run(["logits"], {"images": x})[0]
np.save(sys.argv[4], out)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "petri")))
"""


def _run_outside_petri(kind, path: Path, x, tmp_path) -> torch.Tensor:
    """The outputs of the exported file at `path` on `x`, computed by a fresh interpreter in
    another folder that never imports petri."""
    np.save(tmp_path / "x.npy", x.numpy())
    res = subprocess.run([sys.executable, "-c", RUNNER, kind, str(path), str(tmp_path / "x.npy"),
                          str(tmp_path / "y.npy")], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.splitlines()[-1]) == []
    return torch.from_numpy(np.load(tmp_path / "y.npy"))


def _sidecar(out: Path, model_id: int) -> ExportedModel:
    return ExportedModel.from_dict(json.loads((out / f"model-{model_id}.json").read_text()))


@pytest.mark.slow
@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".pt"), ("pt2", ".pt2")])
def test_torch_files_run_without_petri_and_equal_the_eager_model(run, gallery, tmp_path, fmt,
                                                                 suffix):
    out = tmp_path / fmt
    summary = _export(run, out, fmt)
    assert sorted(p.name for p in out.iterdir()) == ["model-1.json", f"model-1{suffix}",
                                                     "model-2.json", f"model-2{suffix}"]
    x = _images(3)  # traced and exported at batch 2: the batch stays free
    for m in summary.models:
        got = _run_outside_petri(fmt, Path(m.file), x, tmp_path)
        torch.testing.assert_close(got, _eager(gallery, m.id, x), rtol=0, atol=1e-6)


@pytest.mark.slow
def test_onnx_passes_the_checker_and_onnxruntime_equals_the_eager_model(run, gallery,
                                                                        tmp_path):
    import onnx

    out = tmp_path / "onnx"
    summary = _export(run, out, "onnx")
    x = _images(5)
    for m in summary.models:
        onnx.checker.check_model(onnx.load(m.file), full_check=True)
        assert not list(out.glob("*.data"))  # the weights are inside the one file
        got = _run_outside_petri("onnx", Path(m.file), x, tmp_path)
        torch.testing.assert_close(got, _eager(gallery, m.id, x), rtol=1e-4, atol=1e-5)


GUIDE = ROOT / "docs" / "howto" / "export-deploy.md"


def guide_onnx_snippet() -> str:
    """The export guide's Python example that runs an exported ONNX model on an image file."""
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), re.S)
    snippet, = [b for b in blocks if "onnxruntime.InferenceSession" in b]
    return snippet


def test_the_guide_installs_extras_from_the_checkout_and_the_onnx_one_runs_files():
    guide = GUIDE.read_text()
    assert "pip install -e '.[onnx]'" in guide and "petri[" not in guide  # not on an index
    onnx_extra = re.search(r'"onnx": \[(.*?)\]', (ROOT / "setup.py").read_text()).group(1)
    assert "onnxruntime" in onnx_extra and "onnxscript" in onnx_extra


@pytest.mark.slow
def test_the_guide_onnx_snippet_names_the_class_the_model_predicts(run, gallery, tmp_path):
    from PIL import Image

    from petri.gallery import load_model

    _export(run, tmp_path / "models", "onnx")
    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "image.png")
    check = "\nimport sys; assert not [m for m in sys.modules if m.split('.')[0] == 'petri']\n"
    res = subprocess.run([sys.executable, "-c", guide_onnx_snippet() + check],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stderr
    model = load_model(gallery, 1)
    pre = model.preprocessing
    mean, std = (torch.tensor(v).view(-1, 1, 1) for v in (pre.mean, pre.std))
    with torch.no_grad():
        logits = model(((torch.from_numpy(pixels).float()[None] / 255 - mean) / std)[None])
    assert res.stdout.strip() == model.classes[int(logits.argmax(1))]
    assert res.stdout.strip() in FASHION.classes


def test_safetensors_load_into_the_model_built_from_the_desc(run, gallery, tmp_path):
    from safetensors.torch import load_file

    from petri.space.build import build_model
    from petri.space.desc import ModelDesc

    out = tmp_path / "st"
    summary = _export(run, out, "safetensors")
    x = _images(2)
    for m in summary.models:
        meta = _sidecar(out, m.id)
        model = build_model(ModelDesc.from_dict(meta.desc))
        model.load_state_dict(load_file(out / meta.file))
        with torch.no_grad():
            assert torch.equal(model.eval()(x), _eager(gallery, m.id, x))


def test_export_reports_each_model_as_it_starts_it_with_the_total(run, tmp_path):
    from petri.export import ExportStep, export

    steps = []
    export(run, tmp_path / "st", "safetensors", on_step=steps.append)
    assert steps == [ExportStep(0, 2, 1), ExportStep(1, 2, 2), ExportStep(2, 2, None)]


def test_export_on_a_terminal_draws_a_bar_per_model_and_json_is_its_own_summary(run,
                                                                                tmp_path):
    # TTY_COMPATIBLE: rich draws for a terminal though stderr is captured.
    res = run_petri("export", run, "-o", tmp_path / "st", "--format", "safetensors", "--json",
                    env={"TTY_COMPATIBLE": "1"})
    assert res.returncode == 0, res.stderr
    for shown in ("0/2", "model 1", "1/2", "model 2", "0:00:"):  # count, model, elapsed
        assert shown in res.stderr, shown
    summary = ExportSummary.from_dict(json.loads(res.stdout))  # stdout is the JSON alone
    assert [m.id for m in summary.models] == [1, 2]


def test_json_is_said_to_be_an_option_of_the_export_itself():
    res = run_petri("export", "--help")
    assert "instead of one line; it exports as without --json" in " ".join(res.stdout.split())


def test_the_json_beside_each_file_says_what_the_model_needs_and_is(run, tmp_path):
    from petri.store.store import RunStore

    out = tmp_path / "st"
    summary = _export(run, out, "safetensors")
    with RunStore.open(run, readonly=True) as store:
        points = {p.id: p for p in store.view.points()}
    for m in summary.models:
        meta = _sidecar(out, m.id)
        p = points[m.id]
        assert meta.file == f"model-{m.id}.safetensors" and meta.format == "safetensors"
        assert meta.preprocessing == Preprocessing(FASHION.shape, FASHION.mean, FASHION.std)
        assert meta.classes == FASHION.classes
        assert (meta.params, meta.macs, meta.val_error, meta.test_error) == \
            (p.params, p.macs, p.val_error, p.test_error)
        assert meta.desc == p.desc and meta.source == str(run.resolve())
        assert meta.lineage == p.lineage and meta.parent == p.parent
        assert meta == ExportedModel.from_dict(json.loads(json.dumps(meta.to_dict())))


def test_export_summary_round_trips_through_json(run, tmp_path):
    from petri.export import export

    summary = export(run, tmp_path / "st", "safetensors")
    assert ExportSummary.from_dict(json.loads(json.dumps(summary.to_dict()))) == summary


def test_gallery_and_load_model_carry_the_preprocessing(gallery):
    from petri.gallery import load_model
    from petri.store.gallery import read_models

    for m in read_models(gallery):
        assert m.preprocessing == Preprocessing(FASHION.shape, FASHION.mean, FASHION.std)
        assert GalleryModel.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    model = load_model(gallery, 1)
    assert model.preprocessing.shape == FASHION.shape and model.classes == FASHION.classes
    res = run_petri("gallery", "show", gallery, env={"COLUMNS": "300"})
    assert res.returncode == 0, res.stderr
    assert "inputs 1x28x28 (C×H×W), (pixel/255 - mean)/std with mean 0.286 and std 0.353" \
        in res.stdout


def test_a_gallery_written_before_preprocessing_was_kept_still_loads(gallery, tmp_path):
    from petri.gallery import load_model

    old = tmp_path / "old.h5"
    old.write_bytes(gallery.read_bytes())
    with h5py.File(old, "a") as f:
        for g in f["models"].values():
            del g.attrs["preprocessing"]
    model = load_model(old, 2)
    x = _images(2)
    assert model.preprocessing is None
    with torch.no_grad():
        assert torch.equal(model(x), _eager(gallery, 2, x))
    res = run_petri("gallery", "show", old, env={"COLUMNS": "300"})
    assert res.returncode == 0 and "no input preprocessing recorded" in res.stdout
    res = run_petri("gallery", "show", old, "--json")
    assert res.returncode == 0
    assert [m["preprocessing"] for m in json.loads(res.stdout)["models"]] == [None, None]


def test_gallery_show_json_lists_the_models_and_imports_no_torch(gallery):
    code = ("import json, sys\nfrom petri.cli.main import main\n"
            f"rc = main(['gallery', 'show', {str(gallery)!r}, '--json'])\n"
            "print(json.dumps({'rc': rc, 'torch': 'torch' in sys.modules}))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    *body, last = res.stdout.splitlines()
    assert json.loads(last) == {"rc": 0, "torch": False}
    shown = json.loads("\n".join(body))
    assert shown["format"] == "petri-gallery-1" and shown["selection"] == "frontier"
    assert [m["id"] for m in shown["models"]] == [1, 2]
    assert all("weights" not in m and m["classes"] == list(FASHION.classes)
               for m in shown["models"])


@pytest.mark.slow
def test_gallery_desc_writes_a_desc_petri_cost_and_train_accept(gallery, tmp_path):
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.store.gallery import read_model

    net = tmp_path / "net.json"
    res = run_petri("gallery", "desc", gallery, "2", "-o", net)
    assert res.returncode == 0 and f"petri cost {net}" in res.stdout, res.stderr
    desc = ModelDesc.from_dict(read_model(gallery, 2).desc)
    assert ModelDesc.from_dict(json.loads(net.read_text())) == desc
    res = run_petri("cost", net, "--json")
    assert res.returncode == 0, res.stderr
    model = build_model(desc)
    assert json.loads(res.stdout)["params"] == sum(p.numel() for p in model.parameters())
    printed = run_petri("gallery", "desc", gallery, "2")
    assert printed.returncode == 0 and json.loads(printed.stdout) == json.loads(net.read_text())


@pytest.mark.slow
@needs_fashion
def test_train_json_is_the_result_and_nothing_else(gallery, tmp_path):
    net = tmp_path / "net.json"
    assert run_petri("gallery", "desc", gallery, "1", "-o", net).returncode == 0
    res = run_petri("train", net, "--epochs", "1", "--subset", "64", "--val-size", "32",
                    "--batch-size", "32", "--device", "cpu", "--json", timeout=600)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert (out["channels"], out["cells"], out["epochs"]) == (4, 1, 1)
    assert (out["train_images"], out["val_images"]) == (64, 32)
    assert 0 <= out["val_error"] <= 1 and out["images_per_s"] > 0 and out["params"] > 0
    assert "(C=4, L=1)" in res.stderr  # what is trained is still said, beside the JSON


def test_eval_json_reports_each_gallery_model(gallery, tmp_path):
    from petri.rundir import RunDir
    from petri.store.records import JobSpec, PointSpec
    from petri.store.store import RunStore

    run_dir = tmp_path / "eval"
    store = RunStore.open(run_dir, create=True)
    store.enqueue([JobSpec("eval_train", {"gallery_id": gid}, f"eval/{gid}")
                   for gid in (1, 2)])
    job = store.claim("w", "cpu")
    store.complete(job.id, job.lease, {"wall_s": 1.0}, [PointSpec(
        key="e1", val_error=0.25, params=10, macs=1000, test_error=0.2,
        lineage={"gallery_id": 1, "search_val_error": 0.3})], [])
    store.set_meta(done="1")
    store.close()
    RunDir(run_dir).config.write_text("algo: eval\n")
    res = run_petri("eval", gallery, "--run-dir", run_dir, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["done"] is True and out["run_dir"] == str(run_dir)
    first, second = out["models"]
    assert first == {"gallery_id": 1, "state": "done", "point": 1, "params": 10, "macs": 1000,
                     "search_val_error": 0.3, "val_error": 0.25, "test_error": 0.2,
                     "error": None}
    assert second["gallery_id"] == 2 and second["state"] == "queued"
    assert second["test_error"] is None


def test_eval_with_a_failed_model_says_which_and_why_and_exits_non_zero(gallery, tmp_path):
    from petri.rundir import RunDir
    from petri.store.records import JobSpec
    from petri.store.store import RunStore

    run_dir = tmp_path / "eval"
    store = RunStore.open(run_dir, create=True)
    store.enqueue([JobSpec("eval_train", {"gallery_id": 7}, "eval/7")], max_attempts=1)
    job = store.claim("w", "cpu")
    store.fail(job.id, job.lease, "infra", "hung: no progress for 130s")
    store.set_meta(done="1")
    store.close()
    RunDir(run_dir).config.write_text("algo: eval\n")
    res = run_petri("eval", gallery, "--run-dir", run_dir, "--json")
    assert res.returncode == 1
    (model,) = json.loads(res.stdout)["models"]
    assert model["state"] == "failed" and model["error"] == "hung: no progress for 130s"
    assert "model 7: hung: no progress for 130s" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 2  # "continuing it", then the error line
    res = run_petri("eval", gallery, "--run-dir", run_dir, env={"COLUMNS": "200"})
    assert res.returncode == 1
    assert "failed: hung: no progress for 130s" in res.stdout  # the table gives the reason


def test_an_existing_evaluation_refuses_another_config_or_gallery(gallery, tmp_path):
    import shutil

    from petri.rundir import RunDir
    from petri.store.store import RunStore

    run_dir = tmp_path / "eval"
    RunStore.open(run_dir, create=True).close()
    saved = f"algo: eval\neval:\n  gallery: {json.dumps(str(gallery))}\n"
    RunDir(run_dir).config.write_text(saved)
    res = run_petri("eval", gallery, "--config", ROOT / "configs" / "eval_toy.yaml",
                    "--run-dir", run_dir)
    assert res.returncode != 0 and "another config" in one_line_error(res)
    other = tmp_path / "other.h5"
    shutil.copy(gallery, other)
    res = run_petri("eval", other, "--run-dir", run_dir)
    assert res.returncode != 0 and f"not of {other}" in one_line_error(res)
    assert RunDir(run_dir).config.read_text() == saved  # nothing changed


def test_an_evaluation_plots_on_the_cost_axis_its_gallery_was_selected_on(run, tmp_path):
    from petri.cli.evaluate import with_gallery_cost

    res = run_petri("export", run, "-o", tmp_path / "g.h5", "--cost", "params")
    assert res.returncode == 0, res.stderr
    cfg = {"algo": "eval"}
    with_gallery_cost(cfg, tmp_path / "g.h5")
    assert cfg["hull"] == {"cost": "params"}
    cfg = {"algo": "eval", "hull": {"cost": "memory", "eps": 0.1}}  # the config says: kept
    with_gallery_cost(cfg, tmp_path / "g.h5")
    assert cfg["hull"] == {"cost": "memory", "eps": 0.1}


@pytest.mark.parametrize("command", [["export", "RUN"], ["ensemble", "RUN"], ["plot", "RUN"]])
def test_cost_is_spelled_as_in_hull_cost_everywhere(run, command):
    args = [str(run) if a == "RUN" else a for a in command]
    one_line_error(run_petri(*args, "--cost", "activation_bytes"), "--cost",
                   "'activation_bytes' is spelled 'memory' (as in hull.cost)")
    res = run_petri(*args, "--cost", "memory", "--help")
    assert res.returncode == 0 and "memory" in res.stdout and "activation_bytes" not in \
        res.stdout
