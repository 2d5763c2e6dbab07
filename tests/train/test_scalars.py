"""Per-job TensorBoard scalars: written into the job dir when tensorboard is installed, and
skipped (said once) when it is not."""
import sys

from petri.job import JobContext
from petri.train import scalars


def fit_tiny(job_dir):
    from petri.data.config import DataCfg
    from petri.data.loader import make_splits
    from petri.space.build import build_model
    from petri.space.genotypes import genotype
    from petri.train.config import TrainCfg
    from petri.train.job import fit

    splits = make_splits(DataCfg(subset=128, val_subset=32))
    # A report at every step's check: progress_every_s is far below a step's time.
    cfg = TrainCfg(epochs=2, batch_size=32, progress_every_s=1e-6)
    desc = genotype("DARTS_V2", channels=4, cells=1, reductions=0, in_channels=1)
    ctx = JobContext(job_id=1, lease=1, job_dir=job_dir, device="cpu", progress_every_s=1.0)
    return fit(lambda: build_model(desc), splits, cfg, ctx)[1]


def test_loss_images_per_s_and_validation_error_land_in_an_event_file(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = fit_tiny(tmp_path)
    assert list(tmp_path.glob("events.out.tfevents.*")), "no event file in the job dir"
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/images_per_s", "val/error", "val/loss"} <= tags
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == sorted({e.step for e in loss}) and loss[-1].step == 8
    assert events.Scalars("val/error")[-1].value == result.val_error
    assert all(e.value > 0 for e in events.Scalars("train/images_per_s"))


def test_without_tensorboard_nothing_is_written_and_the_log_says_so_once(tmp_path, monkeypatch,
                                                                           capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    monkeypatch.setattr(scalars, "_said_missing", False)
    for job in ("a", "b"):
        with scalars.scalar_log(tmp_path / job) as scalar:
            scalar("train/loss", 1.0, 1)
    assert not list(tmp_path.rglob("events.out.tfevents.*"))
    assert capsys.readouterr().err.count("tensorboard is not installed") == 1


def test_tensorboard_lists_a_job_by_the_point_it_makes_and_its_kind(tmp_path):
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    from petri.rundir import RunDir, tensorboard_name

    rd = RunDir(tmp_path)
    for job_id, kind, point in ((7, "search", 15), (9, "post_train", 15), (3, "darts_search",
                                                                           None)):
        with scalars.scalar_log(rd.job(job_id)) as scalar:
            scalar("val/error", 0.25, 10)
        rd.link_tensorboard(job_id, tensorboard_name(job_id, kind, point))
    rd.link_tensorboard(9, tensorboard_name(9, "post_train", 15))  # a retry changes nothing
    mux = EventMultiplexer().AddRunsFromDirectory(str(rd.tensorboard))
    mux.Reload()
    assert sorted(mux.Runs()) == ["job3-darts_search", "p15-post_train", "p15-search"]
    assert mux.Scalars("p15-post_train", "val/error")[0].value == 0.25
    assert (rd.tensorboard / "p15-post_train").resolve() == rd.job(9).resolve()
