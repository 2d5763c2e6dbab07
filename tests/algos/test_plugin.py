"""Third-party algorithms, primitives and datasets plug in through the `petri.algos`,
`petri.ops` and `petri.datasets` entry points and run end to end.

A plug-in is "installed" the way pip leaves one: a module and a dist-info folder with its
entry points, on the path of a fresh interpreter (and so of the daemon and its workers).
"""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import run_petri
from tests.helpers.plugins import install

PLUGIN = '''
from petri.algos.base import Algorithm, Outcome
from petri.algos.registry import AlgoInfo
from petri.store.records import JobSpec, PointSpec


class Coinflip(Algorithm):
    name = "coinflip"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.flips = int((cfg.get("coinflip") or {}).get("flips", 3))

    def propose(self, view, free_slots):
        if view.job_count():
            return []
        return [JobSpec("coin_train", {"i": i, "seed": self.seed}, f"coin/{i}")
                for i in range(self.flips)]

    def on_result(self, job, result, view):
        return Outcome(points=[PointSpec(f"{job.key}/point", result["val_error"],
                                         params=result["params"], stage="coin")])

    def stop_reason(self, view):
        return "all flips proposed" if view.job_count() else None


def run_job(spec, ctx):
    ctx.progress(force=True, step=1, total_steps=1)
    return {"val_error": (1 + spec["i"]) / 10, "params": 100 * (spec["i"] + 1)}


ALGOS = [AlgoInfo("coinflip", "coinflip_petri:Coinflip", "a plug-in's toy search",
                  sections=("coinflip",), kinds={"coin_train": "coinflip_petri:run_job"},
                  test_config="coinflip_tiny.yaml")]
'''


