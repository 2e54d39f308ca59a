"""The job queue: order, bounds, cancellation, failures, observers, shutdown, accounting.

Every wait below is on the queue's own notifications, with a bound; nothing is asserted about how
long something took, only about states and the order things happened in."""

from __future__ import annotations

import threading

import pytest
from queue_helpers import WAIT, Gate, thread_queue, wait_for_state, wait_for_stats

from app.core.job_queue import JobQueue
from app.core.jobs import (
    JobContext,
    JobState,
    OwnerLimitReached,
    QueueClosed,
    QueueFull,
    QueueStats,
)
from tests.support.waiting import wait_until


def assert_accounting(stats: QueueStats) -> None:
    total = stats.queued + stats.running + stats.done + stats.failed + stats.cancelled
    assert stats.submitted == total, stats


def idle(q: JobQueue, workers: int) -> None:
    """Wait until `workers` workers wait for work (a job submitted then starts at once)."""
    wait_until(q.backend.free_slots, lambda n: n == workers, WAIT, "idle workers")


def test_jobs_run_in_submission_order() -> None:
    q = thread_queue(1).start()
    order: list[int] = []
    gate = Gate()
    first = q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    jobs = [q.submit("a", "n", lambda ctx, n=n: order.append(n)) for n in range(5)]
    assert [q.get(j.id).position for j in jobs] == [1, 2, 3, 4, 5]
    gate.open.set()
    wait_for_state(q, jobs[-1].id, JobState.DONE)
    assert order == [0, 1, 2, 3, 4]
    assert q.get(first.id).result == "opened"
    q.shutdown()


def test_queue_bound_rejects_with_its_numbers_and_enqueues_nothing() -> None:
    q = thread_queue(1, max_waiting=2, max_per_owner=10).start()
    gate = Gate()
    q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    q.submit("b", "n", gate)
    q.submit("c", "n", gate)
    before = q.stats()
    with pytest.raises(QueueFull, match=r"^Queue full: 2 of 2 jobs waiting, try again shortly$"):
        q.submit("d", "n", gate)
    assert q.stats() == before
    assert q.jobs_of("d") == []
    gate.open.set()
    q.shutdown()


def test_owner_bound_counts_running_and_waiting_jobs_and_says_so() -> None:
    q = thread_queue(1, max_waiting=100, max_per_owner=3).start()
    gate = Gate()
    for _ in range(3):
        q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)  # one of the three runs
    with pytest.raises(OwnerLimitReached) as refused:
        q.submit("a", "gate", gate)
    assert str(refused.value) == (
        "You have 3 unfinished jobs (waiting or running), the most one session may have"
    )
    q.submit("b", "gate", gate)  # another owner is not held back
    assert len(q.jobs_of("a")) == 3
    gate.open.set()
    q.shutdown()


def test_cancel_a_queued_job_removes_it_at_once() -> None:
    q = thread_queue(1).start()
    gate = Gate()
    q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    waiting = q.submit("a", "n", lambda ctx: "never")
    behind = q.submit("b", "n", lambda ctx: "ran")
    assert q.get(behind.id).position == 2
    assert q.cancel(waiting.id)
    assert q.get(waiting.id).state is JobState.CANCELLED
    assert q.get(behind.id).position == 1
    assert not q.cancel(waiting.id)  # already final
    gate.open.set()
    assert wait_for_state(q, behind.id, JobState.DONE) is JobState.DONE
    assert q.get(waiting.id).result is None
    q.shutdown()


def test_cancel_a_running_job_stops_it_at_its_next_check(queue: JobQueue) -> None:
    started, finished_work = threading.Event(), threading.Event()

    def long_wait(ctx: JobContext) -> None:
        started.set()
        try:
            ctx.sleep(60)
        finally:
            finished_work.set()

    job = queue.submit("a", "wait", long_wait)
    assert started.wait(WAIT)
    assert queue.cancel(job.id)
    assert wait_for_state(queue, job.id, JobState.CANCELLED) is JobState.CANCELLED
    assert finished_work.is_set()  # the work itself stopped, not only its record


