"""bench/gpu_check.sh --dry-run: every code path of the GPU check runs on the CPU and writes
its table, so that the first run on a GPU does not fail on a typo."""
import subprocess
import time
from pathlib import Path

import pynvml
import pytest

from bench import gpu_check
from tests.conftest import needs_fashion

ROOT = Path(__file__).resolve().parents[1]


def test_the_nvml_stand_in_only_uses_pynvml_names():
    names = {n for n in vars(gpu_check.FakeNvml) if not n.startswith("_")}
    assert names and names <= set(dir(pynvml))


def test_the_busy_sampler_averages_utilisation():
    with gpu_check.Busy(gpu_check.FakeNvml, every_s=0.01) as busy:
        while len(busy.samples) < 3:
            time.sleep(0.01)
    assert busy.fraction == 0.0


@needs_fashion
@pytest.mark.slow
def test_the_dry_run_writes_every_figure(tmp_path):
    out = tmp_path / "gpu_check.md"
    proc = subprocess.run([str(ROOT / "bench" / "gpu_check.sh"), "--dry-run", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split(" | ") for line in out.read_text().splitlines() if line.startswith("| ")]
    figures = [r[0].strip("| ") for r in rows[1:]]  # rows[0]: the header
    cases = [r[1] for r in rows[1:]]
    assert figures.count("train") == len(gpu_check.training.CASES) * len(gpu_check.TRAIN_FORMS)
    for variant in gpu_check.supernet.VARIANTS:
        for form in gpu_check.SUPERNET_FORMS:
            assert f"{variant}, {form}" in cases
    assert figures.count("toy petridish") == len(gpu_check.DRY.slots)
    assert figures.count("latency") == gpu_check.DRY.latency_sizes
    fast = [r for r in rows[1:] if r[0].strip("| ") == "fast path"]
    assert [r[1] for r in fast] == ["eager-nhwc vs eager-nchw, cpu"] and fast[0][2] == "agrees"
    assert "DRY RUN" in out.read_text()
