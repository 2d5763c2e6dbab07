"""Frontiers of (cost, error) points: the Pareto front and the lower convex hull.

Pure Python (no torch, no numpy): `status`, `watch` and the algorithms all use it.
The hull is taken with cost on a log axis by default, as costs span orders of magnitude.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from petri.config import setting

Pt = tuple[int, float, float]  # (id, cost, error)
# The names a config may give a cost axis, and the point field each one reads.
# latency: measured on the run's `latency` target once a point has trained.
COST_METRICS = {"macs": "macs", "params": "params", "memory": "activation_bytes",
                "latency": "latency_ms"}


def cost_axis(metric: str) -> str | None:
    """The `hull.cost` name of point field `metric` (activation_bytes: memory)."""
    return {field: name for name, field in COST_METRICS.items()}.get(metric)


@dataclass(frozen=True)
class HullCfg:
    """The `hull` section: which cost, which axis, how wide the parent band is."""

    cost: str = setting("macs", choices=tuple(COST_METRICS),
                        help="The cost axis: MACs, parameters, memory (peak activation bytes) "
                             "or latency (milliseconds on the `latency` section's target).")
    axis: str = setting("log", choices=("log", "linear"), help="The scale the cost is on "
                                                                "when the hull is taken.")
    eps: float = setting(0.025, ge=0, help="Width of the parent band: parents come from "
                                           "error <= hull(cost) * (1 + eps).")

    @property
    def metric(self) -> str:
        return COST_METRICS[self.cost]

    @property
    def log(self) -> bool:
        return self.axis == "log"


def priced(points: Iterable, metric: str) -> list[Pt]:
    """(id, cost, validation error) of the points (store `Point`s) that have both, on cost
    `metric`: the only ones a frontier can place. A point has no validation error where its
    job kept no validation split (data.val_size 0); no model costs nothing."""
    return [(p.id, cost, p.val_error) for p in points
            if (cost := p.cost(metric)) and p.val_error is not None]


def snapshot_priced(points: Iterable[dict]) -> list[dict]:
    """`priced` for the point dicts of a status snapshot (`petri.status.snapshot`), which
    carry the run's cost already: those with a cost and a validation error."""
    return [p for p in points if p["cost"] and p["error"] is not None]


def pareto_front(points: Sequence[Pt]) -> list[int]:
    """Ids of the points no other point beats on both cost and error, cheapest first."""
    best = math.inf
    out = []
    for pid, cost, err in sorted(points, key=lambda p: (p[1], p[2], p[0])):
        if err < best:
            out.append(pid)
            best = err
    return out


def lower_hull(points: Sequence[Pt], log_cost: bool = True) -> list[int]:
    """Ids of the vertices of the lower convex hull, up to the lowest-error point.

    Andrew's monotone chain on (x, error) with x = log(cost) or cost; collinear points stay
    on the hull. Points right of the lowest-error point (dearer and worse) are never on it.
    """
    pts = [(math.log(c) if log_cost else c, e, i) for i, c, e in points
           if c is not None and (c > 0 or not log_cost)]
    if not pts:
        return []
    pts.sort()
    best = min(pts, key=lambda p: (p[1], p[0]))
    pts = [p for p in pts if p[0] <= best[0]]
    hull: list[tuple[float, float, int]] = []
    for p in pts:
        while len(hull) >= 2:
            (x1, y1, _), (x2, y2, _) = hull[-2], hull[-1]
            cross = (x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1)
            if cross < 0:  # hull[-1] lies above the chord
                hull.pop()
            else:
                break
        if hull and hull[-1][0] == p[0]:
            continue  # same cost, higher or equal error: not a vertex
        hull.append(p)
    return [i for _, _, i in hull]


def _interp(hull: list[tuple[float, float]], x: float) -> float:
    """The hull's error at `x`: linear between vertices, flat right of the last one, and no
    bound left of the cheapest (nothing lies there)."""
    if x <= hull[0][0]:
        return hull[0][1] if x == hull[0][0] else math.inf  # left of the cheapest: no bound
    k = bisect.bisect_left(hull, (x, -math.inf))  # the first vertex at or right of x
    if k == len(hull):
        return hull[-1][1]
    (x1, y1), (x2, y2) = hull[k - 1], hull[k]
    return y1 + (y2 - y1) * (x - x1) / (x2 - x1)


