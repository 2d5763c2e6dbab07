"""An ensemble of a run's frontier models with MOOD's weighting, scored on the test set.

Weights (MOOD `ensemble.py --calculate`): on held-out training images (the run's validation
split), every sample that not all members get right credits +1 to each member that does;
`per_class` keeps one score per member and true class instead, starting at one. Scores are
divided by their maximum over members. Prediction: each member's logits are min-max scaled
per sample to [0, 1], multiplied by its weight, averaged over members; the argmax wins.
The uniform ensemble (all weights one) is reported beside it, so the weighting's gain shows.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from petri.errors import PetriError


def member_logits(model: torch.nn.Module, data, batch_size: int = 500) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x).float() for x, _ in data.eval_batches(batch_size)])


def score_weights(logits: list[torch.Tensor], y: torch.Tensor,
                  per_class: bool = False) -> torch.Tensor:
    """(M,) weights, or (M, classes) with `per_class`, normalised by the max over members."""
    correct = torch.stack([lg.argmax(1) == y for lg in logits]).float()  # M x N
    contested = correct.sum(0) < len(logits)
    if per_class:
        n_classes = logits[0].shape[1]
        onehot = torch.nn.functional.one_hot(y, n_classes).float()
        scores = 1.0 + (correct * contested).matmul(onehot)  # M x classes
    else:
        scores = (correct * contested).sum(1)
    top = scores.amax(0)
    # No contested sample (or a class no member ever wins): nothing to tell members apart.
    return torch.where(top > 0, scores / top.clamp_min(1e-12), torch.ones_like(scores))


def combine(logits: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """Predicted classes of the weighted ensemble."""
    total = 0
    for lg, w in zip(logits, weights):
        lo, hi = lg.amin(1, keepdim=True), lg.amax(1, keepdim=True)
        total = total + (lg - lo) / (hi - lo).clamp_min(1e-12) * w
    return (total / len(logits)).argmax(1)


@dataclass(frozen=True)
class Member:
    id: int
    cost: float
    val_error: float
    test_error: float
    weight: float | list[float]


@dataclass(frozen=True)
class EnsembleResult:
    members: list[Member]
    test_error: float
    uniform_test_error: float
    per_class: bool
    metric: str

    def to_dict(self) -> dict:
        return asdict(self)


def evaluate_run(run_dir: str | Path, eps: float | None = None, metric: str | None = None,
                 per_class: bool = False, device: str = "cpu") -> EnsembleResult:
    """Ensemble the frontier (or the hull's eps band) of `run_dir` and score it on test."""
    from petri.launch import read_run_config
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.gallery import point_weights, selected_points
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc

    run_dir = Path(run_dir)
    chosen, _, metric = selected_points(run_dir, eps, metric)
    data = DataCfg.from_dict(read_run_config(run_dir).get("data"))
    if data.val_size == 0:
        raise PetriError(f"{run_dir} kept no validation split, and ensemble weights are fit "
                         f"on held-out training images; use a run with data.val_size > 0")
    splits = make_splits(data, device, with_test=True)
    val, test = [], []
    for p in chosen:
        model = build_model(ModelDesc.from_dict(p.desc))
        model.load_state_dict(point_weights(run_dir, p))
        model.to(device)
        val.append(member_logits(model, splits.val))
        test.append(member_logits(model, splits.test))
    weights = score_weights(val, splits.val.y, per_class)

    def error(pred: torch.Tensor) -> float:
        return float((pred != splits.test.y).float().mean())

    members = [Member(p.id, p.cost(metric), p.val_error, error(lg.argmax(1)), w.tolist())
               for p, lg, w in zip(chosen, test, weights)]
    return EnsembleResult(members, error(combine(test, weights)),
                          error(combine(test, torch.ones(len(test)))), per_class, metric)
