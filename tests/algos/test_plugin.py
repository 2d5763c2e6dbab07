"""A third-party algorithm plugs in through the `petri.algos` entry point and runs end to end.

The plug-in is "installed" the way pip leaves one: a module and a dist-info folder with its
entry points, on the path of a fresh interpreter (and so of the daemon and its workers).
"""
import json
import textwrap

from tests.conftest import run_petri

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
                  sections=("coinflip",), kinds={"coin_train": "coinflip_petri:run_job"})]
'''


def test_an_installed_plugin_algorithm_runs_on_the_daemon(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "coinflip_petri.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "coinflip_petri-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coinflip-petri\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[petri.algos]\ncoinflip = coinflip_petri:ALGOS\n")
    config = tmp_path / "coin.yaml"
    config.write_text("algo: coinflip\ncoinflip: {flips: 4}\ndaemon: {cpu_slots: 2}\n")
    env = {"PYTHONPATH": str(site)}
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
