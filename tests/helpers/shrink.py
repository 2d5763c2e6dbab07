"""How the end-to-end tests and the docs runner shrink the shipped configs to CI size."""

# The searches of the docs at test size: less data and fewer jobs, the toys' own network sizes
# (where native kernels crash or go wrong) kept.
DATA = ["data.subset=256", "data.val_subset=128", "daemon.progress_every_s=0.5"]
SHRINK = {
    "darts": ["darts.searches=1", "search.epochs=1", "trainer.epochs=1"],
    "darts2": ["darts.searches=1", "search.epochs=1", "trainer.epochs=1"],
    # one warm-up epoch, then one with architecture steps
    "pc-darts": ["darts.searches=1", "search.epochs=2", "trainer.epochs=1"],
    "mood": ["mood.max_searches=2", "search.epochs=2", "trainer.epochs=1"],
    "random": ["random.samples=2", "trainer.epochs=1"],
    "evolution": ["evolution.population=2", "evolution.cycles=1", "trainer.epochs=1"],
    "petridish": ["pareto.max_reductions=1", "pareto.max_cells=3", "petridish.max_points=4",
                  "petridish.search_subset=128", "seed_train.epochs=1", "search.epochs=1",
                  "post_train.epochs=1"],
}

# The supernet family's toy configs at their end-to-end tests' size: 64 images for the weights,
# 64 for α, 4-channel supernets.
SUPERNET_SIZE = ["data.subset=128", "data.val_subset=256", "supernet.channels=4",
                 "supernet.nodes=2", "supernet.stem_multiplier=1", "search.epochs=2",
                 "search.batch_size=16", "search.checkpoint_every_s=0.5", "trainer.epochs=1",
                 "trainer.batch_size=32", "derived.channels=4", "derived.cells=3",
                 "derived.stem_multiplier=1", "daemon.progress_every_s=0.2",
                 "daemon.backoff_s=0.2"]

# What a native crash leaves in a run's workers.log.
NATIVE_FAILURES = ("corruption", "Fatal", "Segmentation", "double free", "Aborted")