def test_a_failing_job_fails_and_the_workers_survive(queue: JobQueue) -> None:
    def boom(ctx: JobContext) -> None:
        raise ValueError("bad input")

    jobs = []
    for batch in range(5):
        jobs += [queue.submit(f"owner-{batch}", "boom", boom) for _ in range(20)]
    for job in jobs:
        wait_for_state(queue, job.id, JobState.FAILED)
    assert queue.get(jobs[0].id).error == "ValueError: bad input"
    stats = queue.stats()
    assert (stats.failed, stats.alive_workers) == (100, 2)
    after = queue.submit("z", "ok", lambda ctx: 42)
    wait_for_state(queue, after.id, JobState.DONE)
    assert queue.get(after.id).result == 42


def test_cancel_owner_cancels_only_that_owners_jobs(queue: JobQueue) -> None:
    gates = [Gate() for _ in range(4)]
    mine = [queue.submit("mine", "gate", g) for g in gates[:3]]
    theirs = queue.submit("theirs", "gate", gates[3])
    assert queue.cancel_owner("mine") == 3
    for job in mine:
        assert wait_for_state(queue, job.id, JobState.CANCELLED) is JobState.CANCELLED
    assert not queue.get(theirs.id).state.final
    gates[3].open.set()
    assert wait_for_state(queue, theirs.id, JobState.DONE) is JobState.DONE


def test_close_owner_forgets_it_once_its_jobs_end(queue: JobQueue) -> None:
    calls: list[int] = []
    queue.subscribe("gone", lambda: calls.append(1))
    gate = Gate()
    running = queue.submit("gone", "gate", gate)
    assert gate.started.wait(WAIT)
    queue.submit("gone", "gate", Gate())
    calls.clear()
    assert queue.close_owner("gone") == 2
    assert calls == []  # its listeners were dropped first
    wait_for_stats(queue, lambda s: queue.get(running.id) is None, "the owner is forgotten")
    assert queue.jobs_of("gone") == []
    assert_accounting(queue.stats())


def test_a_cancel_reason_reaches_running_and_waiting_jobs() -> None:
    q = thread_queue(1).start()
    gate = Gate()
    running = q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    waiting = q.submit("a", "n", lambda ctx: None)
    assert q.cancel_owner("a", reason="its tab closed") == 2
    for job in (running, waiting):
        wait_for_state(q, job.id, JobState.CANCELLED)
        assert q.get(job.id).reason == "its tab closed"
    q.shutdown()


def test_progress_and_eta_are_reported() -> None:
    q = thread_queue(1).start()
    half, release = threading.Event(), threading.Event()

    def steps(ctx: JobContext) -> None:
        ctx.progress(0.5)
        half.set()
        release.wait(WAIT)

    quick = q.submit("a", "quick", lambda ctx: None)
    wait_for_state(q, quick.id, JobState.DONE)  # gives the queue a duration to estimate by
    job = q.submit("a", "steps", steps)
    waiting = q.submit("a", "steps", lambda ctx: None)
    assert half.wait(WAIT)
    running, queued = q.get(job.id), q.get(waiting.id)
    assert running.progress == 0.5 and running.eta is not None
    assert queued.position == 1 and queued.eta is not None
    release.set()
    wait_for_state(q, waiting.id, JobState.DONE)
    assert q.get(job.id).progress == 1.0
    q.shutdown()


def test_listeners_hear_each_state_and_a_failing_one_does_no_harm(queue: JobQueue) -> None:
    idle(queue, 2)
    heard: list[JobState] = []
    gate = Gate()
    queue.subscribe_stats(lambda: 1 / 0)
    job = queue.submit("a", "gate", gate)
    # Submitted to an idle pool, it is running when submit returns: that is its first state.
    assert job.state is JobState.RUNNING
    queue.subscribe("a", lambda: heard.append(queue.get(job.id).state))
    gate.open.set()
    wait_for_state(queue, job.id, JobState.DONE)
    assert heard[-1] is JobState.DONE and set(heard) <= {JobState.RUNNING, JobState.DONE}
    assert queue.stats().alive_workers == 2


