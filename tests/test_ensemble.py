"""MOOD's ensemble weighting and combination, on hand-made logits."""
import torch

from petri.ensemble import combine, score_weights


def logits_for(preds, n_classes=3):
    """Logits whose argmax is `preds` (the winner 2.0, the rest 0.0)."""
    return torch.nn.functional.one_hot(torch.tensor(preds), n_classes).float() * 2.0


def test_contested_samples_credit_the_members_that_get_them_right():
    y = torch.tensor([0, 1, 2, 0])
    a = logits_for([0, 1, 2, 1])  # right on 0, 1, 2
    b = logits_for([0, 0, 2, 0])  # right on 0, 2, 3
    c = logits_for([0, 0, 0, 0])  # right on 0, 3
    # Sample 0 is right for all: no credit. Sample 1: a. Sample 2: a, b. Sample 3: b, c.
    w = score_weights([a, b, c], y)
    assert w.tolist() == [1.0, 1.0, 0.5]


def test_per_class_scores_start_at_one_and_credit_the_true_class():
    y = torch.tensor([0, 1, 2, 0])
    a, b = logits_for([0, 1, 2, 1]), logits_for([0, 0, 2, 0])
    w = score_weights([a, b], y, per_class=True)
    # raw: a = 1 + [0, 1, 0] (sample 1), b = 1 + [1, 0, 0] (sample 3); sample 2 uncontested
    assert w.tolist() == [[0.5, 1.0, 1.0], [1.0, 0.5, 1.0]]


def test_no_contested_sample_gives_uniform_weights():
    y = torch.tensor([0, 1])
    a = logits_for([0, 1])
    assert score_weights([a, a.clone()], y).tolist() == [1.0, 1.0]


def test_combine_scales_logits_per_sample_before_weighting():
    # Member a is confident in class 0 with huge logits, b mildly prefers class 1: min-max
    # scaling puts both on [0, 1], so the weights, not the logit scale, decide.
    a = torch.tensor([[100.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.5]])
    assert combine([a, b], torch.tensor([1.0, 1.0])).tolist() == [0]  # tie 1 vs 1: first max
    assert combine([a, b], torch.tensor([0.5, 1.0])).tolist() == [1]
    per_class = torch.tensor([[0.2, 1.0, 1.0], [1.0, 1.0, 1.0]])
    assert combine([a, b], per_class).tolist() == [1]
