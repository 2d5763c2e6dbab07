"""`eval`: retrain a gallery's models longer and report test error (`petri eval`)."""
from petri.algos.registry import AlgoInfo

ALGOS = [AlgoInfo("eval", "petri.algos.evaluate.algorithm:Evaluate",
                  "train a gallery's models longer and report test error",
                  sections=("eval", "hull"), kinds={"eval_train": "petri.train.job:run"},
                  toy_config="eval_toy.yaml",
                  command="petri eval GALLERY.h5 --config CONFIG", test_config="tiny.yaml")]
