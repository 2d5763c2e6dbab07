"""Frontiers of (cost, error) points: the Pareto front and the lower convex hull.

Pure Python (no torch, no numpy): `status`, `watch` and the algorithms all use it.
The hull is taken with cost on a log axis by default, as costs span orders of magnitude.
"""
from __future__ import annotations

import math
from typing import Sequence

Pt = tuple[int, float, float]  # (id, cost, error)


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
            if cross < 0 or (x2 == p[0] and y2 >= p[1]):  # hull[-1] lies above the chord
                hull.pop()
            else:
                break
        if hull and hull[-1][0] == p[0]:
            continue  # same cost, higher or equal error: not a vertex
        hull.append(p)
    return [i for _, _, i in hull]
