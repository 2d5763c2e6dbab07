"""Frontier geometry against brute force on random point sets."""
import itertools
import math
import random

import pytest

from petri.hull import (eps_band, hypervolume, hypervolumes, lower_hull, pareto_front,
                        sampling_weights)


def random_points(rng, n):
    # Costs drawn from few values so ties in cost (and in error) happen often.
    return [(i, rng.choice([1, 2, 3, 5, 8, 13, 21, 34, 55, 89]) * 1000,
             rng.choice([round(rng.random(), 2), 0.5, 0.25])) for i in range(n)]


def brute_pareto(points):
    return {p for p in points
            if not any((q[1] <= p[1] and q[2] < p[2]) or (q[1] < p[1] and q[2] <= p[2])
                       or (q[1] == p[1] and q[2] == p[2] and q[0] < p[0]) for q in points)}


def brute_lower_hull(points, log_cost):
    """Vertices v of the lower hull up to the lowest error: some line through v has every
    point on or above it, strictly above for all points of other costs (brute force over
    directions defined by pairs), and v is not right of the best point."""
    xy = {p[0]: (math.log(p[1]) if log_cost else p[1], p[2]) for p in points}
    best_x = min(xy.values(), key=lambda v: (v[1], v[0]))[0]
    out = set()
    for i, (x, y) in xy.items():
        if x > best_x or any(v == (x, y) and j < i for j, v in xy.items()):
            continue
        if any(v[0] == x and v[1] < y for v in xy.values()):
            continue
        # Candidate supporting slopes: to every other point, and steep ones at the ends.
        slopes = [(v[1] - y) / (v[0] - x) for v in xy.values() if v[0] != x] + [-1e9, 1e9]
        for s in slopes:
            if all(v[1] >= y + s * (v[0] - x) - 1e-12 for v in xy.values()):
                # Collinear points on a hull edge are kept: allow equality.
                out.add(i)
                break
    return out


@pytest.mark.parametrize("seed", range(200))
def test_pareto_front_matches_brute_force(seed):
    rng = random.Random(seed)
    pts = random_points(rng, rng.randint(1, 25))
    assert set(pareto_front(pts)) == {p[0] for p in brute_pareto(pts)}


@pytest.mark.parametrize("log_cost", [True, False])
@pytest.mark.parametrize("seed", range(200))
def test_lower_hull_matches_brute_force(seed, log_cost):
    rng = random.Random(seed)
    pts = random_points(rng, rng.randint(1, 25))
    hull = lower_hull(pts, log_cost)
    assert set(hull) == brute_lower_hull(pts, log_cost)
    costs = [dict((p[0], p[1]) for p in pts)[i] for i in hull]
    assert costs == sorted(costs)  # cheapest first
    assert set(hull) <= {p[0] for p in brute_pareto(pts)} | {
        p[0] for p in pts if any(q[1] == p[1] and q[2] == p[2] for q in pts)}


def test_eps_band_is_relative_to_the_interpolated_hull():
    # The reference example: hull (30M, 10%) and (40M, 9%), linear cost axis, eps 0.025:
    # at 35M the hull is at 9.5% and the band reaches 9.7375%.
    pts = [(1, 30e6, 0.10), (2, 40e6, 0.09), (3, 35e6, 0.0973), (4, 35e6, 0.0975)]
    assert set(eps_band(pts, 0.025, log_cost=False)) == {1, 2, 3}
    # Right of the best point the band is flat at its error times (1 + eps).
    pts += [(5, 50e6, 0.0922), (6, 50e6, 0.0924)]
    assert set(eps_band(pts, 0.025, log_cost=False)) == {1, 2, 3, 5}


