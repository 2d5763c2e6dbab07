"""The exact small-sample tests against brute force, and their error rates."""
import itertools
import math
import random

import pytest

from petri.stats import (EXACT_SPLITS, a12, hodges_lehmann, mean_sd, permutation_test,
                         signed_rank_test)


def brute_signed_rank_p(d):
    """Every sign pattern of |d|, ranks averaged over ties as the test does."""
    nz = [x for x in d if x != 0]
    mags = sorted(abs(x) for x in nz)
    rank = {m: sum(i + 1 for i, v in enumerate(mags) if v == m) / mags.count(m) for m in mags}
    ranks = [rank[abs(x)] for x in nz]
    mid = sum(ranks) / 2
    obs = abs(sum(r for r, x in zip(ranks, nz) if x > 0) - mid)
    hits = sum(abs(sum(r for r, s in zip(ranks, signs) if s) - mid) >= obs - 1e-9
               for signs in itertools.product((0, 1), repeat=len(nz)))
    return hits / 2 ** len(nz)


def test_signed_rank_matches_brute_force_with_ties_and_zeros():
    assert signed_rank_test([1, 2, 3, 4, 5]) == (pytest.approx(2 / 32), 5)
    rng = random.Random(0)
    for _ in range(20):
        d = [rng.choice([-3, -2, -1, 0, 1, 1, 2, 4]) * 0.01 for _ in range(rng.randint(3, 11))]
        p, used = signed_rank_test(d)
        assert p == pytest.approx(brute_signed_rank_p(d)) and used == sum(x != 0 for x in d)
    assert signed_rank_test([0.0, 0.0]) == (1.0, 0)


def test_signed_rank_false_positive_rate_and_interval_coverage():
    rng = random.Random(1)
    reps, rejections, covered = 1000, 0, 0
    for _ in range(reps):
        rejections += signed_rank_test([rng.gauss(0, 1) for _ in range(10)])[0] < 0.05
        _, lo, hi = hodges_lehmann([rng.gauss(0.3, 1) for _ in range(10)])
        covered += lo <= 0.3 <= hi
    assert rejections / reps <= 0.06 and 0.93 <= covered / reps <= 0.99
    assert hodges_lehmann([1.0, 2.0, 3.0])[1:] == (-math.inf, math.inf)  # too few pairs
    est, lo, hi = hodges_lehmann([float(x) for x in range(1, 7)])
    assert est == 3.5 and (lo, hi) == (1.0, 6.0)  # n = 6: the extreme Walsh averages


def test_permutation_test_is_exact_and_falls_back_to_sampled_splits():
    p, exact = permutation_test([5, 6, 7, 8, 9], [0, 1, 2, 3, 4])
    assert exact and p == pytest.approx(2 / 252)
    assert permutation_test([1, 2, 3], [1, 2, 3]) == (1.0, True)
    big = [random.Random(2).gauss(0, 1) for _ in range(24)]
    assert math.comb(24, 12) > EXACT_SPLITS
    p, exact = permutation_test(big[:12], big[12:], seed=3)
    assert not exact and 0 < p <= 1 and permutation_test(big[:12], big[12:], seed=3)[0] == p


def test_a12_and_mean_sd():
    assert a12([3, 4], [1, 2]) == 1.0 and a12([1, 2], [1, 2]) == 0.5 and a12([1], [2]) == 0.0
    m, sd = mean_sd([1.0, 2.0, 3.0])
    assert m == 2.0 and sd == 1.0
    assert math.isnan(mean_sd([1.0])[1])
