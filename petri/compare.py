"""Comparing searches honestly: frontier hypervolume in a frame fixed in advance, the training
budget each arm spent, an exact test against random search, and hypervolume against compute.

**Frame.** A run's score is the area its points dominate in cost (log axis) × validation
error, from the frame's left edge to a reference point, divided by the frame's area (so it
lies in [0, 1]). The frame must not depend on the scores: it is declared before the runs
(`petri compare --frame COST_MIN:COST_MAX`, or `compare.frame: [COST_MIN, COST_MAX]` in the
runs' configs) or, by default, is the runs' common support: from the largest per-run cheapest
cost to the smallest per-run dearest cost, so no run is scored on a range another never
reached (a left edge at the cheapest point of all runs let one cheap model decide a run's
score). Points cheaper than the left edge count as if they cost the left edge (a model
cheaper than the frame is at least as good as one on its edge); points dearer than the right
edge are left out (beyond the range every run is judged on). The reference point lies
REF_MARGIN of the frame's log width beyond the right edge, so the dearest point in the frame
still adds area; its error is 1.

**Budgets.** Image-epochs: training images processed by a run's finished jobs (steps × batch
size, a Petridish candidate search included, though it costs more per image), per run and
per point (the run's total over its points); epochs per point: the points' own `budget`.

**Verdict.** Each arm's per-run hypervolumes against random's: an exact two-sided permutation
test of the difference of means (every split of the pooled runs; its false-positive rate is
at most the level at any n), the Vargha–Delaney A12 effect size and mean ± sd. Below MIN_RUNS
runs per arm the test has too little resolution (at 3 per arm no split order reaches
p < 0.1) and no verdict is given.

**Curve.** Hypervolume (same frame) of the points recorded by the time a run had spent x
seconds of job compute (jobs counted in the order they finished), per run and averaged per
arm up to the shortest run's compute.
"""
from __future__ import annotations

import bisect
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from petri.config import from_mapping, setting
from petri.errors import ConfigError, PetriError
from petri.hull import hypervolume, hypervolumes, pareto_front, snapshot_priced
from petri.stats import a12, mean_sd, permutation_test

ALPHA = 0.05
MIN_RUNS = 5
REF_MARGIN = 0.1  # of the frame's log width, beyond its right edge
CURVE_STEPS = 40  # points of an arm's averaged curve


def parse_frame(text: str, where: str = "--frame") -> tuple[float, float]:
    """`COST_MIN:COST_MAX` (any float syntax, e.g. 1e3:2.5e4)."""
    try:
        lo, hi = (float(x) for x in text.split(":"))
    except ValueError:
        raise ConfigError(f"{where} {text!r}: expected COST_MIN:COST_MAX, e.g. 1000:25000") \
            from None
    return check_frame((lo, hi), where)


def check_frame(value, where: str) -> tuple[float, float]:
    ok = isinstance(value, (list, tuple)) and len(value) == 2 and \
        all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not ok or not 0 < value[0] < value[1] < math.inf:
        raise ConfigError(f"{where} must be two costs 0 < COST_MIN < COST_MAX, got {value!r}")
    return float(value[0]), float(value[1])


@dataclass(frozen=True)
class CompareCfg:
    frame: tuple[float, float] | None = setting(
        None, help="[COST_MIN, COST_MAX] on the hull.cost axis of the hypervolume frame "
                   "`petri compare` scores runs in (null: --frame, else the runs' common "
                   "support).")

    @classmethod
    def from_dict(cls, d: dict | None) -> "CompareCfg":
        cfg = from_mapping(cls, d, "compare")
        return cls(None if cfg.frame is None else check_frame(cfg.frame, "compare.frame"))