@pytest.mark.parametrize("seed", range(100))
def test_eps_band_brute_force(seed):
    rng = random.Random(seed)
    pts = random_points(rng, rng.randint(1, 25))
    eps = rng.choice([0.0, 0.025, 0.1])
    band = set(eps_band(pts, eps))
    hull = lower_hull(pts)
    assert set(hull) <= band
    xy = {i: (math.log(c), e) for i, c, e in pts}
    hv = [xy[i] for i in hull]
    for i, (x, e) in xy.items():
        if i in hull:
            continue
        # The hull's error at x by brute force: the highest supporting line below all points
        # is the hull itself; evaluate the segment covering x (flat right of the last vertex).
        if x >= hv[-1][0]:
            h = hv[-1][1]
        else:
            (x1, y1), (x2, y2) = next((a, b) for a, b in zip(hv, hv[1:]) if a[0] <= x <= b[0])
            h = y1 if x2 == x1 else y1 + (y2 - y1) * (x - x1) / (x2 - x1)
        assert (i in band) == (e <= h * (1 + eps)), (i, x, e, h)


def test_hypervolume_of_known_staircases():
    pts = [(1, 10, 0.5), (2, 100, 0.2)]
    # Log axis x = ln(cost / 10): 0.5 below the reference error over [0, ln 10] (cost 10 to
    # 100), then 0.8 over [ln 10, ln 100] (cost 100 to the reference 1000).
    expected = 0.5 * math.log(10) + 0.8 * math.log(10)
    assert hypervolume(pts, ref_cost=1000) == pytest.approx(expected)
    assert hypervolume(pts, ref_cost=1000, log_cost=False) == pytest.approx(
        0.5 * 90 + 0.8 * 900)
    # A dominated point adds nothing; a point beyond the reference adds nothing.
    assert hypervolume(pts + [(3, 50, 0.6), (4, 2000, 0.0)], ref_cost=1000) == \
        pytest.approx(expected)


@pytest.mark.parametrize("seed", range(50))
def test_hypervolume_matches_a_grid_count(seed):
    rng = random.Random(seed)
    pts = [(i, rng.randint(1, 20), rng.randint(0, 10) / 10) for i in range(rng.randint(1, 8))]
    hv = hypervolume(pts, ref_cost=21, log_cost=False, min_cost=1)
    cells = sum(1 for cx, ey in itertools.product(range(1, 21), range(10))
                if any(c <= cx and e <= ey / 10 for _, c, e in pts))
    assert hv == pytest.approx(cells * 0.1)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("log_cost", [True, False])
def test_hypervolumes_of_prefixes_equal_the_whole_area_of_each(seed, log_cost):
    rng = random.Random(seed)
    pts = random_points(rng, 60) + [(99, None, 0.1), (98, 200_000, 0.1), (97, 3000, 1.0)]
    rng.shuffle(pts)
    curve = hypervolumes(pts, 100_000, 1.0, log_cost, 1000)
    assert curve == pytest.approx([hypervolume(pts[:k + 1], 100_000, 1.0, log_cost, 1000)
                                   for k in range(len(pts))], rel=1e-12, abs=1e-12)


def test_sampling_weights_favour_cheap_and_rarely_sampled_parents():
    w = sampling_weights([(1, 100, 0), (2, 200, 0), (3, 100, 4)])
    assert w[0] == pytest.approx(2.0) and w[0] > w[1] and w[0] > w[2]
    assert max(w) / min(w) <= 2.0
    assert sampling_weights([(1, 5, 0)]) == [2.0]


def test_priced_keeps_points_with_a_cost_and_a_validation_error():
    from petri.hull import priced
    from petri.store.records import Point

    def pt(i, params, macs, err):
        return Point(i, f"k{i}", None, None, params, macs, None, err, None, None, {}, None,
                     None, None, 0.0)

    pts = [pt(1, 10, 100, 0.5), pt(2, None, 200, 0.3), pt(3, 30, 300, None),
           pt(4, 0, 400, 0.2)]
    assert priced(pts, "params") == [(1, 10, 0.5)]
    assert priced(pts, "macs") == [(1, 100, 0.5), (2, 200, 0.3), (4, 400, 0.2)]
