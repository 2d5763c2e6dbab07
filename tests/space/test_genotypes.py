import pytest
import torch

from petri.cost import count_params
from petri.space.build import build_model
from petri.space.desc import PRIMITIVES
from petri.space.genotypes import genotype
from petri.space.ops import create_op

CIFAR = {"DARTS_V1": 3.17e6, "DARTS_V2": 3.35e6, "PC_DARTS_cifar": 3.64e6, "PC_DARTS_image": 3.72e6}
IMAGENET = {"DARTS_V2": 4.7e6, "PC_DARTS_cifar": 5.3e6, "PC_DARTS_image": 5.3e6}


@pytest.mark.parametrize("name,expected", CIFAR.items())
def test_cifar_evaluation_networks_match_published_params(name, expected):
    model = build_model(genotype(name, auxiliary=True))  # the aux head exists but is not counted
    assert model.aux_head is not None
    assert abs(count_params(model) - expected) / expected < 0.01


@pytest.mark.parametrize("name,expected", IMAGENET.items())
def test_imagenet_mobile_networks_match_published_params(name, expected):
    model = build_model(genotype(name, network="imagenet"))
    assert abs(count_params(model) - expected) / expected < 0.02


@pytest.mark.parametrize("op", PRIMITIVES)
@pytest.mark.parametrize("stride", [1, 2])
def test_every_primitive_keeps_channels_and_strides(op, stride):
    m = create_op(op, 6, stride)
    x = torch.randn(2, 6, 9, 9, requires_grad=True)
    y = m(x)
    assert y.shape == (2, 6, (9 + stride - 1) // stride, (9 + stride - 1) // stride)
    y.sum().backward()


def test_auxiliary_head_only_in_training():
    model = build_model(genotype("DARTS_V2", channels=8, cells=5, auxiliary=True, in_channels=1))
    x = torch.randn(2, 1, 28, 28)
    logits, aux = model.train()(x)
    assert logits.shape == aux.shape == (2, 10)
    assert model.eval()(x).shape == (2, 10)


def test_drop_path_changes_training_output_only():
    model = build_model(genotype("DARTS_V2", channels=8, cells=3))
    model.drop_path_prob = 0.5
    x = torch.randn(4, 3, 16, 16)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    torch.manual_seed(0)
    a = model(x)
    torch.manual_seed(1)
    assert not torch.allclose(a, model(x))


@pytest.mark.parametrize("stem,size,pool_stride,bn768", [("cifar", 8, 3, True),
                                                         ("imagenet", 7, 2, False)])
def test_auxiliary_head_is_the_published_one(stem, size, pool_stride, bn768):
    # CIFAR: AvgPool(5, stride 3) of the 8x8 map, BN after the 768-channel conv; ImageNet:
    # AvgPool(5, stride 2) of the 7x7 map and no such BN (1,536 parameters fewer).
    import torch.nn as nn

    model = build_model(genotype("DARTS_V2", network=stem, channels=8, auxiliary=True,
                                 num_classes=10))
    head = model.aux_head
    assert head.pool.stride == pool_stride and head.pool.kernel_size == 5
    assert any(isinstance(m, nn.BatchNorm2d) and m.num_features == 768
               for m in head.features) == bn768
    seen = {}

    def record(module, inputs, output):
        seen["shape"] = output.shape[-2:]

    head.pool.register_forward_hook(record)
    c = head.features[0].in_channels
    assert head(torch.randn(2, c, size, size)).shape == (2, 10)
    assert tuple(seen["shape"]) == (2, 2)  # the published pooling ran, not the fallback
