"""The job queue: order, bounds, cancellation, failures, observers, shutdown, accounting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from app.core.job_queue import JobQueue
from app.core.jobs import (
    JobCancelled,
    JobContext,
    JobState,
    OwnerLimitReached,
    QueueClosed,
    QueueFull,
    QueueStats,
)

WAIT = 5.0  # the most any condition below may take to come true


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    q = JobQueue(workers=2, max_waiting=100, max_per_owner=20)
    yield q
    q.shutdown(grace=0.5, timeout=0.5)


class Gate:
    """Work that blocks until the test opens the gate, and says when it has started."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.open = threading.Event()

    def __call__(self, ctx: JobContext) -> str:
        self.started.set()
        while not self.open.wait(0.01):
            ctx.check()
        return "opened"


def wait_for_state(q: JobQueue, job_id: int, *states: JobState) -> JobState:
    """Block on the queue's own notifications (no polling) until the job is in one of `states`."""
    changed = threading.Event()
    info = q.get(job_id)
    assert info is not None
    unsubscribe = q.subscribe(info.owner, changed.set)
    try:
        deadline = time.monotonic() + WAIT
        while (info := q.get(job_id)) is not None and info.state not in states:
            assert changed.wait(max(0.0, deadline - time.monotonic())), f"still {info.state}"
            changed.clear()
        assert info is not None
        return info.state
    finally:
        unsubscribe()


def assert_accounting(stats: QueueStats) -> None:
    total = stats.queued + stats.running + stats.done + stats.failed + stats.cancelled
    assert stats.submitted == total, stats


def test_jobs_run_in_submission_order() -> None:
    q = JobQueue(workers=1).start()
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
    q = JobQueue(workers=1, max_waiting=2, max_per_owner=10).start()
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


def test_owner_bound_rejects_with_its_numbers() -> None:
    q = JobQueue(workers=1, max_waiting=100, max_per_owner=3).start()
    gate = Gate()
    for _ in range(3):
        q.submit("a", "gate", gate)
    with pytest.raises(
        OwnerLimitReached, match=r"^You have 3 jobs waiting, the most one session may have$"
    ):
        q.submit("a", "gate", gate)
    q.submit("b", "gate", gate)  # another owner is not held back
    assert len(q.jobs_of("a")) == 3
    gate.open.set()
    q.shutdown()


def test_cancel_a_queued_job_removes_it_at_once() -> None:
    queue = JobQueue(workers=1).start()
    gate = Gate()
    queue.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    waiting = queue.submit("a", "n", lambda ctx: "never")
    behind = queue.submit("b", "n", lambda ctx: "ran")
    assert queue.get(behind.id).position == 2
    assert queue.cancel(waiting.id)
    assert queue.get(waiting.id).state is JobState.CANCELLED
    assert queue.get(behind.id).position == 1
    assert not queue.cancel(waiting.id)  # already final
    gate.open.set()
    assert wait_for_state(queue, behind.id, JobState.DONE) is JobState.DONE
    assert queue.get(waiting.id).result is None
    queue.shutdown()


def test_cancel_a_running_job_ends_it_within_a_fifth_of_a_second(queue: JobQueue) -> None:
    queue.start()
    started = threading.Event()

    def long_wait(ctx: JobContext) -> None:
        started.set()
        ctx.sleep(60)

    job = queue.submit("a", "wait", long_wait)
    assert started.wait(WAIT)
    t0 = time.monotonic()
    assert queue.cancel(job.id)
    wait_for_state(queue, job.id, JobState.CANCELLED)
    assert time.monotonic() - t0 < 0.2


def test_a_failing_job_fails_and_the_workers_survive(queue: JobQueue) -> None:
    queue.start()

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
    queue.start()
    gates = [Gate() for _ in range(4)]
    mine = [queue.submit("mine", "gate", g) for g in gates[:3]]
    theirs = queue.submit("theirs", "gate", gates[3])
    assert queue.cancel_owner("mine") == 3
    for job in mine:
        wait_for_state(queue, job.id, JobState.CANCELLED)
    assert queue.get(theirs.id).state in (JobState.QUEUED, JobState.RUNNING)
    gates[3].open.set()
    wait_for_state(queue, theirs.id, JobState.DONE)


def test_close_owner_forgets_it_once_its_jobs_end(queue: JobQueue) -> None:
    queue.start()
    calls: list[int] = []
    queue.subscribe("gone", lambda: calls.append(1))
    gate = Gate()
    job = queue.submit("gone", "gate", gate)
    assert gate.started.wait(WAIT)
    queue.submit("gone", "gate", Gate())
    calls.clear()
    assert queue.close_owner("gone") == 2
    assert calls == []  # its listeners were dropped first
    stats_changed = threading.Event()
    queue.subscribe_stats(stats_changed.set)
    deadline = time.monotonic() + WAIT
    while queue.get(job.id) is not None:
        assert stats_changed.wait(max(0.0, deadline - time.monotonic()))
        stats_changed.clear()
    assert queue.jobs_of("gone") == []
    assert_accounting(queue.stats())


def test_progress_and_eta_are_reported() -> None:
    queue = JobQueue(workers=1).start()
    half = threading.Event()
    release = threading.Event()

    def steps(ctx: JobContext) -> None:
        ctx.progress(0.5)
        half.set()
        release.wait(WAIT)

    queue.submit("a", "quick", lambda ctx: None)
    job = queue.submit("a", "steps", steps)
    waiting = queue.submit("a", "steps", lambda ctx: None)
    assert half.wait(WAIT)
    running, queued = queue.get(job.id), queue.get(waiting.id)
    assert running.progress == 0.5 and running.eta is not None
    assert queued.position == 1 and queued.eta is not None
    release.set()
    wait_for_state(queue, waiting.id, JobState.DONE)
    assert queue.get(job.id).progress == 1.0
    queue.shutdown()