@dataclass(frozen=True)
class Frame:
    min_cost: float
    max_cost: float
    source: str  # where the edges came from, printed with the results
    ref_error: float = 1.0

    @property
    def ref_cost(self) -> float:
        return self.max_cost * (self.max_cost / self.min_cost) ** REF_MARGIN

    def hypervolume(self, pts) -> float:
        """Normalised hypervolume of (id, cost, error) points, clipped as the module says."""
        return hypervolume(self._clipped(pts), self.ref_cost, self.ref_error, True,
                           self.min_cost) / self._area

    def hypervolumes(self, pts) -> list[float]:
        """`hypervolume` of each prefix of `pts`, in their order."""
        return [hv / self._area for hv in hypervolumes(
            self._clipped(pts), self.ref_cost, self.ref_error, True, self.min_cost)]

    def _clipped(self, pts) -> list:
        """Costs below the frame raised to its edge; above it, none (the point counts not)."""
        return [(i, max(c, self.min_cost) if c <= self.max_cost else None, e)
                for i, c, e in pts]

    @property
    def _area(self) -> float:
        return math.log(self.ref_cost / self.min_cost) * self.ref_error

    def to_dict(self) -> dict:
        return {**asdict(self), "ref_cost": self.ref_cost}


def _priced(run: dict) -> list[tuple[int, float, float]]:
    return [(p["id"], p["cost"], p["error"]) for p in snapshot_priced(run["points"])]


def choose_frame(runs: list[dict], cfgs: list[dict],
                 given: tuple[float, float] | None = None) -> Frame:
    """--frame, else the runs' common compare.frame, else their common support."""
    if given is not None:
        return Frame(*given, "--frame")
    declared = {CompareCfg.from_dict(c.get("compare")).frame for c in cfgs}
    if len(declared) > 1:
        raise PetriError(f"the runs declare different compare.frame values "
                         f"({', '.join(map(str, declared))}); pass --frame COST_MIN:COST_MAX")
    frame = declared.pop() if declared else None
    if frame is not None:
        return Frame(*frame, "compare.frame of the runs' configs")
    lows, highs = [], []
    for run in runs:
        costs = [c for _, c, _ in _priced(run)]
        if not costs:
            raise PetriError(f"{run['run_dir']} has no trained point with a cost; leave it "
                             f"out or pass --frame")
        lows.append(min(costs))
        highs.append(max(costs))
    lo, hi = max(lows), min(highs)
    if not lo < hi:
        raise PetriError(f"the runs share no cost range (cheapest points up to {lo:g}, dearest "
                         f"from {hi:g}); pass --frame COST_MIN:COST_MAX")
    return Frame(lo, hi, "common support of the runs")


def data_used(cfg: dict) -> dict:
    """What a run's points were trained and validated on, defaults resolved (an unset val_size
    is the dataset's own), as `data.KEY` -> value. Reads no image: a dataset's input size and
    default split come from its info where that is known without importing anything."""
    from petri.data.config import DataCfg
    from petri.data.info import dataset_info, named_datasets
    from petri.data.petrifile import SUFFIX

    d = from_mapping(DataCfg, cfg.get("data"), "data")
    info = None
    if d.dataset in named_datasets() or d.dataset.endswith(SUFFIX):
        try:
            info = dataset_info(d.dataset, d.data_dir)
        except PetriError:
            pass  # a dataset moved away since: its name still tells runs apart
    val_size = d.val_size if d.val_size is not None or info is None else info.val_size
    return {"data.dataset": d.dataset,
            "input size": "x".join(map(str, info.shape)) if info else None,
            "data.val_size": val_size, "data.split_seed": d.split_seed,
            "data.subset": d.subset, "data.val_subset": d.val_subset}


# How the `data_used` values that may be None read (a subset of None: every image).
_UNSET = {"input size": "unknown", "data.val_size": "the default", "data.subset": "all",
          "data.val_subset": "all"}


def check_same_data(run_dirs: list, cfgs: list[dict]) -> None:
    """Refuse runs whose points were trained or validated on different data: their errors
    are not comparable (two datasets' errors would pass for two seeds of one algorithm)."""
    used = [data_used(c) for c in cfgs]
    diffs = []
    for key in used[0]:
        first = {}  # value -> the first run that has it
        for run, u in zip(run_dirs, used):
            first.setdefault(u[key], run)
        if len(first) > 1:
            diffs.append(f"{key} " + " vs ".join(f"{_UNSET[key] if v is None else v} ({run})"
                                                 for v, run in first.items()))
    if diffs:
        raise PetriError(f"the runs used different data: {'; '.join(diffs)}; compare runs "
                         f"trained and validated on the same data")


