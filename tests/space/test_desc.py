import json
import random

import pytest
import torch

from petri.errors import DescError
from petri.space.build import build_model
from petri.space.desc import CellDesc, EdgeDesc, ModelDesc, NodeDesc, load_desc
from petri.space.genotypes import genotype
from tests.conftest import random_desc


@pytest.mark.parametrize("seed", range(25))
def test_random_descs_round_trip_json_and_yaml(seed):
    desc = random_desc(random.Random(seed))
    assert ModelDesc.from_json(desc.to_json()) == desc
    assert ModelDesc.from_yaml(desc.to_yaml()) == desc
    assert ModelDesc.from_json(desc.to_json()).key() == desc.key()


@pytest.mark.parametrize("seed", range(8))
def test_random_descs_build_and_train_a_step(seed):
    desc = random_desc(random.Random(100 + seed))
    model = build_model(desc)
    x = torch.randn(2, desc.in_channels, 16, 16)
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    assert logits.shape == (2, desc.num_classes)
    logits.sum().backward()
    # Nodes left out of `concat` are legitimately dead; the path stem -> classifier is not.
    assert model.stem[0].weight.grad is not None
    assert model.classifier.weight.grad.abs().sum() > 0


def test_desc_files_load(tmp_path):
    desc = genotype("DARTS_V1", channels=8, cells=5)
    (tmp_path / "a.json").write_text(desc.to_json())
    (tmp_path / "a.yaml").write_text(desc.to_yaml())
    assert load_desc(tmp_path / "a.json") == desc
    assert load_desc(tmp_path / "a.yaml") == desc
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DescError, match=r"bad.json:1:2: .*not valid JSON"):
        load_desc(tmp_path / "bad.json")
    with pytest.raises(DescError, match="does not exist"):
        load_desc(tmp_path / "missing.yaml")
    (tmp_path / "wrong.json").write_text(json.dumps({"normal": 1}))
    with pytest.raises(DescError, match="malformed"):
        load_desc(tmp_path / "wrong.json")


def _desc_with(normal_edges, **kw):
    cell = CellDesc((NodeDesc(tuple(EdgeDesc(*e) for e in normal_edges)),), (2,))
    ok = CellDesc((NodeDesc((EdgeDesc("skip_connect", 0),)),), (2,))
    return ModelDesc(normal=cell, reduce=ok, **kw)


def test_unbuildable_descs_name_cell_node_and_edge():
    with pytest.raises(DescError, match=r"normal cell, node 0, edge 1: unknown op 'conv_7x7'"):
        build_model(_desc_with([("skip_connect", 0), ("conv_7x7", 1)]))
    with pytest.raises(DescError, match=r"normal cell, node 0, edge 0: input 2 is out of range"):
        build_model(_desc_with([("skip_connect", 2)]))
    with pytest.raises(DescError, match="channels must be a positive integer"):
        build_model(_desc_with([("skip_connect", 0)], channels=0))
    with pytest.raises(DescError, match="reduce cell: concat index 1"):
        ModelDesc(normal=genotype("DARTS_V2").normal,
                  reduce=CellDesc((NodeDesc((EdgeDesc("skip_connect", 0),)),), (1, 2))).validate()
    with pytest.raises(DescError, match="imagenet stem needs even channels"):
        build_model(_desc_with([("skip_connect", 0)], channels=7, stem="imagenet"))


def test_reduction_positions_match_darts():
    assert genotype("DARTS_V2").reduction_indices() == [6, 13]
    assert genotype("DARTS_V2", cells=8).reduction_indices() == [2, 5]
    assert genotype("DARTS_V2", network="imagenet").reduction_indices() == [4, 9]
