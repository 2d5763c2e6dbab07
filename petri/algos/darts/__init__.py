"""DARTS (first and second order) and PC-DARTS: one supernet search per job, its genotype
trained as the point. The variants are rows of data over one algorithm class: their
defaults under the config's sections."""
from petri.algos.registry import AlgoInfo

SECTIONS = ("darts", "supernet", "arch", "derived", "search")
KINDS = {"darts_search": "petri.algos.darts.job:run"}
ALGORITHM = "petri.algos.darts.algorithm:Darts"
# DARTS' published search recipe for the supernet's weights: the `search` section's defaults,
# over the run's `trainer`.
SEARCH = {"epochs": 50, "batch_size": 64, "lr": 0.025, "lr_min": 0.001, "weight_decay": 3e-4,
          "grad_clip": 5.0}
# PC-DARTS' published recipe: 1/4 of the channels, a warm-up, Adam at 6e-4, larger batches.
PC_DARTS = {"supernet": {"partial": 4}, "arch": {"lr": 6e-4, "warmup_epochs": 15},
            "search": {**SEARCH, "batch_size": 256, "lr": 0.1, "lr_min": 0.0}}

ALGOS = [
    AlgoInfo("darts", ALGORITHM, "DARTS, first order", SECTIONS, KINDS, "darts_toy.yaml",
             defaults={"search": SEARCH}, test_config="tiny_darts.yaml"),
    AlgoInfo("darts2", ALGORITHM, "DARTS, second order (unrolled architecture step)",
             SECTIONS, KINDS, "darts2_toy.yaml",
             defaults={"arch": {"second_order": True}, "search": SEARCH},
             test_config="tiny_darts2.yaml"),
    AlgoInfo("pc-darts", ALGORITHM, "PC-DARTS: partial channels, edge normalisation",
             SECTIONS, KINDS, "pc_darts_toy.yaml", defaults=PC_DARTS,
             test_config="tiny_pc_darts.yaml"),
]
