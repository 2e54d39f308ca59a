"""Helpers of the queue's unit tests: work that waits for the test, and waits on the queue's own
notifications (never on the clock)."""

from __future__ import annotations

import threading
import time

from app.core.backends.threads import ThreadBackend
from app.core.job_queue import JobQueue
from app.core.jobs import JobContext, JobState

WAIT = 5.0  # the most any condition below may take to come true


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


def wait_for(q: JobQueue, job_id: int, accept, what: str = "the job", timeout: float = WAIT):
    """Block on the queue's notifications to the job's owner (no polling) until
    `accept(info)`; return that info."""
    changed = threading.Event()
    info = q.get(job_id)
    assert info is not None
    unsubscribe = q.subscribe(info.owner, changed.set)
    try:
        deadline = time.monotonic() + timeout
        while not accept(info := q.get(job_id)):
            left = deadline - time.monotonic()
            assert left > 0 and changed.wait(left), f"{what}: {info}"
            changed.clear()
        return info
    finally:
        unsubscribe()


def wait_for_state(q: JobQueue, job_id: int, *states: JobState) -> JobState:
    """Until the job is in one of `states` (on the queue's own notifications)."""
    info = wait_for(q, job_id, lambda i: i is not None and i.state in states, "its state")
    return info.state


def wait_for_stats(q: JobQueue, accept, what: str = "the stats") -> object:
    """Block on the queue's stats notifications until `accept(q.stats())`."""
    changed = threading.Event()
    unsubscribe = q.subscribe_stats(changed.set)
    try:
        deadline = time.monotonic() + WAIT
        while not accept(stats := q.stats()):
            assert changed.wait(max(0.0, deadline - time.monotonic())), f"{what}: {stats}"
            changed.clear()
        return stats
    finally:
        unsubscribe()


def thread_queue(workers: int = 2, **kwargs) -> JobQueue:
    return JobQueue(ThreadBackend(workers), **kwargs)


