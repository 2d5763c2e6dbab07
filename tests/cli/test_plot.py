"""`petri plot`'s frontier figure: a legend that names every kind of mark, cost ticks that
never collide, ids on request."""
import itertools

import pytest

from petri.cli.plot import figure, log_ticks
from petri.hull import eps_band, lower_hull, pareto_front


def snap_of(costs_errors, log=True):
    points = [{"id": i + 1, "cost": c, "error": e, "parent": i if i else None}
              for i, (c, e) in enumerate(costs_errors)]
    priced = [(p["id"], p["cost"], p["error"]) for p in points]
    return {"points": points, "frontier": pareto_front(priced), "hull": lower_hull(priced, log),
            "band": eps_band(priced, 0.1, log), "eps": 0.1, "log_cost": log,
            "cost_metric": "macs"}


def spread(lo, hi, n=12):
    return [(lo * (hi / lo) ** (k / (n - 1)), 0.5 - 0.3 * k / (n - 1) + 0.05 * (k % 3))
            for k in range(n)]


def tick_boxes(fig, ax):
    fig.canvas.draw()
    labels = [t for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True)
              if t.get_visible() and t.get_text()]
    lo, hi = ax.get_xlim()
    inside = [t for t in labels if lo <= t.get_position()[0] <= hi]
    return [t.get_text() for t in inside], [t.get_window_extent() for t in inside]


@pytest.mark.parametrize("lo,hi", [(1e5, 4e6), (3e5, 4.5e5), (800, 2e9), (2e3, 9e4)])
def test_cost_tick_labels_are_few_short_and_never_overlap(lo, hi):
    plt, fig, ax = figure([snap_of(spread(lo, hi))], ["run"])
    texts, boxes = tick_boxes(fig, ax)
    plt.close(fig)
    assert 2 <= len(texts) <= 7, texts
    assert all(len(t) <= 5 for t in texts), texts  # 100k, 2.5M: no 1.00e5 or 10^5 strings
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), texts


def test_log_ticks_prefer_round_values():
    assert log_ticks(1e5, 4e6) == [1e5, 2e5, 5e5, 1e6, 2e6]
    assert log_ticks(1e3, 4e6) == [1e3, 1e4, 1e5, 1e6]  # 1-3 steps would make 8
    assert log_ticks(150, 900) == [200, 500]
    assert len(log_ticks(1, 1e12)) <= 6


def test_the_legend_names_runs_hull_band_other_points_and_lineage():
    plt, fig, ax = figure([snap_of(spread(1e5, 4e6))], ["toy"], lineage=True)
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)
    assert names[0].startswith("toy (frontier")
    assert names[1:] == ["lower convex hull", "within the hull's eps band (0.1)", "other points",
                         "lineage (parent to child)"]
    plt, fig, ax = figure([snap_of(spread(1e5, 4e6))], ["toy"])
    assert "lineage (parent to child)" not in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_ids_are_written_beside_their_points_only_when_asked():
    snap = snap_of(spread(1e5, 4e6, n=5))
    plt, fig, ax = figure([snap], ["toy"], ids=True)
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "3", "4", "5"]
    plt.close(fig)
    plt, fig, ax = figure([snap], ["toy"])
    assert len(ax.texts) == 0
    plt.close(fig)