def test_an_installed_plugin_algorithm_runs_on_the_daemon(tmp_path):
    env = install(tmp_path / "site", "coinflip_petri", PLUGIN,
                  "[petri.algos]\ncoinflip = coinflip_petri:ALGOS\n")
    # Its tiny test config lies beside its module, as a built-in algorithm's does.
    (tmp_path / "site" / "coinflip_tiny.yaml").write_text("algo: coinflip\n")
    res = subprocess.run([sys.executable, "-c", "from petri.algos.registry import algo_info; "
                          "print(algo_info('coinflip').test_config_path().read_text())"],
                         capture_output=True, text=True, env={**os.environ, **env})
    assert res.returncode == 0 and res.stdout.strip() == "algo: coinflip", res.stderr
    config = tmp_path / "coin.yaml"
    config.write_text("algo: coinflip\ncoinflip: {flips: 4}\ndaemon: {cpu_slots: 2}\n")
    run = tmp_path / "run"
    res = run_petri("start", config, "--run-dir", run, "--foreground", env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    snap = json.loads(run_petri("status", run, "--json", env=env).stdout)
    assert snap["done"] and sorted(p["error"] for p in snap["points"]) == [0.1, 0.2, 0.3, 0.4]
    # Its section is known to the config checks, and a typo in it is one line.
    config.write_text("algo: coinflip\ncoinflip: {flips: 4}\ncoinflp: {}\n")
    res = run_petri("start", config, "--run-dir", tmp_path / "other", env=env)
    assert res.returncode != 0 and "coinflp" in res.stderr and "coinflip" in res.stderr
    # Without the plug-in on the path, the algorithm is unknown, by name.
    res = run_petri("status", run)
    assert res.returncode == 0
    config.write_text("algo: coinflip\n")
    res = run_petri("start", config, "--run-dir", tmp_path / "third")
    assert res.returncode != 0 and "unknown algo 'coinflip'" in res.stderr


# A primitive and a dataset of a plug-in's own: a gated 3x3 conv, and stripes whose class is
# their direction (learnable in a few steps, made by numpy: no files, no torch at import).
SPACE_PLUGIN = '''
import numpy as np

from petri.data.info import DatasetInfo, DatasetPlugin


def gated_conv(c, stride, affine, search):
    import torch
    from torch import nn

    class GatedConv(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(c, 2 * c, 3, stride, 1, bias=False)
            self.bn = nn.BatchNorm2d(2 * c, affine=affine)

        def forward(self, x):
            a, b = self.bn(self.conv(torch.relu(x))).chunk(2, dim=1)
            return a * torch.sigmoid(b)

    return GatedConv()


def _stripes(n, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    phase = rng.integers(0, 4, n)
    grid = np.arange(12)
    x = np.zeros((n, 1, 12, 12), np.uint8)
    for i in range(n):
        line = ((grid + phase[i]) % 4 < 2) * 255
        x[i, 0] = line[None, :] if y[i] else line[:, None]
    return x, y


def load(data_dir):
    return (*_stripes(600, 0), *_stripes(100, 1))


STRIPES = DatasetPlugin(DatasetInfo("stripes", (1, 12, 12), ("horizontal", "vertical"),
                                    (0.5,), (0.5,), flip=False, crop_pad=1, val_size=100), load)
'''

SPACE_ENTRY_POINTS = """
[petri.ops]
gated_conv_3x3 = space_petri:gated_conv
[petri.datasets]
stripes = space_petri:STRIPES
"""

STRIPES_RUN = """
algo: random
seed: 3
data: {dataset: stripes}
pareto: {min_reductions: 0, max_reductions: 1, min_cells: 1, max_cells: 3, max_nodes: 2,
         ops: [gated_conv_3x3, skip_connect]}
random: {samples: 3, channels: 4, stem_multiplier: 1}
trainer: {epochs: 1, batch_size: 50, lr: 0.05, checkpoint_every_s: 0}
daemon: {cpu_slots: 1, progress_every_s: 0.5}
"""


@pytest.mark.slow
def test_a_plugin_op_and_dataset_are_searched_trained_and_costed(tmp_path):
    env = install(tmp_path / "site", "space_petri", SPACE_PLUGIN, SPACE_ENTRY_POINTS)
    config = tmp_path / "stripes.yaml"
    config.write_text(STRIPES_RUN)
    run = tmp_path / "run"
    res = run_petri("start", config, "--run-dir", run, "--foreground", env=env, timeout=240)
    assert res.returncode == 0, res.stderr
    snap = json.loads(run_petri("status", run, "--json", env=env).stdout)
    assert snap["done"] and len(snap["points"]) == 3
    jobs = sorted((run / "jobs").iterdir())
    results = [json.loads((j / "result.json").read_text())["result"] for j in jobs]
    ops = {e["op"] for r in results for cell in ("normal", "reduce")
           for node in r["desc"][cell]["nodes"] for e in node["edges"]}
    assert ops <= {"gated_conv_3x3", "skip_connect"} and "gated_conv_3x3" in ops
    assert all(r["desc"]["in_channels"] == 1 and r["desc"]["num_classes"] == 2 for r in results)
    # A desc with the plug-in's op is costed like any other; without the plug-in it is refused
    # by name, in one line.
    desc = tmp_path / "net.json"
    desc.write_text(json.dumps(results[0]["desc"]))
    res = run_petri("cost", desc, "--dataset", "stripes", env=env)
    assert res.returncode == 0 and "MACs / image" in res.stdout, res.stderr
    res = run_petri("cost", desc, "--dataset", "fashion-mnist")
    assert res.returncode != 0 and "unknown op 'gated_conv_3x3'" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("pareto_ops,dataset,match", [
    ("[conv_7x7]", "stripes", "pareto.ops must list ops from"),
    ("[none]", "stripes", "pareto.ops must list ops from"),
    ("[]", "stripes", "pareto.ops must list ops from"),
    ("[gated_conv_3x3]", "stripez", "stripez does not exist"),
])
def test_bad_plugin_names_are_one_line(tmp_path, pareto_ops, dataset, match):
    env = install(tmp_path / "site", "space_petri", SPACE_PLUGIN, SPACE_ENTRY_POINTS)
    config = tmp_path / "bad.yaml"
    config.write_text(f"algo: random\ndata: {{dataset: {dataset}}}\npareto: {{ops: {pareto_ops}}}\n")
    res = run_petri("start", config, "--run-dir", tmp_path / "run", env=env)
    assert res.returncode != 0 and match in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_a_broken_dataset_plugin_is_one_line(tmp_path):
    env = install(tmp_path / "site", "broken_petri", "STRIPES = 3\n",
                  "[petri.datasets]\nstripes = broken_petri:STRIPES\n")
    config = tmp_path / "c.yaml"
    config.write_text("algo: random\ndata: {dataset: stripes}\n")
    res = run_petri("start", config, "--run-dir", tmp_path / "run", env=env)
    assert res.returncode != 0 and "must name a DatasetPlugin" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
