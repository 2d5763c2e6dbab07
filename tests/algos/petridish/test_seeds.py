"""`petridish.seeds_from`: seeds from galleries, desc files and genotypes, with made-up
results against a real store, on real HDF5 galleries."""
import json

import pytest
import yaml

from petri.algos.petridish.algorithm import Petridish
from petri.algos.petridish.seeds import SeedImportSpec, imported, run as import_seed
from petri.data.config import DataCfg
from petri.errors import ConfigError
from petri.job import JobContext
from petri.launch import check, load_config
from petri.store.gallery import GalleryModel, write_gallery
from petri.train import checkpoint
from tests.helpers.algos import darts_desc, drive, fake_result, tiny_config, with_sections

RUN_DATA = DataCfg.from_dict({"dataset": "fashion-mnist"}).to_dict()


def gallery(path, data=RUN_DATA, n=2):
    """A real gallery of `n` small models with weights, trained on `data`."""
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc

    models = []
    for i in range(1, n + 1):
        desc = darts_desc(i)
        weights = {k: v.numpy() for k, v in
                   build_model(ModelDesc.from_dict(desc)).state_dict().items()}
        models.append(GalleryModel(
            id=i, key=f"p{i}", desc=desc, val_error=0.1 * i, params=100 * i, macs=1000 * i,
            activation_bytes=10, parent=None, stage="seed", lineage={}, trainer={},
            data=data, weights=weights))
    write_gallery(path, models, {})
    return str(path)


def fake(job, rng) -> dict:
    """A worker's result; an import's is the gallery's figures, as the real job reports."""
    if job.kind == "seed_import":
        return imported(SeedImportSpec.from_dict(job.spec), f"jobs/{job.id}/ckpt.pt").to_dict()
    return fake_result(job, rng)


def cfg(*sources, enumerate_seeds=True):
    return with_sections(tiny_config("petridish"), petridish={
        "seeds_from": list(sources), "enumerate_seeds": enumerate_seeds})


def seed_jobs(config):
    keys = {}
    store, view, _ = drive(config, fake)
    for job in view.jobs():
        if job.key.startswith("seed/"):
            keys[job.key] = job.kind
    points = sorted((p.id, p.key, p.parent, p.val_error) for p in view.points())
    store.close()
    return keys, points


def test_a_same_data_gallery_brings_its_weights_and_other_seeds_train(tmp_path):
    desc = tmp_path / "net.json"
    desc.write_text(json.dumps(darts_desc(3)))
    keys, points = seed_jobs(cfg(gallery(tmp_path / "g.h5"), str(desc), "DARTS_V2"))
    assert keys == {"seed/r1c3n1": "seed_train", "seed/r1c4n1": "seed_train",
                    "seed/from0-g1": "seed_import", "seed/from0-g2": "seed_import",
                    "seed/from1-net": "seed_train", "seed/from2-DARTS_V2": "seed_train"}
    # The imported seeds' points carry the gallery's figures, in plan order.
    assert [p[3] for p in points[2:4]] == [0.1, 0.2]
    assert len(points) == 8


def test_a_gallery_of_other_data_trains_its_models_scaled_to_the_run(tmp_path):
    other = {**RUN_DATA, "split_seed": 5}
    algo = Petridish(cfg(gallery(tmp_path / "g.h5", data=other) + ":2",
                         enumerate_seeds=False))
    assert list(algo.seeds) == ["from0-g2"] and not algo.imports
    cifar = with_sections(cfg(gallery(tmp_path / "c.h5", data=other) + ":1",
                              enumerate_seeds=False), data={"dataset": "cifar10"})
    desc = Petridish(cifar).seeds["from0-g1"]
    assert (desc.in_channels, desc.num_classes, desc.channels) == (3, 10, 4)


def test_desc_files_and_genotypes_take_the_run_channels(tmp_path):
    algo = Petridish(cfg("DARTS_V2", enumerate_seeds=False))
    desc = algo.seeds["from0-DARTS_V2"]
    assert (desc.in_channels, desc.channels, desc.cells) == (1, 4, 20)


