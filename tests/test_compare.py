"""`petri compare`'s frame, budgets, test and curves on synthetic runs."""
import math
import random

import pytest

from petri.compare import CompareCfg, Frame, choose_frame, compare, parse_frame
from petri.errors import ConfigError, PetriError


def snap(name, pts, wall=10.0, images=1000):
    """A run record: every point trained by one job of `wall` seconds and `images` images."""
    return {"run_dir": name, "compute_s": wall * len(pts), "image_epochs": images * len(pts),
            "cost_metric": "macs",
            "points": [{"id": i, "cost": c, "error": e, "budget": 2, "spent_s": wall * i,
                        "spent_images": images * i} for i, (c, e) in enumerate(pts, 1)]}


def runs(algo, n, err, rng, costs=(1e5, 3e5, 1e6)):
    out = []
    for s in range(n):
        pts = [(c, err * (1 + 0.3 * rng.random()) - 0.02 * math.log10(c / 1e5)) for c in costs]
        out.append((snap(f"{algo}{s}", pts), {"algo": algo, "seed": s}))
    return out


def run_compare(data, frame=None, budgets=(1e6,)):
    rs, cfgs = [r for r, _ in data], [c for _, c in data]
    return compare(rs, cfgs, list(budgets), frame or choose_frame(rs, cfgs))


def groups(out):
    return {g["algo"]: g for g in out["groups"]}


def test_default_frame_is_the_common_support_and_ignores_a_lone_cheap_point():
    a = snap("a", [(1e5, 0.5), (1e6, 0.2)])
    b = snap("b", [(2e5, 0.4), (4e6, 0.1)])
    f = choose_frame([a, b], [{"algo": "x"}, {"algo": "y"}])
    assert (f.min_cost, f.max_cost) == (2e5, 1e6) and f.source.startswith("common support")
    assert f.ref_cost > f.max_cost  # the dearest point in the frame still adds area
    # A much cheaper model of a only moves a's score by what it dominates inside the frame.
    cheap = snap("a", [(1e3, 0.9), (1e5, 0.5), (1e6, 0.2)])
    assert Frame(2e5, 1e6, "t").hypervolume([(p["id"], p["cost"], p["error"])
                                             for p in cheap["points"]]) == \
        pytest.approx(Frame(2e5, 1e6, "t").hypervolume([(1, 1e5, 0.5), (2, 1e6, 0.2)]))


def test_points_outside_the_frame_are_clipped_on_the_left_and_left_out_on_the_right():
    f = Frame(1e5, 1e6, "t")
    assert f.hypervolume([(1, 1e4, 0.3)]) == pytest.approx(f.hypervolume([(1, 1e5, 0.3)]))
    assert f.hypervolume([(1, 2e6, 0.01)]) == 0.0
    # The right edge's point has real area, in proportion to its margin.
    hv = f.hypervolume([(1, 1e6, 0.5)])
    assert hv == pytest.approx(0.5 * math.log(f.ref_cost / 1e6) / math.log(f.ref_cost / 1e5))
    assert 0 < hv < 0.1


def test_frame_from_the_command_line_or_the_configs():
    a, b = snap("a", [(1e5, 0.5)]), snap("b", [(3e5, 0.4)])
    assert parse_frame("1e3:2.5e4") == (1e3, 2.5e4)
    f = choose_frame([a, b], [{"compare": {"frame": [1e4, 1e6]}}] * 2)
    assert (f.min_cost, f.max_cost) == (1e4, 1e6) and "compare.frame" in f.source
    f = choose_frame([a, b], [{"compare": {"frame": [1e4, 1e6]}}] * 2, (2e4, 2e6))
    assert (f.min_cost, f.max_cost, f.source) == (2e4, 2e6, "--frame")
    with pytest.raises(PetriError, match="different compare.frame"):
        choose_frame([a, b], [{"compare": {"frame": [1e4, 1e6]}}, {}])
    with pytest.raises(PetriError, match="share no cost range"):
        choose_frame([a, b], [{}, {}])  # a's only point is cheaper than b's


@pytest.mark.parametrize("bad", ["5", "a:b", "3:1", "0:4", "1:2:3"])
def test_bad_frames_are_one_clear_error(bad):
    with pytest.raises(ConfigError, match="COST_MIN"):
        parse_frame(bad)