@dataclass
class RunScore:
    run_dir: str
    algo: str
    seed: int
    points: int
    in_frame: int  # points no dearer than the frame's right edge
    frontier: int
    hypervolume: float  # normalised, in [0, 1]
    compute_s: float
    image_epochs: int
    image_epochs_per_point: float
    epochs_per_point: float | None  # mean of the points' own budgets
    best_error: dict = field(default_factory=dict)  # budget -> best val error at cost <= budget
    curve: list = field(default_factory=list)  # [compute_s, image_epochs, hypervolume] steps


@dataclass
class ArmTest:
    """One arm's per-run hypervolumes against random's."""

    diff: float  # mean(arm) - mean(random)
    p: float  # two-sided, exact permutation test
    exact: bool  # False: sampled splits (only beyond permutation_test's EXACT_SPLITS)
    a12: float  # P(an arm run scores above a random run)
    compute_ratio: float  # image-epochs per run, arm / random
    time_ratio: float  # device seconds per run, arm / random


@dataclass
class GroupScore:
    algo: str
    runs: int
    hv_mean: float
    hv_sd: float
    compute_s: float  # means per run, as are the next two
    image_epochs: float
    image_epochs_per_point: float
    epochs_per_point: float | None
    best_error: dict
    curve: list  # [compute_s, mean hypervolume] up to the shortest run's compute
    test: ArmTest | None = None
    verdict: str = ""


def _curve(run: dict, frame: Frame) -> list[list[float]]:
    pts = sorted(snapshot_priced(run["points"]), key=lambda p: (p["spent_s"], p["id"]))
    hvs = frame.hypervolumes([(p["id"], p["cost"], p["error"]) for p in pts])
    return [[0.0, 0, 0.0]] + [[p["spent_s"], p["spent_images"], hv] for p, hv in zip(pts, hvs)]


def _mean_curve(curves: list[list], until: float) -> list[list[float]]:
    if until <= 0:
        return []
    grid = [until * k / CURVE_STEPS for k in range(CURVE_STEPS + 1)]
    out = []
    for x in grid:
        hvs = []
        for c in curves:
            k = bisect.bisect_right([s[0] for s in c], x) - 1
            hvs.append(c[k][2])
        out.append([x, sum(hvs) / len(hvs)])
    return out


def score_run(run: dict, cfg: dict, frame: Frame, budgets: list[float]) -> RunScore:
    pts = _priced(run)
    budgets_pt = [p["budget"] for p in run["points"] if p.get("budget") is not None]
    best = {}
    for b in budgets:
        within = [e for _, c, e in pts if c <= b]
        best[b] = min(within) if within else None
    n = len(run["points"])
    return RunScore(
        run["run_dir"], str(cfg.get("algo")), int(cfg.get("seed", 0)), len(pts),
        sum(c <= frame.max_cost for _, c, _ in pts), len(pareto_front(pts)),
        frame.hypervolume(pts), run["compute_s"], run["image_epochs"],
        run["image_epochs"] / n if n else math.nan,
        sum(budgets_pt) / len(budgets_pt) if budgets_pt else None, best, _curve(run, frame))


def _ratio(a: float, b: float) -> float:
    return a / b if b else math.inf


