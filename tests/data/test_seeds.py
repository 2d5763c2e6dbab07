"""One per-step seed for the loader and the trainer: the batches of every seed runs used before
stay the same, and a seed of any width now works."""
import torch

from petri.data.config import DataCfg
from petri.data.info import DatasetInfo
from petri.data.loader import DeviceData, step_seed

INFO = DatasetInfo("noise", (1, 6, 6), ("a", "b"), (0.5,), (0.5,), flip=True, crop_pad=1)


def images(n: int = 40) -> DeviceData:
    g = torch.Generator().manual_seed(n)
    x = torch.randint(0, 256, (n, 1, 6, 6), dtype=torch.uint8, generator=g)
    return DeviceData(x, torch.randint(0, 2, (n,), generator=g), INFO, DataCfg(cutout=2),
                      torch.device("cpu"), train=True)


def test_an_epochs_order_is_drawn_as_before():
    # Each epoch's batch order was seeded with step -1 as a negative number, which torch
    # turns into its two's complement: the wrapped seed must draw the same permutation.
    before = torch.randperm(40, generator=torch.Generator().manual_seed(
        (3 * 1_000_003 + 2) * 1_000_003 - 1))
    after = torch.randperm(40, generator=torch.Generator().manual_seed(step_seed(3, 2, -1)))
    assert torch.equal(before, after)
    assert step_seed(0, 0, -1) == 2 ** 64 - 1


def test_job_seeds_keep_their_step_seeds():
    # Job seeds are below 2**23; their step seeds were never wrapped, by the loader or by
    # the trainer (which took them modulo 2**63).
    seed = 2 ** 23 - 1
    raw = (seed * 1_000_003 + 10_000) * 1_000_003 + 100_000
    assert raw < 2 ** 63 and step_seed(seed, 10_000, 100_000) == raw


def test_a_seed_of_any_width_gives_batches():
    data = images()
    for seed in (0, 2 ** 24 + 1, 2 ** 63 - 1, 2 ** 200):
        x, y = data.batch(seed, 1, 2, 8)
        again, _ = data.batch(seed, 1, 2, 8)
        assert x.shape == (8, 1, 6, 6) and torch.equal(x, again)
        torch.manual_seed(step_seed(seed, 1, 2))  # what the trainer seeds drop-path with
    assert not torch.equal(data.batch(2 ** 24 + 1, 0, 0, 8)[0], data.batch(2 ** 24, 0, 0, 8)[0])