@pytest.mark.parametrize("source, words", [
    ("missing.json", "does not exist"),
    ("NO_SUCH_GENOTYPE", "neither a file nor a known genotype"),
    ("missing.h5", "does not exist"),
])
def test_bad_sources_are_one_line_at_config_time(tmp_path, source, words):
    with pytest.raises(ConfigError) as info:
        Petridish(cfg(str(tmp_path / source) if "." in source else source))
    assert words in str(info.value) and "\n" not in str(info.value)
    assert "seeds_from[0]" in str(info.value)


def test_a_gallery_id_not_in_the_gallery_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="has no model '7'"):
        Petridish(cfg(gallery(tmp_path / "g.h5") + ":7"))


def test_no_seed_at_all_is_refused():
    with pytest.raises(ConfigError, match="seeds_from is empty"):
        Petridish(cfg(enumerate_seeds=False))


def test_seeds_from_keeps_the_contract(tmp_path):
    config = cfg(gallery(tmp_path / "g.h5"), "DARTS_V2")
    _, whole = seed_jobs(config)
    for kw in ({"slots": 3, "order_seed": 1}, {"restart_at": 3}, {"restart_at": 6}):
        store, view, _ = drive(config, fake, **kw)
        assert sorted((p.id, p.key, p.parent, p.val_error) for p in view.points()) == whole
        store.close()
    planned = {}
    store, view, algo = drive(config, fake, on_claim=lambda algo, job: planned.setdefault(
        job.key, algo.point_ordinal(job)))
    for p in view.points():
        assert planned[p.key.removesuffix("/point")] == p.id - 1
    assert len(view.points()) == algo.planned_points()
    store.close()


def test_the_import_job_writes_the_gallery_weights_as_the_checkpoint(tmp_path):
    path = gallery(tmp_path / "g.h5", n=1)
    algo = Petridish(cfg(path, enumerate_seeds=False))
    spec = SeedImportSpec.from_dict(algo.imports["from0-g1"].to_dict())
    job_dir = tmp_path / "run" / "jobs" / "000001"
    job_dir.mkdir(parents=True)
    result = import_seed(spec, JobContext(job_id=1, lease=1, job_dir=job_dir, device="cpu",
                                          progress_every_s=1.0))
    assert (result.val_error, result.epochs, result.params) == (0.1, 0, 100)
    state = checkpoint.load(tmp_path / "run" / result.checkpoint)
    from petri.space.build import build_model
    from petri.space.desc import ModelDesc
    build_model(ModelDesc.from_dict(spec.desc)).load_state_dict(state["model"])


def test_a_gallery_whose_models_cannot_be_built_is_refused(tmp_path):
    path = tmp_path / "bad.h5"
    desc = {**darts_desc(1), "stem": "no_such_stem"}
    write_gallery(path, [GalleryModel(
        id=1, key="p1", desc=desc, val_error=0.3, params=1, macs=1, activation_bytes=1,
        parent=None, stage="seed", lineage={}, trainer={}, data=RUN_DATA)], {})
    with pytest.raises(ConfigError, match="model 1 has a desc petri cannot build"):
        Petridish(cfg(str(path)))


def test_seed_files_named_relative_to_here_are_saved_absolute(tmp_path, monkeypatch):
    # The daemon builds the search in the run dir: a relative name would not be found there.
    (tmp_path / "net.json").write_text(json.dumps(darts_desc(3)))
    gallery(tmp_path / "g.h5")
    config = tmp_path / "grow.yaml"
    config.write_text(yaml.safe_dump(cfg("net.json", "DARTS_V2", "g.h5:1")))
    monkeypatch.chdir(tmp_path)
    seeds = load_config(config)["petridish"]["seeds_from"]
    assert seeds == [str(tmp_path / "net.json"), "DARTS_V2", f"{tmp_path / 'g.h5'}:1"]
    monkeypatch.chdir(tmp_path.parent)  # as the daemon does, from elsewhere
    assert check(cfg(*seeds)) is not None
