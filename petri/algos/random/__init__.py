"""`random`: the baseline every search must beat, at equal compute."""
from petri.algos.registry import AlgoInfo

ALGOS = [AlgoInfo("random", "petri.algos.random.algorithm:RandomSearch",
                  "random architectures from the same space: the baseline",
                  sections=("random", "pareto", "hull"),
                  kinds={"random_train": "petri.algos.random.job:run"},
                  toy_config="random_toy.yaml", test_config="tiny.yaml")]