def test_observers_hear_of_every_change_and_a_failing_one_does_no_harm(queue: JobQueue) -> None:
    queue.start()
    heard: list[list[JobState]] = []
    heard_done = threading.Event()

    def listener() -> None:
        states = [j.state for j in queue.jobs_of("a")]
        heard.append(states)
        if states == [JobState.DONE]:
            heard_done.set()

    queue.subscribe("a", listener)
    queue.subscribe_stats(lambda: 1 / 0)
    queue.submit("a", "ok", lambda ctx: None)
    # Told after the last change, a listener reads the final state (listeners run outside the
    # lock, on the submitting thread and on the worker, so only the end is certain).
    assert heard_done.wait(WAIT), heard
    assert heard[0] in ([JobState.QUEUED], [JobState.RUNNING], [JobState.DONE])
    assert queue.stats().alive_workers == 2


def test_shutdown_cancels_waiting_jobs_and_does_not_hang() -> None:
    q = JobQueue(workers=1).start()
    started = threading.Event()

    def stubborn(ctx: JobContext) -> None:
        started.set()
        threading.Event().wait(30)  # ignores its cancel token

    running = q.submit("a", "stubborn", stubborn)
    assert started.wait(WAIT)
    waiting = q.submit("a", "n", lambda ctx: None)
    t0 = time.monotonic()
    assert q.shutdown(grace=0.2, timeout=0.2) is False  # the stubborn worker is left behind
    assert time.monotonic() - t0 < 1.0
    assert q.get(waiting.id).state is JobState.CANCELLED
    assert q.get(running.id).state is JobState.RUNNING
    with pytest.raises(QueueClosed):
        q.submit("a", "n", lambda ctx: None)


def test_shutdown_lets_running_jobs_finish_within_the_grace() -> None:
    q = JobQueue(workers=2).start()
    gate = Gate()
    job = q.submit("a", "gate", gate)
    assert gate.started.wait(WAIT)
    threading.Timer(0.05, gate.open.set).start()
    assert q.shutdown(grace=2.0) is True
    assert q.get(job.id).state is JobState.DONE


def test_accounting_holds_under_concurrent_submits_and_cancels() -> None:
    q = JobQueue(workers=2, max_waiting=50, max_per_owner=10).start()
    stop = threading.Event()
    problems: list[QueueStats] = []

    def check() -> None:
        while not stop.is_set():
            stats = q.stats()
            if stats.submitted != (
                stats.queued + stats.running + stats.done + stats.failed + stats.cancelled
            ):
                problems.append(stats)

    def client(n: int) -> None:
        for i in range(40):
            try:
                job = q.submit(f"owner-{n}", "tiny", lambda ctx: ctx.sleep(0.001))
            except (QueueFull, OwnerLimitReached):
                continue
            if i % 3 == 0:
                q.cancel(job.id)
            if i % 10 == 0:
                q.cancel_owner(f"owner-{n}")

    checker = threading.Thread(target=check)
    checker.start()
    clients = [threading.Thread(target=client, args=(n,)) for n in range(8)]
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


def test_two_workers_run_four_short_jobs_in_two_rounds() -> None:
    q = JobQueue(workers=2).start()
    t0 = time.monotonic()
    jobs = [q.submit("a", "wait", lambda ctx: ctx.sleep(0.2)) for _ in range(4)]
    for job in jobs:
        wait_for_state(q, job.id, JobState.DONE)
    elapsed = time.monotonic() - t0
    assert 0.38 <= elapsed < 0.7  # one after another would be 0.8 s
    q.shutdown()


def test_context_check_and_sleep_raise_once_cancelled() -> None:
    cancel = threading.Event()
    ctx = JobContext(cancel, lambda fraction: None)
    ctx.check()
    cancel.set()
    with pytest.raises(JobCancelled):
        ctx.check()
    with pytest.raises(JobCancelled):
        ctx.sleep(10)


def test_a_job_submitted_to_an_idle_pool_is_running_when_submit_returns(queue: JobQueue) -> None:
    queue.start()
    gate = Gate()
    deadline = time.monotonic() + WAIT
    while queue.idle_workers < 2:  # both workers back in their wait: nothing to be told of
        assert time.monotonic() < deadline, "the workers never became idle"
        threading.Event().wait(0.001)
    first = queue.submit("a", "gate", gate)
    second = queue.submit("a", "gate", gate)
    third = queue.submit("a", "gate", gate)
    assert (first.state, first.position) == (JobState.RUNNING, None)
    assert second.state is JobState.RUNNING
    assert (third.state, third.position) == (JobState.QUEUED, 1)
    gate.open.set()
    wait_for_state(queue, third.id, JobState.DONE)


def test_only_the_owner_may_cancel_when_an_owner_is_named(queue: JobQueue) -> None:
    queue.start()
    gate = Gate()
    job = queue.submit("mine", "gate", gate)
    assert not queue.cancel(job.id, owner="someone-else")
    assert queue.get(job.id).state in (JobState.QUEUED, JobState.RUNNING)
    assert queue.cancel(job.id, owner="mine")
    wait_for_state(queue, job.id, JobState.CANCELLED)
