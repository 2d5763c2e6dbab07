"""Petridish growth: stop-forward/stop-gradient, L1 on α, top-k selection, warm start."""
import random

import pytest
import torch
from torch import nn

from petri.algos.petridish.job import search_hooks
from petri.data.config import DataCfg
from petri.data.info import dataset_info
from petri.data.loader import DeviceData, Splits
from petri.space.build import build_model
from petri.space.desc import ModelDesc
from petri.algos.petridish.grow import (NEW, GrowthNet, Pick, grow_desc, parent_state_dict,
                              warm_start)
from petri.train.config import TrainCfg
from petri.train.job import network_hooks
from petri.train.loop import train
from tests.conftest import small_desc


def synthetic_splits(n=256, size=12, seed=0) -> Splits:
    """Learnable 2-class-ish data: the label is which image half is brighter."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 120, (n, 1, size, size), generator=g, dtype=torch.uint8)
    y = torch.randint(0, 10, (n,), generator=g)
    x[y % 2 == 1, :, : size // 2] += 100
    info = dataset_info("fashion-mnist")
    cfg = DataCfg(crop=False, flip=False)
    return Splits(DeviceData(x, y, info, cfg, torch.device("cpu"), True),
                  DeviceData(x[:64], y[:64], info, cfg, torch.device("cpu"), False), None, info)



def trained_parent(desc, splits, steps_epochs=1):
    torch.manual_seed(0)
    model = build_model(desc)
    train(model, splits, TrainCfg(epochs=steps_epochs, batch_size=32, lr=0.05, seed=0),
          model_hooks=network_hooks(model))
    return model


def batch_loss(model, splits) -> float:
    model.eval()
    x, y = next(splits.val.eval_batches(64))
    with torch.no_grad():
        return nn.functional.cross_entropy(model(x), y).item()


@pytest.mark.parametrize("seed", range(4))
def test_candidates_leave_the_parent_function_unchanged_and_get_gradients(seed):
    splits = synthetic_splits()
    parent = build_model(small_desc(seed))
    parent.eval()
    x, y = next(splits.val.eval_batches(32))
    with torch.no_grad():
        before = parent(x).clone()
    search = GrowthNet(parent, grow_existing=True, seed=seed)
    search.train()
    out = search(x)
    assert torch.allclose(out, before, atol=1e-6)  # stop-forward: the sum adds exactly 0
    nn.functional.cross_entropy(out, y).backward()
    assert all(p.grad is None for n, p in parent.named_parameters() if ".grower." not in n)
    assert any(a.grad is not None and a.grad.abs().sum() > 0 for a in search.alphas.values())
    ops = search.param_groups(0)[0]["params"]
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in ops)


def test_parent_stays_frozen_in_eval_mode_while_candidates_train():
    search = GrowthNet(build_model(small_desc(1)))
    search.train()
    assert not search.net.training and not search.net.cells[0].pre0.training
    assert search.net.cells[0].grower.training


@pytest.mark.slow  # trains the candidates for a few hundred steps
def test_l1_on_alpha_is_applied_and_shrinks_alpha():
    splits = synthetic_splits()
    desc = small_desc(2)
    sums = {}
    for l1 in (0.0, 0.05):
        torch.manual_seed(0)
        search = GrowthNet(build_model(desc), l1=l1, seed=0)
        train(search, splits, TrainCfg(epochs=2, batch_size=32, lr=0.05, seed=0),
              model_hooks=search_hooks(search))
        sums[l1] = sum(a.detach().abs().sum().item() for a in search.alphas.values())
    assert sums[0.05] < 0.8 * sums[0.0], sums


def test_select_ranks_by_absolute_alpha_and_never_offers_none():
    search = GrowthNet(build_model(small_desc(3)), grow_existing=True, seed=0)
    with torch.no_grad():
        for a in search.alphas.values():
            a.zero_()
        search.alphas[f"normal_{NEW}"][1, 3] = -0.9  # strongest, and negative
        search.alphas[f"normal_{NEW}"][0, 0] = 0.5
        search.alphas["normal_0"][0, 1] = 0.7
    picks = [p for p in search.select(3) if p.cell == "normal"]
    assert [(p.target, p.input, p.alpha) for p in picks[:3]] == \
        [(NEW, 1, pytest.approx(-0.9)), ("0", 0, pytest.approx(0.7)), (NEW, 0, pytest.approx(0.5))]
    assert all(p.op != "none" for p in search.select(50))
    assert len(search.select(2)) == 4  # k per cell type


def test_grow_desc_adds_a_concatenated_node_and_extra_edges():
    desc = small_desc(4)
    picks = [Pick("normal", NEW, 0, "sep_conv_3x3", 0.3), Pick("normal", NEW, 2, "skip_connect", 0.2),
             Pick("normal", "0", 1, "dil_conv_3x3", 0.1), Pick("reduce", NEW, 1, "max_pool_3x3", 0.4)]
    child = grow_desc(desc, picks)
    n = desc.normal.n_nodes
    assert child.normal.n_nodes == n + 1
    assert [(e.op, e.input) for e in child.normal.nodes[n].edges] == \
        [("sep_conv_3x3", 0), ("skip_connect", 2)]
    assert child.normal.concat[-1] == n + 2
    assert child.normal.nodes[0].edges[-1].op == "dil_conv_3x3"
    assert child.reduce.n_nodes == desc.reduce.n_nodes + 1
    assert ModelDesc.from_json(child.to_json()) == child


@pytest.mark.slow  # trains a search, then evaluates parent and child
@pytest.mark.parametrize("grow_existing,tol", [(False, 1e-5), (True, 0.05)])
@pytest.mark.parametrize("seed", range(3))
def test_child_right_after_growth_is_not_worse_than_its_parent(seed, grow_existing, tol):
    splits = synthetic_splits(seed=seed)
    desc = small_desc(seed, auxiliary=False)
    parent = trained_parent(desc, splits)
    parent_loss = batch_loss(parent, splits)
    parent_size = sum(p.numel() for p in parent.parameters())
    search = GrowthNet(parent, grow_existing=grow_existing, l1=1e-3, seed=seed)
    train(search, splits, TrainCfg(epochs=1, batch_size=32, lr=0.05, seed=1))
    picks = search.select(3)
    child = build_model(grow_desc(desc, picks))
    warm_start(child, parent_state_dict(search), search, picks)
    assert batch_loss(child, splits) <= parent_loss + tol
    assert sum(p.numel() for p in child.parameters()) > parent_size


def test_random_selection_is_uniform_reproducible_and_offers_what_alpha_selection_does():
    search = GrowthNet(build_model(small_desc(3)), grow_existing=True, seed=0)
    picks = search.select_random(2, random.Random(0))
    assert len(picks) == 4 and [p.cell for p in picks] == ["normal"] * 2 + ["reduce"] * 2
    assert picks == search.select_random(2, random.Random(0))
    assert picks != search.select_random(2, random.Random(1))
    normal = search.candidates("normal")
    assert {(p.target, p.input, p.op) for p in search.select(len(normal)) if p.cell == "normal"} \
        == {(p.target, p.input, p.op) for p in normal}  # the same set to choose from
    rng = random.Random(0)
    counts = dict.fromkeys(normal, 0)
    draws = 40 * len(normal)
    for _ in range(draws):
        counts[search.select_random(1, rng)[0]] += 1
    assert min(counts.values()) >= 15 and max(counts.values()) <= 70  # about 40 each
