"""DARTS (first and second order) and PC-DARTS: one supernet search per job, its genotype
trained as the point. The variants are rows of data over one algorithm class."""
from petri.algos.registry import AlgoInfo

SECTIONS = ("darts", "supernet", "arch", "derived", "search")
KINDS = {"darts_search": "petri.algos.darts.job:run"}

ALGOS = [
    AlgoInfo("darts", "petri.algos.darts.algorithm:Darts", "DARTS, first order",
             SECTIONS, KINDS, "darts_toy.yaml"),
    AlgoInfo("darts2", "petri.algos.darts.algorithm:Darts2",
             "DARTS, second order (unrolled architecture step)", SECTIONS, KINDS,
             "darts2_toy.yaml"),
    AlgoInfo("pc-darts", "petri.algos.darts.algorithm:PCDarts",
             "PC-DARTS: partial channels, edge normalisation", SECTIONS, KINDS,
             "pc_darts_toy.yaml"),
]
