"""Every search `petri run ALGO` offers runs to the end on its toy config (the commands of
docs/howto/differentiable.md and docs/tutorial.md, which tests/docs/ runs at these sizes),
with the toy's own network sizes (the supernet's channels, cells, nodes and PC-DARTS' K, where
native kernels crash or go wrong) and only the data, epochs and counts shrunk, through a real
daemon and real workers, at one and two threads per slot and on AVX2 kernels."""
from pathlib import Path

import pytest

from tests.conftest import needs_fashion, noisy_conv_shim, run_petri
from tests.helpers.daemon import stored, wait_done
from tests.helpers.shrink import DATA, NATIVE_FAILURES, SHRINK

pytestmark = [pytest.mark.slow, needs_fashion]

# threads per slot -> the daemon settings that give it on a 2-core machine
SLOTS = {1: ["daemon.cpu_slots=2", "daemon.threads=2"],
         2: ["daemon.cpu_slots=1", "daemon.threads=2"]}


def run_to_the_end(tmp_path: Path, algo: str, threads: int, env: dict | None = None,
                   timeout: float = 900) -> dict:
    run_dir = tmp_path / algo
    sets = [a for s in DATA + SHRINK[algo] + SLOTS[threads] for a in ("--set", s)]
    res = run_petri("run", algo, "--run-dir", run_dir, *sets, env=env, timeout=60)
    assert res.returncode == 0, res.stderr
    snap = wait_done(run_dir, timeout=timeout)
    log = (run_dir / "workers.log").read_text()
    assert not [w for w in NATIVE_FAILURES if w in log], log[-3000:]
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    assert snap["points"], snap
    return snap


def search_forms(run_dir: Path) -> list[str]:
    return [j.result["form"] for j in stored(run_dir, "darts_search")[1]]


CASES = ([(algo, 1, "native") for algo in SHRINK]
         + [(algo, 2, "native") for algo in ("darts", "pc-darts", "mood")]
         + [("pc-darts", 1, "avx2"), ("mood", 2, "avx2")])


@pytest.mark.parametrize("algo,threads,isa", CASES)
def test_the_readme_search_runs_to_the_end(algo, threads, isa, tmp_path):
    # AVX2: the kernels a user's AVX2 machine runs (oneDNN's strided-1×1 defect), here too.
    env = {"ONEDNN_MAX_CPU_ISA": "AVX2"} if isa == "avx2" else None
    run_to_the_end(tmp_path, algo, threads, env)
    if algo in ("darts", "darts2", "pc-darts", "mood"):  # this machine's kernels agree
        assert set(search_forms(tmp_path / algo)) == {"eager-nhwc"}


def test_a_search_falls_back_to_nchw_where_nhwc_disagrees(tmp_path):
    # A machine whose channels-last conv is wrong (every petri process of the run loads the
    # shim): the worker's check finds it, says so in one warning line and trains the supernet
    # in NCHW, which the shim leaves alone.
    env = noisy_conv_shim(tmp_path / "shim")
    env["PETRI_CACHE_DIR"] = str(tmp_path / "cache")
    run_to_the_end(tmp_path, "darts", 1, env)
    log = (tmp_path / "darts" / "workers.log").read_text()
    assert "eager-nhwc form disagrees with eager-nchw" in log and "training in eager-nchw" in log
    assert search_forms(tmp_path / "darts") == ["eager-nchw"]
    res = run_petri("doctor", "--threads", "1", env=env)
    assert res.returncode == 1 and "DISAGREES" in res.stdout and "not used" in res.stdout
