"""The measurement: its warm-up and stopping rules and statistics on a fake clock, a model of
known relative cost, the cache, and the target it names."""
import statistics
import sys

import pytest
import torch

from petri.cost import count_cost
from petri.errors import PetriError
from petri.latency.measure import Protocol, measure, settled, summarise
from petri.latency.models import desc_subject
from petri.latency.run import measure_desc, measure_subject
from petri.latency.target import Target, TargetInfo, describe_target
from petri.space.genotypes import genotype

FAST = Protocol(max_warmup_s=1.0, min_runs=5, max_runs=200, budget_s=0.2)


class FakeRuns:
    """A model whose runs take the given seconds (the last one repeated) on a fake clock."""

    def __init__(self, durations):
        self.durations, self.now, self.calls = list(durations), 0.0, 0

    def clock(self) -> float:
        return self.now

    def time_once(self) -> float:
        d = self.durations[min(self.calls, len(self.durations) - 1)]
        self.calls += 1
        self.now += d
        return d


def test_the_warm_up_ends_once_the_median_of_the_last_runs_stops_moving():
    ms = [10, 9, 8, 7, 6, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5]
    runs = FakeRuns([m * 1e-3 for m in ms])
    t = measure(runs.time_once, Protocol(budget_s=0, min_runs=3), runs.clock)
    # 13 runs: the last five (5) against the five before them (7 6 5 5 5: median 5); at 12
    # the five before them were 8 7 6 5 5 (median 6).
    assert t.settled and t.warmup_runs == 13
    assert not settled(ms[:12], 5, 0.03) and settled(ms[:13], 5, 0.03)


def test_a_warm_up_that_never_settles_stops_at_its_caps_and_says_so():
    growing = FakeRuns([1e-3 * 1.1 ** i for i in range(500)])
    t = measure(growing.time_once, Protocol(max_warmup_runs=40, min_runs=3, budget_s=0),
                growing.clock)
    assert (t.settled, t.warmup_runs) == (False, 40)
    slow = FakeRuns([1.0, 2.0])  # never the same twice in a row
    t = measure(slow.time_once, Protocol(max_warmup_s=3.0, min_runs=3, budget_s=0), slow.clock)
    assert not t.settled and t.warmup_runs == 2  # after 3 s of the clock


def test_timed_runs_stop_at_the_budget_with_at_least_min_and_at_most_max_runs():
    p = Protocol(window=2, min_runs=10, max_runs=100, budget_s=0.05)
    fast = FakeRuns([1e-3])
    assert measure(fast.time_once, p, fast.clock).runs == 50  # 50 ms of 1 ms runs
    slow = FakeRuns([1.0])
    assert measure(slow.time_once, p, slow.clock).runs == 10  # the budget spent, min runs
    tiny = FakeRuns([1e-6])
    assert measure(tiny.time_once, p, tiny.clock).runs == 100


def test_summary_statistics():
    t = summarise([0.001, 0.002, 0.003, 0.004, 0.005], 7, True, 1.5)
    assert t.median_ms == pytest.approx(3.0)
    assert t.iqr_ms == pytest.approx(2.0)  # quartiles 2 and 4
    assert t.cv == pytest.approx(statistics.stdev([1, 2, 3, 4, 5]) / 3)
    assert (t.runs, t.warmup_runs, t.settled, t.seconds) == (5, 7, True, 1.5)


def test_a_model_eight_times_larger_in_macs_measures_slower():
    small = genotype("DARTS_V2", channels=4, cells=3, reductions=1)
    large = genotype("DARTS_V2", channels=24, cells=3, reductions=1)
    shape = (3, 32, 32)
    assert count_cost(large, shape).macs >= 8 * count_cost(small, shape).macs
    target = Target("cpu", threads=1, batch=8)
    ms = [measure_desc(d, target, shape, FAST, cache=False).timings.median_ms
          for d in (small, large)]
    assert ms[0] < ms[1]


def test_the_cache_hits_and_no_cache_measures_again():
    desc = genotype("DARTS_V2", channels=4, cells=3, reductions=1, in_channels=1)
    subject = desc_subject(desc, "tiny", (1, 16, 16))
    first = measure_subject(subject, Target(), FAST)
    again = measure_subject(subject, Target(), FAST)
    assert not first.cached and again.cached and again.timings == first.timings
    assert not measure_subject(subject, Target(), FAST, cache=False).cached
    # Another batch, threads or input is another figure.
    assert not measure_subject(subject, Target(batch=2), FAST).cached
    other = desc_subject(desc, "tiny", (1, 20, 20))
    assert not measure_subject(other, Target(), FAST).cached


def test_the_target_is_named_fully():
    from petri.threads import cpu_model

    info = describe_target(Target("cpu", threads=2, batch=4))
    assert info.cpu == cpu_model() and info.isa == torch.backends.cpu.get_cpu_capability()
    assert info.torch == torch.__version__ and info.gpu is None
    import onnxruntime

    assert info.onnxruntime == onnxruntime.__version__
    line = info.line()
    for part in (info.cpu, info.isa, torch.__version__, "2 thread(s)", "batch 4"):
        assert part in line
    assert TargetInfo.from_dict(info.to_dict()) == info
    assert "onnxruntime " + onnxruntime.__version__ in describe_target(
        Target("onnxruntime")).line()


@pytest.mark.parametrize("kw,words", [
    ({"kind": "tpu"}, ["unknown latency target", "cpu, cuda, onnxruntime"]),
    ({"threads": 0}, ["threads must be a positive integer", "--threads"]),
    ({"batch": -2}, ["batch must be a positive integer", "--batch"]),
])
def test_a_bad_target_is_refused_naming_the_fix(kw, words):
    with pytest.raises(PetriError) as e:
        Target(**kw)
    for w in words:
        assert w in str(e.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(PetriError, match="needs a CUDA GPU.*--target cpu"):
        describe_target(Target("cuda"))


def test_onnxruntime_missing_names_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(PetriError, match=r"pip install -e '\.\[onnx\]'"):
        describe_target(Target("onnxruntime"))
