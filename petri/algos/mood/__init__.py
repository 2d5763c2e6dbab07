"""MOOD: a frontier from a sweep of regularisation weights over PC-DARTS searches."""
from petri.algos.darts import KINDS, PC_DARTS
from petri.algos.registry import AlgoInfo

# MOOD's searches are PC-DARTS searches: its defaults under the same sections.
ALGOS = [AlgoInfo("mood", "petri.algos.mood.algorithm:Mood",
                  "a frontier from a sweep of regularisation weights (PC-DARTS searches)",
                  ("supernet", "arch", "derived", "search", "mood"), KINDS, "mood_toy.yaml",
                  defaults=PC_DARTS, test_config="tiny.yaml")]
