"""Growth ablation: does Petridish's α selection grow better children than chance?

    python bench/growth_ablation.py [--parents 6] [--seeds 7] [--workers 2] [--out DIR]
    python bench/growth_ablation.py --quick      # a 2 × 2 smoke run, under 2 minutes

The defaults (42 pairs) take about an hour on a 2-core CPU: a pair is one search and three
post-trainings with validation, from ~1.2 min (the cheapest parent) to ~4.6 min (the dearest)
on one core, as scaled from --quick's timings; each finished pair prints its seconds, and an
interrupted run resumes, so --seeds can be raised later.

Petridish's claim with the lottery removed: the same trained parent, the same candidate
search, only the choice differs. For each of P parents (toy seed models spread over cost,
trained with configs/petridish_toy.yaml's seed recipe) and S search seeds, one candidate
search (the toy's search recipe, exactly what a `search` job trains) yields three children:

  A   the top k candidates by |α| per cell type (`petridish.select: alpha`);
  B   k random candidates per cell type, the draw (of --draws) whose child adds the
      parameters closest to A's: random selection at matched Δcost;
  B'  the same with another draw seed: the A/A arm, which calibrates the test.

Each child is warm-started from that search, post-trained with the toy's post-train recipe
and one seed for all three, and scored on the full validation split (10,000 images). Per pair
d = error(A) − error(B) (A/A: error(B') − error(B)): the exact Wilcoxon signed-rank test,
the Hodges–Lehmann median difference with its exact 95% interval, and how well Δcost matched.
Rows are appended to DIR/pairs.jsonl as they finish, so an interrupted run resumes where it
stopped (delete DIR to start afresh after changing settings); the summary goes to
DIR/summary.json. The unit is the (parent, search seed) pair; pairs of one parent share it,
so the report also gives the median difference per parent.
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

from petri.stats import hodges_lehmann, signed_rank_test

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "petridish_toy.yaml"
_SPLITS: dict = {}  # per worker process: DataCfg fields (as JSON) -> Splits


def settings(quick: bool, draws: int) -> dict:
    """The toy's recipes; --quick shrinks data and epochs (and proves only that it runs)."""
    from petri.algos.petridish.algorithm import run_settings
    from petri.launch import load_config

    cfg = load_config(CONFIG)
    p, pareto, _, data, trainers = run_settings(cfg)
    post_data = {**data, "val_subset": None}  # the full validation split
    search_data = {**post_data, "subset": p.search_subset}
    if quick:
        post_data = {**post_data, "subset": 512, "val_subset": 1000}
        search_data = {**post_data, "subset": 256}
        trainers = {k: {**t, "epochs": 1} for k, t in trainers.items()}
    return {"petridish": {"channels": p.channels, "stem_multiplier": p.stem_multiplier,
                          "edges_per_node": p.edges_per_node, "k": p.k, "l1": p.l1,
                          "grow_existing": p.grow_existing},
            "pareto": {f: getattr(pareto, f) for f in ("min_reductions", "max_reductions",
                                                       "min_cells", "max_cells", "min_nodes",
                                                       "max_nodes")},
            "data": post_data, "search_data": search_data, "trainers": trainers,
            "draws": draws}


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker; --workers sets how many


def _splits(data: dict):
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits

    key = json.dumps(data, sort_keys=True)
    if key not in _SPLITS:
        _SPLITS[key] = make_splits(DataCfg(**data), "cpu")
    return _SPLITS[key]


def _train(make_model, data: dict, trainer: dict, seed: int, hooks=None):
    """(model, TrainResult): seeded before the model is built, and trained with the hooks
    the job would give it (a network's by default, `search_hooks` for a candidate search)."""
    import torch

    from petri.train.config import TrainCfg
    from petri.train.job import network_hooks
    from petri.train.loop import train

    torch.manual_seed(seed)
    model = make_model()
    return model, train(model, _splits(data), TrainCfg.from_dict({**trainer, "seed": seed}),
                        "cpu", model_hooks=(hooks or network_hooks)(model))


def train_parent(key: str, desc: dict, s: dict, out: Path) -> dict:
    import torch

    from petri.algos.base import job_seed
    from petri.cost import count_params
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc

    path = out / "parents" / f"{key}.pt"
    params = count_params(build_model(ModelDesc.from_dict(desc)))
    if path.exists():  # trained by an earlier, interrupted run
        return {"key": key, "val_error": torch.load(path, weights_only=True)["val_error"],
                "params": params}
    model, result = _train(lambda: build_model(ModelDesc.from_dict(desc)), s["data"],
                           s["trainers"]["seed_train"], job_seed(0, f"seed/{key}"))
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model": model.state_dict(), "val_error": result.val_error}, path)
    return {"key": key, "val_error": result.val_error, "params": params}


