"""The RunStore contract (store/store.py's docstring), checked on a file and in memory."""
import dataclasses
import time

import pytest

from petri.errors import StoreError
from petri.store import db
from petri.store.records import JobSpec, PointSpec
from petri.store.store import RunStore


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    s = RunStore.open(tmp_path, create=True) if request.param == "file" else RunStore.memory()
    yield s
    s.close()


def specs(*keys, kind="k", priority=0):
    return [JobSpec(kind, {"key": k}, k, priority) for k in keys]


def test_enqueue_is_idempotent_by_key(store):
    assert store.enqueue(specs("a", "b")) == 2
    assert store.enqueue(specs("b", "c")) == 1
    assert store.view.job_count() == 3


def test_claim_takes_priority_then_id_bumps_lease_and_counts_the_attempt(store):
    store.enqueue(specs("low") + specs("high", priority=5) + specs("low2"))
    first = store.claim("w0", "cpu")
    assert first.key == "high" and first.lease == 1 and first.attempts == 1
    assert store.claim("w1", "cpu").key == "low"
    assert store.claim("w2", "cpu").key == "low2"
    assert store.claim("w3", "cpu") is None and not store.has_ready()


def test_complete_lands_points_and_follow_ups_once_and_fences_stale_leases(store):
    store.enqueue(specs("a"))
    job = store.claim("w", "cpu")
    pts = [PointSpec("a/point", 0.2, macs=5)]
    assert not store.complete(job.id, job.lease + 1, {}, pts, specs("b"))  # stale lease
    assert store.view.points() == [] and store.view.job_count() == 1
    assert store.complete(job.id, job.lease, {"r": 1}, pts, specs("b"))
    assert not store.complete(job.id, job.lease, {"r": 1}, pts, specs("b"))  # repeated
    assert [p.key for p in store.view.points()] == ["a/point"]
    assert store.view.job_count() == 2 and store.get(job.id).state == "done"
    assert store.view.counts() == {"queued": 1, "running": 0, "done": 1, "failed": 0}


def test_a_late_result_of_a_requeued_attempt_is_fenced(store):
    store.enqueue(specs("a"))
    first = store.claim("w0", "cpu")
    assert store.fail(first.id, first.lease, "infra", "lost", backoff_s=0) == "queued"
    second = store.claim("w1", "cpu")
    assert second.lease == first.lease + 1 and second.attempts == 2
    assert not store.complete(first.id, first.lease, {}, [PointSpec("p", 0.5)], [])
    assert store.complete(second.id, second.lease, {}, [PointSpec("p", 0.5)], [])


def test_fail_retries_infra_with_backoff_and_fails_deterministic_at_once(store):
    store.enqueue(specs("a"), max_attempts=2)
    a = store.claim("w", "cpu")
    assert store.fail(a.id, a.lease, "infra", "lost", backoff_s=60) == "queued"
    assert not store.has_ready(time.time()) and store.has_ready(time.time() + 61)
    store.enqueue(specs("b"), max_attempts=2)
    b = store.claim("w", "cpu")
    assert b.key == "b"
    assert store.fail(b.id, b.lease, "deterministic", "bad desc") == "failed"
    assert store.fail(b.id, b.lease, "deterministic", "again") is None  # not running any more


def test_infra_failures_stop_at_max_attempts(store):
    store.enqueue(specs("a"), max_attempts=2)
    for expected in ("queued", "failed"):
        assert store.has_ready(time.time() + 10)
        job = store.claim("w", "cpu") or _claim_after_backoff(store)
        assert store.fail(job.id, job.lease, "infra", "lost", backoff_s=5) == expected
    assert store.get(job.id).attempts == 2 and not store.has_ready(time.time() + 1e6)


def _claim_after_backoff(store):
    # The backoff is the store's clock's business; a test does not sleep through it.
    store.conn.execute("UPDATE jobs SET not_before = 0")
    return store.claim("w", "cpu")


def test_release_requeues_without_spending_the_attempt(store):
    store.enqueue(specs("a"))
    job = store.claim("w", "cpu")
    assert store.release(job.id, job.lease, "stopping")
    again = store.claim("w", "cpu")
    assert again.attempts == 1 and again.lease == 2
    assert not store.release(job.id, job.lease, "stale")  # the old lease is fenced


