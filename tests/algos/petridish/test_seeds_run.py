"""A real Petridish run that grows from the gallery a tiny real run exported: the gallery's
models bring their weights (a `seed_import` each, no `seed_train`) and grow."""

import pytest
import yaml

from petri.status import snapshot
from petri.store.gallery import read_models
from petri.store.store import RunStore
from tests.conftest import needs_fashion, run_petri
from tests.helpers.algos import with_sections
from tests.helpers.daemon import TINY_PETRIDISH, wait_done

pytestmark = pytest.mark.slow  # two real daemons and searches


def start(tmp_path, name, config):
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(yaml.safe_dump(config))
    res = run_petri("start", cfg, "--run-dir", tmp_path / name, timeout=60)
    assert res.returncode == 0, res.stderr
    return tmp_path / name


@needs_fashion
def test_a_run_grows_from_the_gallery_of_another_without_training_its_seeds(tmp_path):
    first = start(tmp_path, "first", with_sections(TINY_PETRIDISH, petridish={"max_points": 4}))
    wait_done(first, timeout=300)
    gallery = tmp_path / "gallery.h5"
    assert run_petri("export", first, "-o", gallery).returncode == 0
    models = read_models(gallery)
    grown = start(tmp_path, "grown", with_sections(TINY_PETRIDISH, petridish={
        "seeds_from": [str(gallery)], "enumerate_seeds": False,
        "max_points": len(models) + 2}))
    snap = wait_done(grown, timeout=300)
    assert snap["jobs"]["failed"] == 0, snap["failures"]
    with RunStore.open(grown, readonly=True) as store:
        kinds = [j.kind for j in store.view.jobs()]
        points = store.view.points()
    assert "seed_train" not in kinds and kinds.count("seed_import") == len(models)
    seeds = [p for p in points if p.stage == "seed"]
    assert sorted((p.val_error, p.params) for p in seeds) == \
        sorted((m.val_error, m.params) for m in models)
    assert sum(p.stage == "grown" for p in points) == 2
    assert all(p.parent in {s.id for s in seeds} | {q.id for q in points}
               for p in points if p.stage == "grown")