def _verdict(name: str, arm: list[RunScore], base: list[RunScore], seed: int) -> tuple:
    a, b = [r.hypervolume for r in arm], [r.hypervolume for r in base]
    p, exact = permutation_test(a, b, seed)
    test = ArmTest(mean_sd(a)[0] - mean_sd(b)[0], p, exact, a12(a, b),
                   _ratio(mean_sd([r.image_epochs for r in arm])[0],
                          mean_sd([r.image_epochs for r in base])[0]),
                   _ratio(mean_sd([r.compute_s for r in arm])[0],
                          mean_sd([r.compute_s for r in base])[0]))
    stats = (f"hypervolume difference {test.diff:+.4f}, p = {p:.3f} (two-sided "
             f"{'exact' if exact else 'sampled'} permutation test), A12 = {test.a12:.2f}, at "
             f"{test.compute_ratio:.2f}x random's image-epochs and {test.time_ratio:.2f}x its "
             f"device time")
    if not 0.8 <= test.compute_ratio <= 1.25:
        stats += " (budgets differ by more than 25%: not an equal-compute comparison)"
    if min(len(a), len(b)) < MIN_RUNS:
        counts = f"{len(a)}" if len(a) == len(b) else f"{len(a)} {name} and {len(b)} random"
        return test, (f"too few runs for a verdict ({counts} per arm; need {MIN_RUNS}); "
                      f"descriptive only: {stats}")
    if p < ALPHA:
        word = "beats random" if test.diff > 0 else "loses to random"
    else:
        word = "no significant difference from random"
    return test, f"{word} at level {ALPHA:g}: {stats}"


def compare(runs: list[dict], cfgs: list[dict], budgets: list[float], frame: Frame,
            seed: int = 0) -> dict:
    """Scores per run and per algorithm; a test of every algorithm against `random`.

    `runs` are `load_run` records: run_dir, compute_s, image_epochs and points with id, cost,
    error, budget, spent_s and spent_images (the run's compute when the point was recorded).
    """
    scores = [score_run(r, c, frame, budgets) for r, c in zip(runs, cfgs)]
    groups = {}
    for algo in sorted({s.algo for s in scores}):
        rs = [s for s in scores if s.algo == algo]
        hv_mean, hv_sd = mean_sd([r.hypervolume for r in rs])
        best = {}
        for b in budgets:
            vals = [r.best_error[b] for r in rs if r.best_error[b] is not None]
            best[b] = mean_sd(vals)[0] if vals else None
        epochs = [r.epochs_per_point for r in rs if r.epochs_per_point is not None]
        groups[algo] = GroupScore(
            algo, len(rs), hv_mean, hv_sd, mean_sd([r.compute_s for r in rs])[0],
            mean_sd([r.image_epochs for r in rs])[0],
            mean_sd([r.image_epochs_per_point for r in rs])[0],
            mean_sd(epochs)[0] if epochs else None, best,
            _mean_curve([r.curve for r in rs], min(r.compute_s for r in rs)))
    base = [s for s in scores if s.algo == "random"]
    for g in groups.values():
        if base and g.algo != "random":
            g.test, g.verdict = _verdict(g.algo, [s for s in scores if s.algo == g.algo], base,
                                         seed)
    return {"frame": frame.to_dict(), "runs": [asdict(s) for s in scores],
            "groups": [asdict(g) for g in groups.values()], "alpha": ALPHA,
            "min_runs": MIN_RUNS}


def load_run(run_dir: str | Path) -> dict:
    """A run's points (cost on its hull.cost axis) with the compute spent when each was
    recorded, and its totals: what `compare` scores. Read-only."""
    from petri.hull import configured_hull
    from petri.store.store import RunStore

    run_dir = Path(run_dir)
    with RunStore.open(run_dir, readonly=True) as store:
        done = sorted(store.view.jobs(state="done"), key=lambda j: (j.finished, j.id))
        points = store.view.points()
    metric = configured_hull(run_dir)["metric"]
    finished, spent_s, spent_images = [], [0.0], [0]
    for j in done:
        r = j.result or {}
        finished.append(j.finished)
        spent_s.append(spent_s[-1] + float(r.get("wall_s") or 0.0))
        spent_images.append(spent_images[-1] + int(r.get("steps") or 0) *
                            int(r.get("batch_size") or j.spec.get("trainer", {}).get(
                                "batch_size", 0)))
    out = []
    for p in points:
        k = bisect.bisect_right(finished, p.created)  # jobs finished by the time it was stored
        out.append({"id": p.id, "cost": p.cost(metric), "error": p.val_error,
                    "budget": p.budget, "spent_s": spent_s[k], "spent_images": spent_images[k]})
    return {"run_dir": str(run_dir), "cost_metric": metric, "compute_s": spent_s[-1],
            "image_epochs": spent_images[-1], "points": out}
