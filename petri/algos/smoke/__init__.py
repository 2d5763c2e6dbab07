"""`smoke`: a batch of fake training jobs that exercises the whole daemon without torch."""
from petri.algos.registry import AlgoInfo

ALGOS = [AlgoInfo("smoke", "petri.algos.smoke.algorithm:Smoke",
                  "fake training jobs that exercise the daemon (no torch)",
                  sections=("smoke",), kinds={"sleep_train": "petri.algos.smoke.job:run"},
                  toy_config="smoke.yaml",
                  command="petri start CONFIG", test_config="tiny.yaml")]