@pytest.mark.parametrize("frame", [[3, 1], [1], "1:2", [-1, 5]])
def test_compare_section_is_validated(frame):
    with pytest.raises(ConfigError, match="compare"):
        CompareCfg.from_dict({"frame": frame})
    with pytest.raises(ConfigError, match="compare"):
        CompareCfg.from_dict({"frmae": [1, 2]})


def test_a_bad_compare_section_fails_when_the_run_is_configured():
    from petri.launch import check

    with pytest.raises(ConfigError, match="compare.frame"):
        check({"algo": "random", "compare": {"frame": [3, 1]}})


def test_a_clear_difference_at_five_runs_is_a_verdict_with_p_and_effect_size():
    rng = random.Random(0)
    data = runs("petridish", 5, 0.20, rng) + runs("random", 5, 0.35, rng)
    g = groups(run_compare(data))
    assert g["petridish"]["hv_mean"] > g["random"]["hv_mean"] and g["petridish"]["hv_sd"] > 0
    test = g["petridish"]["test"]
    assert test["p"] == pytest.approx(2 / 252) and test["exact"]  # all splits, most extreme
    assert test["a12"] == 1.0 and test["compute_ratio"] == 1.0
    assert g["petridish"]["verdict"].startswith("beats random at level 0.05")
    assert "p = 0.008" in g["petridish"]["verdict"] and "A12 = 1.00" in g["petridish"]["verdict"]
    assert g["random"]["verdict"] == "" and g["random"]["test"] is None


def test_fewer_than_five_runs_per_arm_get_no_verdict():
    rng = random.Random(0)
    data = runs("petridish", 3, 0.20, rng) + runs("random", 3, 0.35, rng)
    verdict = groups(run_compare(data))["petridish"]["verdict"]
    assert verdict.startswith("too few runs for a verdict (3 per arm; need 5)")
    data = runs("petridish", 6, 0.20, rng) + runs("random", 4, 0.35, rng)
    verdict = groups(run_compare(data))["petridish"]["verdict"]
    assert verdict.startswith("too few runs for a verdict (6 petridish and 4 random per arm")


def test_a_a_false_positive_rate_at_five_runs_is_at_most_seven_percent():
    """Both arms from one distribution: the verdict must claim a difference rarely. (The
    percentile bootstrap it replaces did so in about 12% of these at n = 5.)"""
    rng = random.Random(12)
    reps, claims = 400, 0
    for _ in range(reps):
        data = runs("petridish", 5, 0.3, rng) + runs("random", 5, 0.3, rng)
        verdict = groups(run_compare(data, Frame(1e5, 1e6, "fixed")))["petridish"]["verdict"]
        claims += not verdict.startswith("no significant difference")
    assert claims / reps <= 0.07, claims


def test_budgets_per_run_and_per_point_and_the_compute_warning():
    rng = random.Random(1)
    data = runs("petridish", 5, 0.3, rng) + runs("random", 5, 0.3, rng)
    for r, c in data:
        if c["algo"] == "random":
            r["image_epochs"] *= 2
    out = run_compare(data)
    g = groups(out)
    assert g["petridish"]["image_epochs"] == 3000 and g["random"]["image_epochs"] == 6000
    assert g["petridish"]["image_epochs_per_point"] == 1000
    assert g["petridish"]["epochs_per_point"] == 2
    assert g["petridish"]["test"]["compute_ratio"] == 0.5
    assert "not an equal-compute comparison" in g["petridish"]["verdict"]
    assert {r["image_epochs"] for r in out["runs"]} == {3000, 6000}


def test_hypervolume_curve_grows_with_compute_and_ends_at_the_run_score():
    rng = random.Random(2)
    data = runs("petridish", 2, 0.3, rng) + runs("random", 2, 0.3, rng)
    out = run_compare(data)
    for r in out["runs"]:
        hvs = [h for _, _, h in r["curve"]]
        assert r["curve"][0] == [0.0, 0, 0.0] and hvs == sorted(hvs)
        assert hvs[-1] == pytest.approx(r["hypervolume"])
        assert [s for s, _, _ in r["curve"]] == [0.0, 10.0, 20.0, 30.0]
    curve = groups(out)["random"]["curve"]
    assert curve[0] == [0.0, 0.0] and curve[-1][0] == 30.0
    assert curve[-1][1] == pytest.approx(groups(out)["random"]["hv_mean"])
