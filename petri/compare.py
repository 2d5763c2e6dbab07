"""Comparing searches honestly: frontier hypervolume over seeds, bootstrap intervals, best error
under cost budgets, compute spent, and a verdict against random search.

The hypervolume of every run is taken in one frame fixed before looking at any run's score:
cost on a log axis from the cheapest point of all runs (`min_cost`) to the dearest
(`ref_cost`), error from 0 to `ref_error` (1.0), normalised by the frame's area so 1.0 would
be a zero-error model at the cheapest cost. The frame is printed with the results.
"""
from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field

from petri.hull import hypervolume, pareto_front

BOOTSTRAP = 2000


@dataclass
class RunScore:
    run_dir: str
    algo: str
    seed: int
    points: int
    frontier: int
    hypervolume: float  # normalised, in [0, 1]
    compute_s: float
    best_error: dict = field(default_factory=dict)  # budget -> best val error at cost <= budget


@dataclass
class GroupScore:
    algo: str
    runs: int
    hv_mean: float
    hv_ci: tuple[float, float]
    compute_s: float
    best_error: dict
    verdict: str = ""


def _mean(xs):
    return sum(xs) / len(xs)


def _interval(draw, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of BOOTSTRAP draws of a resampled statistic."""
    xs = sorted(draw() for _ in range(BOOTSTRAP))
    return xs[int((1 - level) / 2 * BOOTSTRAP)], xs[min(BOOTSTRAP - 1,
                                                         int((1 + level) / 2 * BOOTSTRAP))]


def _resampled_mean(xs: list[float], rng: random.Random) -> float:
    return _mean([rng.choice(xs) for _ in xs])


def bootstrap_ci(values: list[float], rng: random.Random) -> tuple[float, float]:
    """95% interval of the mean, resampling runs with replacement."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (math.nan, math.nan)
    return _interval(lambda: _resampled_mean(values, rng))


def bootstrap_diff(a: list[float], b: list[float], rng: random.Random) -> tuple[float, float]:
    """95% interval of mean(a) - mean(b), resampling each group's runs independently."""
    if not a or not b:
        return (math.nan, math.nan)
    return _interval(lambda: _resampled_mean(a, rng) - _resampled_mean(b, rng))


def frame_of(snaps: list[dict]) -> dict:
    costs = [p["cost"] for s in snaps for p in s["points"] if p["cost"] and p["error"] is not None]
    if not costs:
        return {"min_cost": 1.0, "ref_cost": 2.0, "ref_error": 1.0}
    lo, hi = min(costs), max(costs)
    return {"min_cost": lo, "ref_cost": hi * 1.0001 if hi > lo else lo * 2, "ref_error": 1.0}


def score_run(snap: dict, cfg: dict, frame: dict, budgets: list[float]) -> RunScore:
    pts = [(p["id"], p["cost"], p["error"]) for p in snap["points"]
           if p["cost"] and p["error"] is not None]
    area = math.log(frame["ref_cost"] / frame["min_cost"]) * frame["ref_error"]
    hv = hypervolume(pts, frame["ref_cost"], frame["ref_error"], True, frame["min_cost"]) / area
    best = {}
    for b in budgets:
        within = [e for _, c, e in pts if c <= b]
        best[b] = min(within) if within else None
    return RunScore(snap["run_dir"], str(cfg.get("algo")), int(cfg.get("seed", 0)), len(pts),
                    len(pareto_front(pts)), hv, snap["compute_s"], best)


def compare(snaps: list[dict], cfgs: list[dict], budgets: list[float], seed: int = 0) -> dict:
    """Scores per run and per algorithm; a verdict for every algorithm against `random`."""
    frame = frame_of(snaps)
    runs = [score_run(s, c, frame, budgets) for s, c in zip(snaps, cfgs)]
    rng = random.Random(seed)
    groups = {}
    for algo in sorted({r.algo for r in runs}):
        rs = [r for r in runs if r.algo == algo]
        hvs = [r.hypervolume for r in rs]
        best = {}
        for b in budgets:
            vals = [r.best_error[b] for r in rs if r.best_error[b] is not None]
            best[b] = _mean(vals) if vals else None
        groups[algo] = GroupScore(algo, len(rs), _mean(hvs), bootstrap_ci(hvs, rng),
                                  _mean([r.compute_s for r in rs]), best)
    baseline = groups.get("random")
    for g in groups.values():
        if baseline is None or g is baseline:
            continue
        diff = bootstrap_diff([r.hypervolume for r in runs if r.algo == g.algo],
                              [r.hypervolume for r in runs if r.algo == "random"], rng)
        ratio = g.compute_s / baseline.compute_s if baseline.compute_s else math.inf
        if diff[0] > 0:
            word = "beats random"
        elif diff[1] < 0:
            word = "loses to random"
        else:
            word = "no clear difference from random"
        g.verdict = (f"{word}: hypervolume difference 95% CI [{diff[0]:+.4f}, {diff[1]:+.4f}] "
                     f"at {ratio:.2f}x random's compute"
                     + ("" if 0.8 <= ratio <= 1.25 else " (compute differs by more than 25%)"))
    return {"frame": frame, "runs": [asdict(r) for r in runs],
            "groups": [asdict(g) for g in groups.values()], "bootstrap": BOOTSTRAP}

