"""`petri doctor`: the facts a bug report needs, and the cached fast-path verdicts (the check
itself runs in tests/algos/darts/test_fastcheck.py and, forced to disagree, in
tests/daemon/test_readme_searches.py)."""
import json
from dataclasses import asdict

import pytest

from petri.algos.darts import fastcheck
from tests.conftest import run_petri_here


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    # verdicts made up here must not stand for this machine's in the session's cache
    monkeypatch.setenv("PETRI_CACHE_DIR", str(tmp_path))


def cache_verdict(ok: bool, threads: int = 1) -> fastcheck.Verdict:
    """A verdict for this machine in the session's cache, as a worker's check leaves it."""
    v = fastcheck.Verdict(fastcheck.FAST, "cpu", threads, ok, "agrees: test" if ok else
                          "the check exited with code -6 during {\"op\": \"test\"}", 1.0)
    path = fastcheck.cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    cached = json.loads(path.read_text()) if path.exists() else {}
    key = fastcheck.machine_key(fastcheck.FAST, threads, "cpu")
    path.write_text(json.dumps({**cached, key: asdict(v)}))
    return v


def test_doctor_reports_the_facts_and_the_cached_verdict_and_fails_on_a_disagreement():
    cache_verdict(True)
    res = run_petri_here("doctor", "--threads", "1", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for fact in ("petri", "torch", "oneDNN", "cpu", "cores", "torch threads", "cuda",
                 "nvidia driver", "gpus (NVML)", "free disk"):
        assert out["facts"][fact]
    assert [(v["form"], v["threads"], v["ok"]) for v in out["fast_forms"]] == [
        (fastcheck.FAST, 1, True)]
    cache_verdict(False)
    res = run_petri_here("doctor", "--threads", "1")
    assert res.returncode == 1
    assert "exited with code -6" in res.stdout and "not used: workers train in eager-nchw" in \
        res.stdout


def test_doctor_refuses_a_device_or_form_it_cannot_check():
    import torch

    res = run_petri_here("doctor", "--form", "eager-nchw")
    assert res.returncode != 0 and "unknown fast form 'eager-nchw'" in res.stderr
    if not torch.cuda.is_available():
        res = run_petri_here("doctor", "--device", "cuda")
        assert res.returncode != 0 and "no CUDA device" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