def eps_band(points: Sequence[Pt], eps: float, log_cost: bool = True) -> list[int]:
    """Ids of the points within the multiplicative band `error <= hull(cost) * (1 + eps)`.

    Hull vertices are always in the band; so is everything within `eps` (relative) of the
    interpolated hull, which is where Petridish samples its parents from.
    """
    ids = lower_hull(points, log_cost)
    if not ids:
        return []
    by_id = {p[0]: p for p in points}
    to_x = math.log if log_cost else float
    hull = [(to_x(by_id[i][1]), by_id[i][2]) for i in ids]
    out = []
    for pid, cost, err in points:
        if cost is None or (log_cost and cost <= 0):
            continue
        if pid in ids or err <= _interp(hull, to_x(cost)) * (1.0 + eps):
            out.append(pid)
    return out


def hypervolume(points: Sequence[Pt], ref_cost: float, ref_error: float = 1.0,
                log_cost: bool = True, min_cost: float | None = None) -> float:
    """Area dominated by the points up to (ref_cost, ref_error), in (cost axis, error) units.

    With `log_cost` the cost axis is log(cost / min_cost) so the figure does not depend on the
    cost unit; `min_cost` (default: the cheapest point) must stay fixed when runs are compared.
    """
    pts = [(c, e) for _, c, e in points if c is not None and c > 0 and c < ref_cost
           and e < ref_error]
    if not pts:
        return 0.0
    lo = min_cost if min_cost is not None else min(c for c, _ in pts)
    to_x = (lambda c: math.log(c / lo)) if log_cost else float
    area, best = 0.0, ref_error
    xs = sorted(pts)
    ref_x = to_x(ref_cost)
    for k, (c, e) in enumerate(xs):
        best = min(best, e)
        nxt = to_x(xs[k + 1][0]) if k + 1 < len(xs) else ref_x
        area += (ref_error - best) * (nxt - to_x(c))
    return area


def hypervolumes(points: Sequence[Pt], ref_cost: float, ref_error: float, log_cost: bool,
                 min_cost: float) -> list[float]:
    """`hypervolume` of each prefix of `points`, in their order (a run's curve as its points
    land): one pass keeping the front so far, rather than the whole area again per point."""
    to_x = (lambda c: math.log(c / min_cost)) if log_cost else float
    ref_x = to_x(ref_cost)
    xs, es = [], []  # the front so far: cost axis ascending, error strictly descending
    area, out = 0.0, []
    for _, c, e in points:
        if c is not None and 0 < c < ref_cost and e < ref_error:
            x = to_x(c)
            k = bisect.bisect_right(xs, x)
            level = es[k - 1] if k else ref_error  # the error already dominated at x
            if e < level:
                j, at = k, x
                while j < len(xs) and es[j] >= e:  # front points the new one dominates
                    area += (level - e) * (xs[j] - at)
                    at, level = xs[j], es[j]
                    j += 1
                area += (level - e) * ((xs[j] if j < len(xs) else ref_x) - at)
                xs[k:j], es[k:j] = [x], [e]
        out.append(area)
    return out


def sampling_weights(candidates: Sequence[tuple[int, float, int]]) -> list[float]:
    """Parent weights for (id, cost, times already sampled), as in Petridish.

    Each of the two scores `1 / (1 + (v - min) / range)` lies in [0.5, 1], so the most favoured
    parent (cheapest, least sampled) is at most twice as likely as the least favoured.
    """
    def scores(values: list[float]) -> list[float]:
        lo, hi = min(values), max(values)
        span = (hi - lo) or hi or 1.0
        return [1.0 / (1.0 + (v - lo) / span) for v in values]

    if not candidates:
        return []
    costs = scores([float(c) for _, c, _ in candidates])
    counts = scores([float(n) for _, _, n in candidates])
    return [a + b for a, b in zip(costs, counts)]


def configured_hull(run_dir) -> dict:
    """The run's hull settings (cost metric, log axis, eps); defaults where the saved config
    cannot be read, so `status` still shows a run whose config file broke."""
    from petri.config import from_mapping, read_yaml
    from petri.errors import ConfigError
    from petri.rundir import RunDir

    try:
        hull = from_mapping(HullCfg, read_yaml(RunDir(run_dir).config).get("hull"), "hull")
    except ConfigError:
        hull = HullCfg()
    return {"metric": hull.metric, "log": hull.log, "eps": hull.eps}
