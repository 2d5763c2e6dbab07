"""What the training loop reports, and when: the daemon kills a job whose reports stop."""
import time

import torch

from petri.data.config import DataCfg
from petri.data.info import DatasetInfo
from petri.data.loader import DeviceData, Splits
from petri.train.config import TrainCfg
from petri.train.loop import train

INFO = DatasetInfo("noise", (1, 4, 4), ("a", "b"), (0.5,), (0.5,), flip=False, crop_pad=0)


def images(n: int, train_set: bool) -> DeviceData:
    g = torch.Generator().manual_seed(n)
    x = torch.randint(0, 256, (n, 1, 4, 4), dtype=torch.uint8, generator=g)
    return DeviceData(x, torch.randint(0, 2, (n,), generator=g), INFO, DataCfg(),
                      torch.device("cpu"), train_set)


class SlowInEval(torch.nn.Module):
    """Evaluation batches that take a while, as a big model's do on a busy CPU."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 2)

    def forward(self, x):
        if not self.training:
            time.sleep(0.05)
        return self.fc(x.flatten(1))


def test_the_first_step_is_reported_busy_and_the_evaluation_batch_by_batch():
    splits = Splits(images(64, True), images(40, False), images(60, False), INFO)
    reports = []
    train(SlowInEval(), splits, TrainCfg(epochs=2, batch_size=16, eval_batch_size=10,
                                         progress_every_s=0.01), on_progress=reports.append,
          with_test=True)
    first, second = reports[:2]
    assert first.phase == "warm-up" and first.busy and first.step == 0
    assert second.phase == "train" and second.step == 1 and not second.busy
    evals = [r for r in reports if r.phase == "eval"]
    # 4 validation and 6 test batches, reported as they go, from 0 to all of them.
    assert [r.step for r in evals] == list(range(11)) and {r.total_steps for r in evals} == {10}
    assert evals[-1].eta_s == 0 and all(not r.busy for r in evals)
