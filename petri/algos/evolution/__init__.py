"""`evolution`: regularized (aging) evolution over the same space as `random`."""
from petri.algos.registry import AlgoInfo

ALGOS = [AlgoInfo("evolution", "petri.algos.evolution.algorithm:Evolution",
                  "regularized (aging) evolution: mutate the best of a tournament",
                  sections=("evolution", "pareto", "hull"), toy_config="evolution_toy.yaml",
                  test_config="tiny.yaml")]
