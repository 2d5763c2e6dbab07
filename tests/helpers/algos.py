"""Drive an algorithm the way the daemon does, against a real store, with stand-in results.

A stand-in result is made per job kind, as an instance of the result class the kind's job
function returns (`JobKind.result`), so a new algorithm whose jobs are of known kinds is
driven for free. It depends only on the job (its key and spec), never on the order jobs
finish in.
"""
import copy
import math
import random
from pathlib import Path

import yaml

from petri.algos.darts.algorithm import DartsSearchResult
from petri.algos.petridish.job import SearchResult
from petri.algos.random.job import RandomTrainResult, RandomTrainSpec, draw
from petri.algos.registry import algo_info, create_algo, job_kind
from petri.algos.smoke.job import SleepTrainResult
from petri.store.store import RunStore
from petri.train.job import TrainJobResult

# The fields of a made-up training result that no algorithm reads.
FAKE_RUN = {"steps": 10, "images_per_s": 100.0, "batch_size": 64}


def tiny_config(name: str) -> dict:
    """The tiny config algorithm `name` ships for its tests (`AlgoInfo.test_config`)."""
    return yaml.safe_load(algo_info(name).test_config_path().read_text())


def with_sections(config: dict, **sections) -> dict:
    """`config` with each section's settings updated (a non-dict value replaces it)."""
    c = copy.deepcopy(config)
    for k, v in sections.items():
        c[k] = {**c.get(k, {}), **v} if isinstance(v, dict) else v
    return c


def fake_train(job, rng) -> TrainJobResult:
    return TrainJobResult(
        val_error=round(rng.uniform(0.1, 0.5), 4), params=rng.randint(100, 10000),
        macs=rng.randint(10_000, 1_000_000), activation_bytes=1000,
        epochs=job.spec["trainer"]["epochs"], checkpoint=f"jobs/{job.id}/ckpt.pt", wall_s=2.0,
        val_loss=1.0, train_loss=1.0, test_error=None, **FAKE_RUN)


def fake_random_train(job, rng) -> RandomTrainResult:
    spec = RandomTrainSpec.from_dict(job.spec)
    desc = draw(spec.sampler, spec.index, 1, 10, (1, 28, 28))
    return RandomTrainResult(**fake_train(job, rng).to_dict(), desc=desc.to_dict())


def fake_search(job, rng) -> SearchResult:
    """A Petridish search: the child is its parent with one pick."""
    return SearchResult(child_desc=job.spec["parent_desc"], init=f"jobs/{job.id}/init.pt",
                        picks=[{"op": "skip_connect", "input": 1}], epochs=1, wall_s=1.0,
                        params=1, macs=1, activation_bytes=1, **FAKE_RUN)


def darts_objectives(nu: float) -> tuple[float, float]:
    """A convex trade-off: more regularisation, smaller weights, higher loss."""
    return 1000.0 * (1 - nu) ** 6 + 50.0, 0.3 + 2.0 * math.sqrt(nu)


def darts_desc(op_index: int) -> dict:
    """A small genotype whose first edge is op `op_index` (of the primitives but none)."""
    from petri.space.desc import PRIMITIVES
    from petri.space.genotypes import genotype

    d = genotype("DARTS_V2", channels=4, cells=3, in_channels=1).to_dict()
    d["normal"]["nodes"][0]["edges"][0]["op"] = PRIMITIVES[1 + op_index % 7]
    return d


def fake_darts_search(job, rng) -> DartsSearchResult:
    """A supernet search: its genotype and objectives follow its regularisation weight."""
    nu = job.spec["regulariser"]["nu"]
    reg, ce = darts_objectives(nu)
    return DartsSearchResult(
        desc=darts_desc(int(nu * 1e4)), val_error=0.5, val_loss=ce, reg=reg, epochs=1,
        wall_s=1.0, train_loss=1.0, reg_kind="l1", nu=nu, alphas={}, arch_steps=10,
        form="eager", checkpoint="ckpt.pt", **FAKE_RUN)


def fake_sleep_train(job, rng) -> SleepTrainResult:
    return SleepTrainResult(val_error=round(rng.uniform(0.1, 0.5), 4), macs=1000, params=10,
                            steps=job.spec["steps"])


# One stand-in per result class, so per job kind: `train`, `seed_train`, `post_train` and
# `eval_train` all return a TrainJobResult.
FAKES = {TrainJobResult: fake_train, RandomTrainResult: fake_random_train,
         SearchResult: fake_search, DartsSearchResult: fake_darts_search,
         SleepTrainResult: fake_sleep_train}


def fake_result(job, rng) -> dict:
    """What a worker would return for `job`, as the JSON the store keeps."""
    return FAKES[job_kind(job.kind).result](job, rng).to_dict()


def as_result(job, result: dict):
    """A made-up result of `job`, as the daemon hands it to `on_result`: its kind's class."""
    return job_kind(job.kind).read_result(result)


def drive(config: dict, fake=fake_result, run_dir: Path | None = None, slots=2, order_seed=0,
          restart_at=None, limit=300, on_claim=lambda algo, job: None, then=None,
          algo=None):
    """Finish jobs in a shuffled order, as the daemon would, in a store file in `run_dir` (in
    memory without one); `fake(job, rng)` stands in for the worker. At step `restart_at` throw
    the algorithm away, put running jobs back, and build a new one from the config (a
    restart). `on_claim(algo, job)` sees each job as a worker would be given it. Once the
    search is done, `then` (an extended config) makes it go on, as `petri resume --set` does.
    `algo`: an algorithm already built from `config` (one a test watches). Returns the store,
    its view and the algorithm, done."""
    store = RunStore.open(run_dir, create=True) if run_dir else RunStore.memory()
    algo = algo or create_algo(config)
    order = random.Random(order_seed)
    running = []
    for step in range(limit):
        if step == restart_at:
            for job in running:
                store.release(job.id, job.lease, "restart")
            running, algo = [], create_algo(config)
        if not store.view.counts()["queued"]:
            store.enqueue(algo.propose(store.view, slots - len(running)))
        while len(running) < slots and (job := store.claim("w", "cpu")) is not None:
            on_claim(algo, job)
            running.append(job)
        if not running:
            if then is None:
                break
            assert algo.is_done(store.view), "the run to extend never finished"
            config, then = then, None
            algo = create_algo(config)
            continue
        job = running.pop(order.randrange(len(running)))
        result = fake(job, random.Random(job.key))
        out = algo.on_result(job, as_result(job, result), store.view)
        assert store.complete(job.id, job.lease, result, out.points, out.jobs)
    assert algo.is_done(store.view), "the algorithm never finished"
    return store, store.view, algo


def assert_planned_totals_kept(config: dict) -> None:
    """A config whose algorithm plans its total makes exactly that many points, in that many
    jobs (`status` shows "13 of 20 points" and an ETA from them)."""
    keys = set()
    store, view, algo = drive(config, on_claim=lambda algo, job: keys.add(job.key))
    assert len(view.points()) == algo.planned_points()
    assert len(keys) == algo.planned_jobs()
    store.close()


def write_tiny_gallery(path: Path, n: int = 3) -> Path:
    """A gallery of `n` small models (descs and costs, no weights) for `eval` to plan over."""
    from petri.store.gallery import GalleryModel, write_gallery

    models = [GalleryModel(id=i, key=f"p{i}", desc=darts_desc(i), val_error=0.3,
                           params=100 * i, macs=1000 * i, activation_bytes=10, parent=None,
                           stage="seed", lineage={}, trainer={},
                           data={"dataset": "fashion-mnist"}) for i in range(1, n + 1)]
    write_gallery(path, models, {})
    return path
