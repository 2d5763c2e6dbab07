"""Drive an algorithm the way the daemon does, against a real store, with made-up results."""
import random

from petri.store.store import RunStore
from tests.conftest import as_result


def drive(run_dir, algo, fake_result, slots=2, order_seed=0, result_seed=0, limit=200):
    """Finish jobs in a shuffled order; `fake_result(job, rng)` stands in for the worker."""
    store = RunStore.open(run_dir, create=True)
    view = store.view
    order = random.Random(order_seed)
    running = []
    for _ in range(limit):
        if not view.counts()["queued"]:
            store.enqueue(algo.propose(view, slots - len(running)))
        while len(running) < slots:
            job = store.claim("w", "cpu")
            if job is None:
                break
            running.append(job)
        if not running:
            break
        job = running.pop(order.randrange(len(running)))
        # A result depends only on the job (its key), never on the order jobs finish in.
        result = fake_result(job, random.Random(f"{result_seed}/{job.key}"))
        out = algo.on_result(job, as_result(job, result), view)
        store.complete(job.id, job.lease, result, out.points, out.jobs, 3)
    assert algo.is_done(view)
    return store, view, algo