def _matched_random(search, k: int, target: int, base: int, rng: random.Random, draws: int):
    """Of `draws` uniform draws of k candidates per cell type, the one whose child adds the
    parameters closest to `target` (first on ties), and the parameters it adds."""
    from petri.cost import count_params
    from petri.space.build import build_model
    from petri.algos.petridish.grow import grow_desc

    best = None
    for _ in range(draws):
        picks = search.select_random(k, rng)
        added = count_params(build_model(grow_desc(search.net.desc, picks))) - base
        if best is None or abs(added - target) < abs(best[1] - target):
            best = (picks, added)
    return best


def run_pair(parent: str, desc: dict, seed: int, s: dict, out: Path) -> dict:
    import torch

    from petri.algos.base import job_seed
    from petri.cost import count_params
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    from petri.algos.petridish.grow import GrowthNet, grow_child
    from petri.algos.petridish.job import search_hooks

    t0 = time.perf_counter()
    g = s["petridish"]
    weights = torch.load(out / "parents" / f"{parent}.pt", weights_only=True)["model"]

    def make_search():
        net = build_model(ModelDesc.from_dict(desc))
        net.load_state_dict(weights)
        return GrowthNet(net, g["grow_existing"], g["l1"], seed=search_seed)

    search_seed = job_seed(seed, f"search/{parent}")
    search, _ = _train(make_search, s["search_data"], s["trainers"]["search"], search_seed,
                       search_hooks)
    search.to("cpu")
    base = count_params(build_model(ModelDesc.from_dict(desc)))  # search.net is frozen
    picks = {"A": search.select(g["k"])}
    added = {"A": count_params(grow_child(search, picks["A"])[1]) - base}
    for arm, salt in (("B", "B"), ("B'", "B-prime")):
        rng = random.Random(f"{seed}/{parent}/{salt}")
        picks[arm], added[arm] = _matched_random(search, g["k"], added["A"], base, rng,
                                                 s["draws"])
    post_seed = job_seed(seed, f"post/{parent}")  # one seed: the arms differ only in picks
    errors = {arm: _train(lambda: grow_child(search, chosen)[1], s["data"],
                          s["trainers"]["post_train"], post_seed)[1].val_error
              for arm, chosen in picks.items()}
    return {"parent": parent, "seed": seed, "error": errors, "added_params": added,
            "picks": {a: [(p.cell, p.target, p.input, p.op) for p in ps]
                      for a, ps in picks.items()},
            "wall_s": time.perf_counter() - t0}


def _pp(x: float) -> str:
    return f"{100 * x:+.2f} pp"


def paired_summary(d: list[float]) -> dict:
    p, used = signed_rank_test(d)
    est, lo, hi = hodges_lehmann(d)
    return {"n": len(d), "nonzero": used, "p": p, "median": est, "ci95": [lo, hi],
            "negative": sum(x < 0 for x in d)}