def test_shutdown_gives_every_job_a_final_state_even_a_stubborn_one() -> None:
    q = thread_queue(1).start()
    started, release = threading.Event(), threading.Event()

    def stubborn(ctx: JobContext) -> None:
        started.set()
        release.wait(30)  # ignores its cancel token

    running = q.submit("a", "stubborn", stubborn)
    assert started.wait(WAIT)
    waiting = q.submit("a", "n", lambda ctx: None)
    assert q.shutdown(grace=0.2, timeout=0.2) is False  # the stubborn worker is left behind
    assert (q.get(waiting.id).state, q.get(waiting.id).reason) == (
        JobState.CANCELLED, "the server shut down",
    )  # fmt: skip
    assert (q.get(running.id).state, q.get(running.id).error) == (
        JobState.FAILED, "the server shut down before it ended",
    )  # fmt: skip
    release.set()  # its late outcome does not change the final state it was given
    wait_until(lambda: q.backend.stats().alive, lambda n: n == 0, WAIT, "the worker ends")
    assert q.get(running.id).state is JobState.FAILED
    with pytest.raises(QueueClosed):
        q.submit("a", "n", lambda ctx: None)
    assert_accounting(q.stats())


def test_shutdown_lets_running_jobs_finish_within_the_grace() -> None:
    q = thread_queue(2).start()
    gate = Gate()
    job = q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    threading.Timer(0.05, gate.open.set).start()
    assert q.shutdown(grace=WAIT) is True
    assert q.get(job.id).state is JobState.DONE


def _balanced(stats: QueueStats) -> bool:
    return stats.submitted == (
        stats.queued + stats.running + stats.done + stats.failed + stats.cancelled
    )


def _client(q: JobQueue, n: int) -> None:
    """Forty submits from one owner, cancelling some jobs and, now and then, all of them."""
    for i in range(40):
        try:
            job = q.submit(f"owner-{n}", "tiny", lambda ctx: ctx.sleep(0.001))
        except (QueueFull, OwnerLimitReached):
            continue
        if i % 3 == 0:
            q.cancel(job.id)
        if i % 10 == 0:
            q.cancel_owner(f"owner-{n}")


def test_accounting_holds_under_concurrent_submits_and_cancels() -> None:
    q = thread_queue(2, max_waiting=50, max_per_owner=10).start()
    stop = threading.Event()
    problems: list[QueueStats] = []

    def check() -> None:
        while not stop.is_set():
            stats = q.stats()
            if not _balanced(stats):
                problems.append(stats)

    checker = threading.Thread(target=check)
    checker.start()
    clients = [threading.Thread(target=_client, args=(q, n)) for n in range(8)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(WAIT)
    q.shutdown(grace=WAIT)
    stop.set()
    checker.join(WAIT)
    assert problems == []
    final = q.stats()
    assert_accounting(final)
    assert final.queued == final.running == 0
    assert final.submitted > 0 and final.cancelled > 0


def test_two_workers_run_two_jobs_at_once() -> None:
    q = thread_queue(2).start()
    gates = [Gate() for _ in range(3)]
    jobs = [q.submit("a", "gate", gate) for gate in gates]
    # Both workers took a job before either job was let go; the third waits its turn.
    assert gates[0].started.wait(WAIT) and gates[1].started.wait(WAIT)
    assert q.get(jobs[2].id).state is JobState.QUEUED and not gates[2].started.is_set()
    gates[0].open.set()
    assert gates[2].started.wait(WAIT)
    for gate in gates:
        gate.open.set()
    for job in jobs:
        wait_for_state(q, job.id, JobState.DONE)
    q.shutdown()


def test_a_job_submitted_to_an_idle_pool_is_running_when_submit_returns(queue: JobQueue) -> None:
    idle(queue, 2)
    gate = Gate()
    first = queue.submit("a", "gate", gate)
    second = queue.submit("a", "gate", gate)
    third = queue.submit("a", "gate", gate)
    assert (first.state, first.position) == (JobState.RUNNING, None)
    assert second.state is JobState.RUNNING
    assert (third.state, third.position) == (JobState.QUEUED, 1)
    gate.open.set()
    wait_for_state(queue, third.id, JobState.DONE)


def test_only_the_owner_may_cancel_when_an_owner_is_named(queue: JobQueue) -> None:
    gate = Gate()
    job = queue.submit("mine", "gate", gate)
    assert not queue.cancel(job.id, owner="someone-else")
    assert not queue.get(job.id).state.final
    assert queue.cancel(job.id, owner="mine")
    assert wait_for_state(queue, job.id, JobState.CANCELLED) is JobState.CANCELLED
