import random

import pytest
import torch
from torch import nn

from petri.cost import count_cost
from petri.space.build import build_model
from petri.space.genotypes import genotype
from tests.conftest import random_desc

fvcore = pytest.importorskip("fvcore.nn", reason="fvcore comes with the test extra")


def _fvcore_conv_linear(model, shape):
    model.eval()
    analysis = fvcore.FlopCountAnalysis(model, torch.zeros(1, *shape))
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    by_op = analysis.by_operator()
    return by_op.get("conv", 0) + by_op.get("linear", 0) + by_op.get("addmm", 0)


MODELS = [
    ("DARTS_V2 cifar", lambda: build_model(genotype("DARTS_V2")), (3, 32, 32)),
    ("PC_DARTS_cifar small 1ch", lambda: build_model(genotype("PC_DARTS_cifar", channels=8,
                                                               cells=5, in_channels=1)), (1, 28, 28)),
    ("PC_DARTS_image imagenet", lambda: build_model(genotype("PC_DARTS_image", "imagenet")),
     (3, 224, 224)),
    ("random desc A", lambda: build_model(random_desc(random.Random(1), in_channels=3)), (3, 32, 32)),
    ("random desc B", lambda: build_model(random_desc(random.Random(2), in_channels=1)), (1, 28, 28)),
    ("plain CNN", lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                                        nn.Conv2d(16, 32, 3, stride=2, groups=4), nn.Flatten(),
                                        nn.Linear(32 * 15 * 15, 10)), (3, 32, 32)),
]


@pytest.mark.parametrize("name,make,shape", MODELS, ids=[m[0] for m in MODELS])
def test_macs_agree_with_fvcore(name, make, shape):
    model = make()
    ours = count_cost(model, shape).macs
    theirs = _fvcore_conv_linear(model, shape)
    assert theirs > 0
    assert abs(ours - theirs) / theirs < 0.01, (ours, theirs)


def test_known_figures_and_units():
    c = count_cost(genotype("PC_DARTS_cifar", "imagenet"), (3, 224, 224))
    # The reference note's independent conv+linear count for this network is 571M MACs.
    assert abs(c.macs - 571e6) / 571e6 < 0.01
    assert c.params == 5270560


def test_activation_memory_grows_with_resolution_and_width():
    small = count_cost(genotype("DARTS_V2", channels=8, cells=5), (3, 32, 32))
    wide = count_cost(genotype("DARTS_V2", channels=16, cells=5), (3, 32, 32))
    big = count_cost(genotype("DARTS_V2", channels=8, cells=5), (3, 64, 64))
    assert 1.8 < wide.activation_bytes / small.activation_bytes < 2.2
    assert 3.5 < big.activation_bytes / small.activation_bytes < 4.5
    # At least the stem output (3C channels at full resolution, fp32) is alive at once.
    assert small.activation_bytes >= 24 * 32 * 32 * 4