def test_records_are_frozen_copies(store):
    store.enqueue(specs("a"))
    job = store.claim("w", "cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.state = "done"
    job.spec["key"] = "changed"
    assert store.get(job.id).spec == {"key": "a"}


def test_meta_and_events(store):
    store.set_meta(daemon_state="running", slots=2)
    store.set_meta(daemon_state="stopped")
    assert store.view.meta() == {"daemon_state": "stopped", "slots": "2", "point_ids": "plan"}
    store.log_event("daemon", "hello")
    assert [e["message"] for e in store.view.events()] == ["hello"]


def test_a_failed_write_is_one_store_error_and_lands_nothing(store):
    store.enqueue(specs("a"))
    job = store.claim("w", "cpu")
    bad = [PointSpec("p", 0.1, parent=999_999)]  # violates the points.parent foreign key
    with pytest.raises(StoreError):
        store.complete(job.id, job.lease, {}, bad, specs("follow"))
    assert store.get(job.id).state == "running" and store.view.job_count() == 1
    assert store.view.points() == []


def finish(store, key, points):
    store.enqueue(specs(key))
    job = store.claim("w", "cpu")
    assert store.complete(job.id, job.lease, {}, points, [])


def test_point_ids_follow_ordinals_not_the_order_points_land_in(store):
    finish(store, "c", [PointSpec("c/point", 0.3, ordinal=2)])
    finish(store, "a", [PointSpec("a/point", 0.1, ordinal=0)])
    finish(store, "free", [PointSpec("free/point", 0.4)])  # no ordinal: the next free id
    assert {p.key: p.id for p in store.view.points()} == \
        {"a/point": 1, "c/point": 3, "free/point": 4}


def test_a_repeated_point_is_skipped_and_a_clashing_ordinal_lands_nothing(store):
    finish(store, "a", [PointSpec("a/point", 0.1, ordinal=0)])
    store.enqueue(specs("b"))
    job = store.claim("w", "cpu")
    with pytest.raises(StoreError, match="both claim id 1"):
        store.complete(job.id, job.lease, {}, [PointSpec("a/point", 0.1, ordinal=0),
                                               PointSpec("b/point", 0.2, ordinal=0)], [])
    assert [p.key for p in store.view.points()] == ["a/point"]
    assert store.get(job.id).state == "running"  # the whole write was rolled back


def test_a_run_begun_before_planned_ids_keeps_numbering_points_as_they_land(store):
    finish(store, "old", [PointSpec("old/point", 0.1)])  # id 1, given as it landed
    with db.transaction(store.conn):
        store.conn.execute("DELETE FROM meta WHERE key = 'point_ids'")  # as such a run has
    finish(store, "new", [PointSpec("new/point", 0.2, ordinal=0)])  # would claim id 1
    assert {p.key: p.id for p in store.view.points()} == {"old/point": 1, "new/point": 2}


def failed(store, key, fail_class="deterministic"):
    """A job of `key` that failed at its first attempt."""
    store.enqueue(specs(key), max_attempts=1)
    job = store.claim("w", "cpu")
    assert store.fail(job.id, job.lease, fail_class, f"{key} broke") == "failed"
    return job


def test_retry_puts_failed_jobs_back_with_fresh_attempts(store):
    a, b = failed(store, "a"), failed(store, "b", "infra")
    store.enqueue(specs("c"))
    (again,) = store.retry([a.id])
    assert (again.state, again.attempts, again.error, again.fail_class, again.finished) == \
        ("queued", 0, None, None, None)
    claimed = store.claim("w", "cpu")
    assert claimed.id == a.id and claimed.attempts == 1 and claimed.lease == a.lease + 1
    assert store.complete(claimed.id, claimed.lease, {}, [], [])
    assert [j.id for j in store.retry()] == [b.id]  # every failed one; a is done by now
    assert store.retry() == []
    assert [e["kind"] for e in store.view.events(kind="retry")] == ["retry", "retry"]


def test_retry_of_an_unknown_or_unfailed_job_changes_nothing(store):
    a = failed(store, "a")
    store.enqueue(specs("b"))
    with pytest.raises(StoreError, match="no job 99"):
        store.retry([a.id, 99])
    with pytest.raises(StoreError, match=r"job 2 \(k\) is queued, so it cannot be retried"):
        store.retry([a.id, 2])
    assert store.get(a.id).state == "failed" and store.view.events(kind="retry") == []


def test_cancel_ends_queued_and_running_jobs_and_fences_the_running_result(store):
    store.enqueue(specs("run", priority=1) + specs("wait"))
    running = store.claim("w", "cpu")
    before = store.cancel([2, running.id], "user")
    assert [(j.id, j.state) for j in before] == [(1, "running"), (2, "queued")]
    assert store.view.counts() == {"queued": 0, "running": 0, "done": 0, "failed": 2}
    assert {store.get(i).fail_class for i in (1, 2)} == {"cancelled"}
    # The worker's late result lands nothing, whichever way it reports.
    assert not store.complete(running.id, running.lease, {}, [PointSpec("p", 0.1)], specs("x"))
    assert store.fail(running.id, running.lease, "infra", "lost") is None
    assert not store.release(running.id, running.lease, "stop")
    assert store.view.points() == [] and store.view.job_count() == 2
    assert store.claim("w", "cpu") is None
    # Cancelled is not failed: --failed leaves it; naming it puts it back.
    assert store.retry() == [] and [j.id for j in store.retry([2])] == [2]


def test_cancel_of_an_unknown_or_ended_job_changes_nothing(store):
    a = failed(store, "a")
    store.enqueue(specs("b"))
    for ids, match in (([2, 99], "no job 99"),
                       ([2, a.id], r"job 1 \(k\) is failed, so it cannot be cancelled")):
        with pytest.raises(StoreError, match=match):
            store.cancel(ids, "user")
        assert store.get(2).state == "queued"
    assert store.view.events(kind="cancel") == []
