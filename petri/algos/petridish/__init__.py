"""Petridish: forward search that grows models near the lower convex hull of error vs cost."""
from petri.algos.registry import AlgoInfo

ALGOS = [AlgoInfo("petridish", "petri.algos.petridish.algorithm:Petridish",
                  "forward search: grow children of parents near the error/cost hull",
                  sections=("petridish", "pareto", "hull", "seed_train", "search", "post_train"),
                  kinds={"seed_train": "petri.train.job:run",
                         "seed_import": "petri.algos.petridish.seeds:run",
                         "search": "petri.algos.petridish.job:run",
                         "post_train": "petri.train.job:run"},
                  toy_config="petridish_toy.yaml", test_config="tiny.yaml")]
