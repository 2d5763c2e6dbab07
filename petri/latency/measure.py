"""How one latency figure is taken: warm up until the timings settle, then time runs until
the median is stable, and summarise them (no torch: any `time_once` will do).

The rule, stated once (`Protocol`):
- warm-up: one run at a time; once there are 2·`window` runs, the warm-up ends when the
  median of the last `window` runs differs from the median of the `window` before them by
  less than `settle_tolerance` of it. Caches, allocators, oneDNN's primitive cache and
  onnxruntime's arenas fill in the first runs; a figure taken before they do measures them.
  The warm-up ends unsettled after `max_warmup_runs` runs or `max_warmup_s` seconds, and the
  result says so.
- timed runs: until `max_runs` runs, or until `budget_s` seconds have passed and at least
  `min_runs` runs were taken: enough runs that the median moves by well under a percent
  between repeats, and a fixed bound on the time a slow model takes.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable


@dataclass(frozen=True)
class Protocol:
    window: int = 5
    settle_tolerance: float = 0.03
    max_warmup_runs: int = 200
    max_warmup_s: float = 10.0
    min_runs: int = 30
    max_runs: int = 2000
    budget_s: float = 2.0

    def to_dict(self) -> dict:
        return asdict(self)


# What a per-op table entry takes: each of hundreds of entries is timed, so a shorter budget;
# the median of many short runs is what a sum of entries needs.
TABLE_PROTOCOL = Protocol(max_warmup_s=2.0, min_runs=30, budget_s=0.3)


@dataclass(frozen=True)
class Timings:
    """The timed runs of one measurement, summarised (times in milliseconds)."""

    median_ms: float
    iqr_ms: float  # between the 25th and 75th percentiles
    cv: float  # sample standard deviation over mean of the timed runs
    runs: int
    warmup_runs: int
    settled: bool  # False: the warm-up stopped at its cap, the timings never settled
    seconds: float  # wall time of warm-up and timed runs together

    def to_dict(self) -> dict:
        return asdict(self)


def settled(times: list[float], window: int, tolerance: float) -> bool:
    """Whether the median of the last `window` times is within `tolerance` of the median of
    the `window` before them."""
    if len(times) < 2 * window:
        return False
    last = statistics.median(times[-window:])
    before = statistics.median(times[-2 * window:-window])
    return abs(last - before) < tolerance * before


def summarise(times_s: list[float], warmup_runs: int, is_settled: bool,
              seconds: float) -> Timings:
    ms = [t * 1e3 for t in times_s]
    q1, _, q3 = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else ms * 3
    mean = statistics.fmean(ms)
    cv = statistics.stdev(ms) / mean if len(ms) > 1 and mean > 0 else math.nan
    return Timings(statistics.median(ms), q3 - q1, cv, len(ms), warmup_runs, is_settled,
                   seconds)


def measure(time_once: Callable[[], float], protocol: Protocol = Protocol(),
            clock: Callable[[], float] = time.perf_counter) -> Timings:
    """Warm up and time `time_once` (one run; returns its duration in seconds) by the
    protocol; `clock` bounds the time spent."""
    p = protocol
    start = clock()
    warm: list[float] = []
    is_settled = False
    while len(warm) < p.max_warmup_runs and clock() - start < p.max_warmup_s:
        warm.append(time_once())
        if settled(warm, p.window, p.settle_tolerance):
            is_settled = True
            break
    timed_from = clock()
    times: list[float] = []
    while len(times) < p.max_runs and (len(times) < p.min_runs
                                       or clock() - timed_from < p.budget_s):
        times.append(time_once())
    return summarise(times, len(warm), is_settled, clock() - start)
