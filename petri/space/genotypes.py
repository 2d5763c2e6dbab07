"""The published genotypes as data, and the networks they are evaluated in.

Each cell lists (op, input) pairs; consecutive pairs feed one node (DARTS convention).
"""
from __future__ import annotations

from petri.errors import DescError
from petri.space.desc import ModelDesc, cell_from_pairs

_GENOTYPES: dict[str, tuple[list, list]] = {
    "DARTS_V1": (
        [("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
         ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)],
    ),
    "DARTS_V2": (
        [("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
         ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)],
        [("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
         ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)],
    ),
    "PC_DARTS_cifar": (
        [("sep_conv_3x3", 1), ("skip_connect", 0), ("sep_conv_3x3", 0), ("dil_conv_3x3", 1),
         ("sep_conv_5x5", 0), ("sep_conv_3x3", 1), ("avg_pool_3x3", 0), ("dil_conv_3x3", 1)],
        [("sep_conv_5x5", 1), ("max_pool_3x3", 0), ("sep_conv_5x5", 1), ("sep_conv_5x5", 2),
         ("sep_conv_3x3", 0), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("sep_conv_3x3", 2)],
    ),
    "PC_DARTS_image": (
        [("skip_connect", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 0), ("skip_connect", 1),
         ("sep_conv_3x3", 1), ("sep_conv_3x3", 3), ("sep_conv_3x3", 1), ("dil_conv_5x5", 4)],
        [("sep_conv_3x3", 0), ("skip_connect", 1), ("dil_conv_5x5", 2), ("max_pool_3x3", 1),
         ("sep_conv_3x3", 2), ("sep_conv_3x3", 1), ("sep_conv_5x5", 0), ("sep_conv_3x3", 3)],
    ),
}
_ALIASES = {"DARTS": "DARTS_V2", "PCDARTS": "PC_DARTS_cifar", "PC_DARTS": "PC_DARTS_cifar"}

# Macro settings of the published evaluation networks.
EVAL_NETWORKS = {
    "cifar": dict(channels=36, cells=20, reductions=2, stem="cifar", in_channels=3,
                  num_classes=10),
    "imagenet": dict(channels=48, cells=14, reductions=2, stem="imagenet", in_channels=3,
                     num_classes=1000),
}


def list_genotypes() -> list[str]:
    return sorted(_GENOTYPES)


def genotype(name: str, network: str = "cifar", **overrides) -> ModelDesc:
    """The named genotype as a `ModelDesc` of the published evaluation network.

    `overrides` replace macro parameters (channels, cells, num_classes, ...).
    """
    key = _ALIASES.get(name, name)
    if key not in _GENOTYPES:
        raise DescError(f"unknown genotype {name!r}; known: "
                        f"{', '.join(list_genotypes() + sorted(_ALIASES))}")
    if network not in EVAL_NETWORKS:
        raise DescError(f"unknown network {network!r}; choose {', '.join(EVAL_NETWORKS)}")
    normal, reduce = _GENOTYPES[key]
    macro = dict(EVAL_NETWORKS[network])
    macro.update({k: v for k, v in overrides.items() if v is not None})
    return ModelDesc(normal=cell_from_pairs(normal), reduce=cell_from_pairs(reduce), name=key,
                     **macro).validate()


def is_genotype(name: str) -> bool:
    return _ALIASES.get(name, name) in _GENOTYPES
