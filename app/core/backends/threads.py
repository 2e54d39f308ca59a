"""The default backend: a fixed pool of worker threads in the server process.

Nothing a job does can take a worker away: whatever the work raises (an exception, `SystemExit`
from a library calling `sys.exit()`, `KeyboardInterrupt`) ends that job as failed with the reason,
and the worker takes the next job. A worker that dies anyway (a fault outside the job's own code)
has its job failed, is counted as dead (the stats' problems, so /health says "degraded"), and is
replaced after `restart_delay` seconds by a timer the pool owns and cancels when it stops.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque

from app.core.backends.base import (
    Backend,
    BackendStats,
    Cancelled,
    Done,
    Failed,
    JobEvents,
    Outcome,
)
from app.core.jobs import JobCancelled, JobContext, Work

log = logging.getLogger(__name__)


class ThreadBackend(Backend):
    """`workers` daemon threads that wait on a condition for work: none polls."""

    name = "threads"
    starts_at_once = True

    def __init__(self, workers: int = 2, restart_delay: float = 1.0) -> None:
        if workers < 1:
            raise ValueError("a thread backend needs at least one worker")
        self.workers = workers
        self.restart_delay = restart_delay
        self._cond = threading.Condition()
        self._handoff: deque[tuple[int, Work]] = deque()
        self._idle = 0  # workers waiting for work
        self._tokens: dict[int, threading.Event] = {}  # cancel tokens of handed-over jobs
        self._threads: dict[int, threading.Thread] = {}  # slot -> its live thread
        self._dead = 0  # slots whose thread died and is not replaced yet
        self._timers: set[threading.Timer] = set()
        self._stopping = False
        self._events: JobEvents | None = None

    # -- the Backend interface ---------------------------------------------------------------
    def start(self, events: JobEvents) -> None:
        with self._cond:
            if self._events is not None:
                return
            self._events = events
            for slot in range(1, self.workers + 1):
                self._spawn(slot)
        log.info("thread backend started: %d workers", self.workers)

    def free_slots(self) -> int:
        with self._cond:
            return max(0, self._idle - len(self._handoff))

    def run(self, job_id: int, work: Work) -> bool:
        with self._cond:
            self._handoff.append((job_id, work))
            self._tokens[job_id] = threading.Event()
            started = self._idle >= len(self._handoff)
            self._cond.notify()
        return started

    def cancel(self, job_id: int) -> None:
        with self._cond:
            token = self._tokens.get(job_id)
        if token is not None:
            token.set()

    def stats(self) -> BackendStats:
        with self._cond:
            alive = sum(t.is_alive() for t in self._threads.values())
            problems = ()
            if self._dead and not self._stopping:
                problems = (
                    f"{self._dead} of {self.workers} workers died and are being replaced",
                )
            return BackendStats(
                workers=self.workers,
                alive=alive,
                busy=min(alive, len(self._tokens)),  # handed a job not yet finished
                problems=problems,
            )

    def stop(self, timeout: float) -> bool:
        with self._cond:
            self._stopping = True
            for token in self._tokens.values():
                token.set()
            for timer in self._timers:
                timer.cancel()
            self._cond.notify_all()
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout / max(1, len(threads)))
        return not any(t.is_alive() for t in threads)

    # -- the workers -------------------------------------------------------------------------
    def _spawn(self, slot: int) -> None:
        """Start the worker of `slot` (lock held)."""
        thread = threading.Thread(
            target=self._work_loop, args=(slot,), name=f"job-worker-{slot}", daemon=True
        )
        self._threads[slot] = thread
        thread.start()

    def _work_loop(self, slot: int) -> None:
        events = self._events
        assert events is not None
        holding: int | None = None  # the job this worker has taken and not yet reported
        with self._cond:
            self._idle += 1
        idle = True
        try:
            events.room()  # a new worker: the queue may hand it a job that waits
            while True:
                with self._cond:
                    while not self._handoff and not self._stopping:
                        self._cond.wait()
                    if not self._handoff:
                        return
                    holding, work = self._handoff.popleft()
                    self._idle -= 1
                    idle = False
                    token = self._tokens[holding]
                events.started(holding, f"pid {os.getpid()}, thread {slot}")
                outcome = _execute(work, token, lambda f, j=holding: events.progressed(j, f))
                with self._cond:
                    self._tokens.pop(holding, None)
                    self._idle += 1
                    idle = True
                job_id, holding = holding, None
                # Idle again first, so that the queue can hand this worker the next job.
                events.finished(job_id, outcome)
        except BaseException as exc:  # a fault outside the job's own code: report and replace
            self._died(slot, holding, f"{type(exc).__name__}: {exc}")
        finally:
            if idle:
                with self._cond:
                    self._idle -= 1

    def _died(self, slot: int, holding: int | None, why: str) -> None:
        log.error("job worker %d died (%s); replacing it in %g s", slot, why, self.restart_delay)
        with self._cond:
            self._threads.pop(slot, None)
            if holding is not None:
                self._tokens.pop(holding, None)
            if self._stopping:
                return
            self._dead += 1
            timer = threading.Timer(self.restart_delay, lambda: self._replace(slot, timer))
            timer.name = f"job-worker-{slot}-restart"
            timer.daemon = True
            self._timers.add(timer)
            timer.start()
        if holding is not None and self._events is not None:
            self._events.finished(holding, Failed(f"the worker running it died ({why})"))

    def _replace(self, slot: int, timer: threading.Timer) -> None:
        with self._cond:
            self._timers.discard(timer)
            if self._stopping:
                return
            self._dead -= 1
            self._spawn(slot)  # it tells the queue it has room
        log.info("job worker %d replaced", slot)


def _execute(work: Work, token: threading.Event, report) -> Outcome:
    """Run one job's work to its outcome; nothing it raises escapes."""
    try:
        result = work(JobContext(token.wait, report))
    except JobCancelled:
        return Cancelled()
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the job fails
        return Failed(f"{type(exc).__name__}: {exc}")
    return Cancelled() if token.is_set() else Done(result)
