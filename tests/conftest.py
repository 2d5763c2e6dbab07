import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def random_desc(rng: random.Random, **macro):
    """A random valid desc: any number of nodes, edges and concat choices per cell."""
    from petri.space.desc import PRIMITIVES, CellDesc, EdgeDesc, ModelDesc, NodeDesc

    def cell(reduce: bool):
        n_nodes = rng.randint(1, 5)
        nodes = []
        for j in range(n_nodes):
            edges = tuple(EdgeDesc(rng.choice(PRIMITIVES[1:]), rng.randrange(j + 2))
                          for _ in range(rng.randint(1, 3)))
            nodes.append(NodeDesc(edges))
        lo = 2 if reduce else 0
        concat = sorted(rng.sample(range(lo, n_nodes + 2), rng.randint(1, n_nodes + 2 - lo)))
        return CellDesc(tuple(nodes), tuple(concat))

    kw = dict(channels=rng.choice([4, 6, 8]), cells=rng.randint(1, 6),
              reductions=rng.randint(0, 2), in_channels=rng.choice([1, 3]),
              num_classes=rng.choice([2, 10]), auxiliary=rng.random() < 0.3)
    kw.update(macro)
    if kw["cells"] <= kw["reductions"]:
        kw["cells"] = kw["reductions"] + 1
    return ModelDesc(normal=cell(False), reduce=cell(True), **kw).validate()


def run_petri(*args, env=None, timeout=300, **kw):
    """Run the installed `petri` console entry point in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "petri.cli.main", *map(str, args)],
                          capture_output=True, text=True, env=full_env, timeout=timeout, **kw)


needs_fashion = pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists(),
                                   reason="Debian's dataset-fashion-mnist is not installed "
                                          "(.ci/run installs it)")
