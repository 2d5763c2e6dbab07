"""Small-sample statistics for comparing searches: exact tests, effect sizes, no scipy.

A search comparison has 5 to 20 runs per arm, where asymptotic tests and the percentile
bootstrap are anti-conservative (a bootstrap of 3 runs per arm "finds" a difference in about
a fifth of A/A comparisons). The tests here are exact: the permutation test enumerates
every split of the pooled runs while that is feasible, and the signed-rank test uses the
exact null distribution of its statistic, ties included.
"""
from __future__ import annotations

import itertools
import math
import random
from typing import Sequence

EXACT_SPLITS = 200_000  # beyond this, a permutation test samples splits
SAMPLED_SPLITS = 50_000
# Relative tolerance for "as extreme as observed": sums of floats in another order differ in
# their last bits, and a split equal to the observed one must count.
_TOL = 1e-9


def mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (nan with fewer than 2 values)."""
    if not xs:
        return math.nan, math.nan
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, math.nan
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def a12(a: Sequence[float], b: Sequence[float]) -> float:
    """Vargha–Delaney A12: P(X > Y) + P(X = Y) / 2 for X from `a`, Y from `b`. 0.5 is no
    effect; 0.56, 0.64 and 0.71 are the conventional small, medium and large."""
    if not a or not b:
        return math.nan
    wins = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
    return wins / (len(a) * len(b))


def permutation_test(a: Sequence[float], b: Sequence[float], seed: int = 0) -> tuple[float, bool]:
    """Two-sided p-value of mean(a) - mean(b) under exchangeability, and whether it is exact.

    Every split of the pooled values into groups of len(a) and len(b) when there are at
    most EXACT_SPLITS of them, otherwise SAMPLED_SPLITS random splits (seeded, so the same
    data give the same p) with the observed split counted, which keeps the test valid.
    """
    if not a or not b:
        return math.nan, True
    pooled = list(a) + list(b)
    total, na, nb = sum(pooled), len(a), len(b)

    def stat(sum_a: float) -> float:
        return abs(sum_a / na - (total - sum_a) / nb)

    observed = stat(sum(a))
    bar = observed - _TOL * max(1.0, abs(observed))
    if math.comb(len(pooled), na) <= EXACT_SPLITS:
        splits = itertools.combinations(pooled, na)
        hits = n = 0
        for group in splits:
            n += 1
            hits += stat(sum(group)) >= bar
        return hits / n, True
    rng = random.Random(seed)
    hits = sum(stat(sum(rng.sample(pooled, na))) >= bar for _ in range(SAMPLED_SPLITS))
    return (hits + 1) / (SAMPLED_SPLITS + 1), False


def _signed_rank_null(ranks2: Sequence[int]) -> list[float]:
    """P(W2 = w) for w = 0 .. sum(ranks2), where W2 is the sum of the doubled ranks that get a
    + sign when every sign is a fair coin (doubling keeps tied, averaged ranks integral)."""
    dist = [1.0] + [0.0] * sum(ranks2)
    top = 0
    for r in ranks2:
        top += r
        for w in range(top, r - 1, -1):
            dist[w] = (dist[w] + dist[w - r]) / 2
        for w in range(r - 1, -1, -1):
            dist[w] /= 2
    return dist


def _doubled_ranks(values: Sequence[float]) -> list[int]:
    """2 × the average rank (1-based) of each value, ties sharing their mean rank."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = i + j + 2  # (i+1 + j+1) / 2, doubled
        i = j + 1
    return out


def signed_rank_test(d: Sequence[float]) -> tuple[float, int]:
    """Exact two-sided Wilcoxon signed-rank p-value of paired differences `d` against a
    median of 0, and the number of non-zero differences it used (zeros are dropped)."""
    nz = [x for x in d if x != 0]
    if not nz:
        return 1.0, 0
    ranks2 = _doubled_ranks([abs(x) for x in nz])
    dist = _signed_rank_null(ranks2)
    w = sum(r for r, x in zip(ranks2, nz) if x > 0)
    mid = sum(ranks2) / 2  # the null is symmetric about half the total
    dev = abs(w - mid)
    p = sum(pr for v, pr in enumerate(dist) if abs(v - mid) >= dev - 1e-9)
    return min(1.0, p), len(nz)


def hodges_lehmann(d: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """The Hodges–Lehmann estimate of the median difference (median of the Walsh averages)
    and its exact distribution-free interval at `level`, the one the signed-rank test
    inverts; the interval is infinite when there are too few pairs for `level`."""
    n = len(d)
    if n == 0:
        return math.nan, -math.inf, math.inf
    walsh = sorted((d[i] + d[j]) / 2 for i in range(n) for j in range(i, n))
    m = len(walsh)
    est = (walsh[(m - 1) // 2] + walsh[m // 2]) / 2
    dist = _signed_rank_null([2 * r for r in range(1, n + 1)])  # untied ranks, doubled
    # c: the largest count with P(W <= c - 1) <= (1 - level) / 2; W's support is 0 .. m.
    cum, c = 0.0, 0
    for w in range(m + 1):
        cum += dist[2 * w]
        if cum > (1 - level) / 2:
            break
        c = w + 1
    if c == 0:
        return est, -math.inf, math.inf
    return est, walsh[c - 1], walsh[m - c]
