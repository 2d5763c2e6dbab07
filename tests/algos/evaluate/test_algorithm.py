"""`eval` as an algorithm: the gallery models it retrains keep their ids."""
from petri.algos.registry import create_algo
from petri.store.store import RunStore
from tests.helpers.algos import FAKE_RUN, as_result, write_tiny_gallery


def test_an_evaluated_model_keeps_its_gallery_id(tmp_path):
    gallery = write_tiny_gallery(tmp_path / "g.h5")
    algo = create_algo({"algo": "eval", "eval": {"gallery": str(gallery), "ids": [2]}})
    store = RunStore.memory()
    store.enqueue(algo.propose(store.view, 2))
    job = store.claim("w", "cpu")
    result = {"val_error": 0.2, "test_error": 0.1, "params": 5, "macs": 6,
              "activation_bytes": 7, "epochs": 1, "checkpoint": "c.pt", "val_loss": 1.0,
              "train_loss": 1.0, "wall_s": 1.0, **FAKE_RUN}
    out = algo.on_result(job, as_result(job, result), store.view)
    assert store.complete(job.id, job.lease, result, out.points, out.jobs)
    assert [(p.id, p.lineage["gallery_id"]) for p in store.view.points()] == [(2, 2)]
