"""The thread backend: nothing a job raises takes a worker away, and a worker that dies anyway
fails its job, shows as a problem, and is replaced (app/core/backends/threads.py)."""

from __future__ import annotations

import sys
import threading

import pytest
from queue_helpers import WAIT, thread_queue, wait_for_state

from app.core.backends.base import Cancelled, Done, Failed, Outcome
from app.core.backends.threads import ThreadBackend
from app.core.jobs import JobState
from tests.support.waiting import wait_until


class Recorder:
    """JobEvents that remember what the backend said, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.said: list[tuple] = []
        self.outcomes: dict[int, Outcome] = {}
        self.fail_on_started: set[int] = set()

    def started(self, job_id: int, where: str | None) -> None:
        with self.lock:
            self.said.append(("started", job_id, where))
        if job_id in self.fail_on_started:
            raise SystemExit("a fault outside the job's own code")

    def progressed(self, job_id: int, fraction: float) -> None:
        with self.lock:
            self.said.append(("progressed", job_id, fraction))

    def finished(self, job_id: int, outcome: Outcome) -> None:
        with self.lock:
            self.said.append(("finished", job_id))
            self.outcomes[job_id] = outcome

    def room(self) -> None:
        with self.lock:
            self.said.append(("room",))


def exits(ctx) -> None:
    sys.exit(3)


def interrupts(ctx) -> None:
    raise KeyboardInterrupt


class Custom(BaseException):
    pass


def base_exception(ctx) -> None:
    raise Custom("not an Exception")


@pytest.mark.parametrize(
    ("work", "error"),
    [(exits, "SystemExit: 3"), (interrupts, "KeyboardInterrupt: "),
     (base_exception, "Custom: not an Exception")],
)  # fmt: skip
def test_a_job_raising_any_base_exception_fails_and_its_worker_lives(work, error) -> None:
    q = thread_queue(1).start()
    bad = q.submit("a", "bad", work)
    assert wait_for_state(q, bad.id, JobState.FAILED) is JobState.FAILED
    assert q.get(bad.id).error == error
    after = q.submit("a", "ok", lambda ctx: 42)  # the one worker takes the next job
    assert wait_for_state(q, after.id, JobState.DONE) is JobState.DONE
    stats = q.stats()
    assert (stats.alive_workers, stats.problems) == (1, ())
    assert q.shutdown(grace=1, timeout=1)


def test_a_worker_that_dies_fails_its_job_is_reported_and_replaced() -> None:
    backend = ThreadBackend(workers=1, restart_delay=0.2)
    events = Recorder()
    events.fail_on_started.add(1)
    backend.start(events)
    wait_until(backend.free_slots, lambda n: n == 1, WAIT, "the worker waits for work")
    assert backend.run(1, lambda ctx: "never runs")
    outcome = wait_until(lambda: events.outcomes.get(1), timeout=WAIT, what="job 1 ends")
    assert isinstance(outcome, Failed) and "the worker running it died" in outcome.error
    dead = backend.stats()
    assert dead.alive == 0 and dead.problems == (
        "1 of 1 workers died and are being replaced",
    )
    # The replacement tells the queue it has room (a second "room"), and works.
    wait_until(lambda: events.said.count(("room",)), lambda n: n == 2, WAIT, "a replacement")
    assert backend.stats().problems == ()
    wait_until(backend.free_slots, lambda n: n == 1, WAIT, "the new worker waits for work")
    backend.run(2, lambda ctx: "ran")
    assert wait_until(lambda: events.outcomes.get(2), timeout=WAIT) == Done("ran")
    assert backend.stop(timeout=2)


def test_progress_is_reported_and_cancel_stops_a_running_job() -> None:
    backend = ThreadBackend(workers=1)
    events = Recorder()
    backend.start(events)
    wait_until(backend.free_slots, lambda n: n == 1, WAIT)
    reached = threading.Event()

    def steps(ctx) -> None:
        ctx.progress(0.5)
        reached.set()
        ctx.sleep(60)

    backend.run(7, steps)
    assert reached.wait(WAIT)
    backend.cancel(7)
    assert wait_until(lambda: events.outcomes.get(7), timeout=WAIT) == Cancelled()
    assert ("progressed", 7, 0.5) in events.said
    assert backend.stop(timeout=2)


def test_free_slots_count_idle_workers_not_yet_handed_a_job() -> None:
    backend = ThreadBackend(workers=2)
    events = Recorder()
    backend.start(events)
    wait_until(backend.free_slots, lambda n: n == 2, WAIT)
    gate = threading.Event()
    assert backend.run(1, lambda ctx: gate.wait(WAIT)) is True
    assert backend.run(2, lambda ctx: gate.wait(WAIT)) is True
    assert backend.free_slots() == 0
    assert backend.run(3, lambda ctx: None) is False  # no idle worker: it waits its turn
    gate.set()
    wait_until(lambda: len(events.outcomes), lambda n: n == 3, WAIT)
    assert backend.stop(timeout=2)