def report(rows: list[dict], parents: dict, s: dict, wall: float) -> dict:
    d_ab = [r["error"]["A"] - r["error"]["B"] for r in rows]
    d_aa = [r["error"]["B'"] - r["error"]["B"] for r in rows]
    gap = sorted(abs(r["added_params"]["B"] - r["added_params"]["A"]) /
                 max(1, r["added_params"]["A"]) for r in rows)
    summary = {"pairs": len(rows), "parents": parents, "k": s["petridish"]["k"],
               "draws": s["draws"], "data": s["data"], "trainers": s["trainers"],
               "alpha_vs_random": paired_summary(d_ab), "a_a": paired_summary(d_aa),
               "cost_gap_median": gap[len(gap) // 2], "wall_s": wall,
               "machine": platform.platform()}
    print(f"{len(rows)} pairs ({len(parents)} parents × seeds), k = {s['petridish']['k']} per "
          f"cell type, validation on {s['data'].get('val_subset') or 'all'} held-out images, "
          f"{wall / 60:.1f} min")
    for arm in ("A", "B", "B'"):
        errs = sorted(r["error"][arm] for r in rows)
        adds = sorted(r["added_params"][arm] for r in rows)
        print(f"  arm {arm:2s}: median child error {100 * errs[len(errs) // 2]:.2f}%, median "
              f"added params {adds[len(adds) // 2]}")
    for name, key, what in (("α vs random at matched Δcost", "alpha_vs_random", "A better"),
                            ("A/A: random vs random", "a_a", "B' better")):
        t = summary[key]
        lo, hi = t["ci95"]
        ci = f"[{_pp(lo)}, {_pp(hi)}]" if hi != float("inf") else "(too few pairs for a CI)"
        print(f"{name}: median Δerror {_pp(t['median'])}, 95% CI {ci}, signed-rank p = "
              f"{t['p']:.3f} (n = {t['n']}, {t['nonzero']} non-zero), {what} in "
              f"{t['negative']}/{t['n']}")
    for parent in parents:
        d = sorted(r["error"]["A"] - r["error"]["B"] for r in rows if r["parent"] == parent)
        if d:
            print(f"  parent {parent}: median error(A) − error(B) {_pp(d[len(d) // 2])}, A "
                  f"better in {sum(x < 0 for x in d)}/{len(d)}")
    print(f"Δcost matching: median |added(B) − added(A)| / added(A) = "
          f"{100 * gap[len(gap) // 2]:.1f}%")
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parents", type=int, default=6, help="trained parents (toy seeds, "
                                                           "spread over cost)")
    ap.add_argument("--seeds", type=int, default=7, help="candidate searches per parent")
    ap.add_argument("--draws", type=int, default=64, help="random draws to match Δcost from")
    ap.add_argument("--workers", type=int, default=2, help="processes, one core each")
    ap.add_argument("--out", type=Path, default=Path("runs/growth_ablation"))
    ap.add_argument("--quick", action="store_true",
                    help="2 parents × 2 seeds on 512 images, 1 epoch: proves it runs")
    args = ap.parse_args()
    if args.quick:
        args.parents, args.seeds, args.draws = 2, 2, 8
        if args.out == ap.get_default("out"):
            args.out = Path("runs/growth_ablation_quick")
    if min(args.parents, args.seeds, args.draws, args.workers) < 1:
        ap.error("--parents, --seeds, --draws and --workers must be at least 1")
    from petri.algos.petridish.algorithm import PetridishCfg, seed_descs
    from petri.cost import count_params
    from petri.space.build import build_model
    from petri.space.sample import ParetoCfg

    s = settings(args.quick, args.draws)
    seeds = seed_descs(PetridishCfg(**{k: s["petridish"][k] for k in
                                       ("channels", "stem_multiplier", "edges_per_node")}),
                       ParetoCfg(**s["pareto"]), s["data"]["dataset"], 0)
    by_cost = sorted(seeds, key=lambda k: count_params(build_model(seeds[k])))
    if args.parents > len(by_cost):
        ap.error(f"--parents: the toy space has only {len(by_cost)} seed models")
    step = (len(by_cost) - 1) / max(1, args.parents - 1)
    chosen = [by_cost[round(i * step)] for i in range(args.parents)]
    descs = {k: seeds[k].to_dict() for k in chosen}
    args.out.mkdir(parents=True, exist_ok=True)
    log = args.out / "pairs.jsonl"
    rows = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    done = {(r["parent"], r["seed"]) for r in rows}
    t0 = time.perf_counter()
    ctx = get_context("spawn")  # no fork of a process that has started torch's threads
    with ProcessPoolExecutor(args.workers, mp_context=ctx, initializer=_init_worker) as pool:
        parents = {r["key"]: r for r in pool.map(train_parent, chosen, descs.values(),
                                                 [s] * len(chosen), [args.out] * len(chosen))}
        print("parents: " + ", ".join(f"{k} ({p['params']} params, "
                                      f"{100 * p['val_error']:.1f}%)" for k, p in parents.items()))
        todo = [(k, seed) for seed in range(args.seeds) for k in chosen
                if (k, seed) not in done]
        futures = [pool.submit(run_pair, k, descs[k], seed, s, args.out) for k, seed in todo]
        with log.open("a") as f:
            for fut in as_completed(futures):
                row = fut.result()
                f.write(json.dumps(row) + "\n")
                f.flush()
                rows.append(row)
                errs = "  ".join(f"{arm} {100 * e:.2f}%" for arm, e in row["error"].items())
                print(f"  {row['parent']} seed {row['seed']}: {errs}  ({row['wall_s']:.0f} s)",
                      flush=True)
    rows = [r for r in rows if r["parent"] in parents and r["seed"] < args.seeds]
    summary = report(rows, parents, s, time.perf_counter() - t0)
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
