"""A bounded job queue shared by every session of a server process.

The queue owns who submitted what (owners, i.e. sessions), the order jobs wait in, the bounds,
each owner's recent history, the listeners and the ETA. A backend (app/core/backends/) runs the
jobs: it is handed a job when it has room and reports back through `JobEvents`, which the queue
implements. Work is cooperative: it receives a `JobContext` through which it reports progress
and learns of cancellation.

Observers subscribe through app/core/listeners.py: told *that* something changed, they read a
fresh snapshot when they render.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

from app.core.backends.base import Backend
from app.core.eta import Durations, eta
from app.core.history import History
from app.core.jobs import (
    Cancelled,
    Done,
    Failed,
    Job,
    JobInfo,
    JobState,
    Outcome,
    QueueClosed,
    QueueStats,
    Work,
)
from app.core.listeners import Listener, Listeners
from app.core.waiting_line import WaitingLine

log = logging.getLogger(__name__)

SHUTDOWN_REASON = "the server shut down"


class JobQueue:
    """One process-wide queue of jobs, run by `backend`, in submission order.

    Bounds: at most `max_waiting` jobs wait in all, and one owner has at most `max_per_owner`
    unfinished (queued or running) jobs. The queue keeps each owner's last `keep_finished`
    finished jobs for display, and forgets an owner entirely on `close_owner`. `tag` turns an
    owner into what the log shows of it (a session id must not appear in the log).
    """

    def __init__(
        self, backend: Backend, max_waiting: int = 100, max_per_owner: int = 20,
        keep_finished: int = 20, progress_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic, tag: Callable[[str], str] = str,
    ) -> None:  # fmt: skip
        self.backend = backend
        self.progress_interval = progress_interval
        self.clock = clock
        self.tag = tag  # what the log shows of an owner
        self._cond = threading.Condition()
        self._line = WaitingLine(max_waiting, max_per_owner)  # not yet handed to the backend
        self._jobs = History(keep_finished)
        self._ids = itertools.count(1)
        self._closed = False
        self._started = False
        self._durations = Durations()
        self._told_progress: dict[int, float] = {}
        self._cancel_reasons: dict[int, str] = {}  # why a handed-over job is being cancelled
        self._listeners = Listeners()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> JobQueue:
        """Start the backend (once)."""
        with self._cond:
            if self._closed:
                raise QueueClosed
            if self._started:
                return self
            self._started = True
        self.backend.start(self)
        log.info("job queue started on %s: %d may wait", self.backend.name, self._line.max_waiting)
        return self

    def shutdown(self, grace: float = 2.0, timeout: float = 1.0) -> bool:
        """Stop accepting; cancel waiting jobs; give running ones `grace` seconds, then cancel
        them and wait `timeout` more; any still unfinished then ends failed, so that every job
        has its final state. Returns whether the backend stopped cleanly."""
        with self._cond:
            self._closed = True
            waiting = [job for job in self._jobs if job.state is JobState.QUEUED]
        # Waiting jobs (here, or in a cluster's queue) go now; running ones get the grace.
        self._cancel(waiting, SHUTDOWN_REASON)
        if not self._wait_until_idle(grace):
            with self._cond:
                running = self._unfinished()
            self._cancel(running, SHUTDOWN_REASON)
            self._wait_until_idle(timeout)
        with self._cond:
            lost = self._unfinished()
            for job in lost:
                self._finish(job, Failed(f"{SHUTDOWN_REASON} before it ended"))
        self._notify({job.owner for job in lost}, stats=True)
        stopped = self.backend.stop(timeout)
        log.info("job queue shut down (%s)", "clean" if stopped and not lost else "forced")
        return stopped and not lost

    # -- submitting and cancelling ---------------------------------------------------------
    def submit(self, owner: str, kind: str, work: Work) -> JobInfo:
        """Queue `work` for `owner`; raise a JobRejected subclass if a bound forbids it."""
        with self._cond:
            if self._closed:
                raise QueueClosed
            unfinished = len(self._jobs.unfinished_of(owner))
            self._line.admit(self.backend, unfinished, self._jobs.counts[JobState.QUEUED])
            job = Job(next(self._ids), owner, kind, work, self.clock())
            self._jobs.add(job)
            self._line.append(job)
            log.info("job %d (%s) of session %s: submitted", job.id, kind, self.tag(owner))
            self._dispatch()
            info = self._info(job)
        self._notify({owner}, stats=True)
        return info

    def cancel(self, job_id: int, owner: str | None = None) -> bool:
        """Cancel a job: a waiting one leaves the queue at once, one handed to the backend stops
        at its next check. Returns False if it had already finished, is unknown, or (when
        `owner` is given) belongs to someone else."""
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.state.final or (owner is not None and job.owner != owner):
                return False
        self._cancel([job], None)
        return True

    def cancel_owner(self, owner: str, reason: str | None = None) -> int:
        """Cancel every unfinished job of `owner`; returns how many were cancelled."""
        with self._cond:
            jobs = self._jobs.unfinished_of(owner)
        if jobs:
            self._cancel(jobs, reason)
        return len(jobs)

    def _cancel(self, jobs: list[Job], reason: str | None) -> None:
        """Jobs still waiting here end cancelled at once; jobs handed to the backend are stopped
        there, and end when it says so (with `reason`)."""
        with self._cond:
            handed = []
            for job in jobs:
                if job.state.final:
                    continue
                if self._line.discard(job):
                    self._finish(job, Cancelled(reason))
                else:
                    handed.append(job.id)
                    if reason:
                        self._cancel_reasons[job.id] = reason
            owners = self._waiting_owners() | {job.owner for job in jobs}
        for job_id in handed:
            self.backend.cancel(job_id)
        self._notify(owners, stats=True)

    def close_owner(self, owner: str) -> int:
        """The owner is gone (its session closed): cancel its jobs, drop its listeners and
        history. Returns how many jobs were cancelled."""
        self._listeners.forget(owner)
        cancelled = self.cancel_owner(owner, reason="its tab closed")
        with self._cond:
            self._jobs.close(owner)
        return cancelled

    # -- reading ---------------------------------------------------------------------------
    def jobs_of(self, owner: str) -> list[JobInfo]:
        """Snapshots of the owner's jobs, oldest first."""
        with self._cond:
            positions = self.backend.positions()
            return [self._info(j, positions) for j in self._jobs.of(owner)]

    def get(self, job_id: int) -> JobInfo | None:
        with self._cond:
            job = self._jobs.get(job_id)
            return None if job is None else self._info(job)

    def stats(self) -> QueueStats:
        backend = self.backend.stats()
        with self._cond:
            counts = self._jobs.counts
            return QueueStats(
                backend=self.backend.name, workers=backend.workers, alive_workers=backend.alive,
                busy_workers=backend.busy, running=counts[JobState.RUNNING],
                queued=counts[JobState.QUEUED], max_waiting=self._line.max_waiting,
                submitted=self._jobs.submitted, done=counts[JobState.DONE],
                failed=counts[JobState.FAILED], cancelled=counts[JobState.CANCELLED],
                closed=self._closed, cluster_waiting=backend.cluster_waiting,
                problems=backend.problems,
            )  # fmt: skip

    # -- observing -------------------------------------------------------------------------
    def subscribe(self, owner: str, listener: Listener) -> Callable[[], None]:
        """Call `listener()` (from any thread) whenever one of `owner`'s jobs changes."""
        return self._listeners.subscribe(owner, listener)

    def subscribe_stats(self, listener: Listener) -> Callable[[], None]:
        """Call `listener()` (from any thread) whenever the queue's figures change."""
        return self._listeners.subscribe_stats(listener)

    # -- JobEvents: what the backend reports, from any thread ------------------------------
    def started(self, job_id: int, where: str | None) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.state is not JobState.QUEUED:
                if job is not None and where:
                    job.where = where
                return
            self._start(job, where)
            owners = self._waiting_owners() | {job.owner}
        self._notify(owners, stats=True)

    def progressed(self, job_id: int, fraction: float) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.state is not JobState.RUNNING:
                return
            job.progress = fraction
            # Listeners hear of progress at most every interval; state changes at once.
            now = time.monotonic()
            if now - self._told_progress.get(job_id, 0.0) < self.progress_interval:
                return
            self._told_progress[job_id] = now
        self._notify({job.owner}, stats=False)

    def finished(self, job_id: int, outcome: Outcome) -> None:
        with self._cond:
            job = self._jobs.get(job_id)
            if job is None or job.state.final:
                # Already given its final state (e.g. failed when the server stopped): the
                # first final state stands.
                log.debug("late outcome for job %d ignored: %s", job_id, outcome)
                return
            self._line.discard(job)  # if never handed over (a backend reporting a lost job)
            reason = self._cancel_reasons.pop(job_id, None)
            if isinstance(outcome, Cancelled) and outcome.reason is None and reason:
                outcome = Cancelled(reason)
            self._finish(job, outcome)
            self._dispatch()
            owners = self._waiting_owners() | {job.owner}
        self._notify(owners, stats=True)

    def room(self) -> None:
        """The backend can take more jobs, or the places of jobs waiting in it changed."""
        with self._cond:
            self._dispatch()
            owners = self._waiting_owners()
        self._notify(owners, stats=True)

    # -- internals (lock held) -------------------------------------------------------------
    def _dispatch(self) -> None:
        """Hand waiting jobs to the backend while it has room."""
        while self._line and not self._closed and self.backend.free_slots() > 0:
            job = self._line.popleft()
            if self.backend.run(job.id, job.work):
                # It runs from this moment: the first thing anyone sees of it is "running",
                # not a wait of the few ms until its worker wakes.
                self._start(job, None)

    def _start(self, job: Job, where: str | None) -> None:
        self._move(job, lambda: job.set_running(self.clock(), where))
        log.info("job %d (%s) of session %s: running", job.id, job.kind, self.tag(job.owner))

    def _finish(self, job: Job, outcome: Outcome) -> None:
        now = self.clock()
        self._move(job, lambda: job.end(outcome, now))
        if isinstance(outcome, Done) and job.started_at is not None:
            self._durations.add(now - job.started_at)
        self._told_progress.pop(job.id, None)
        self._cond.notify_all()
        why = f": {job.error}" if job.error else ""
        log.info("job %d (%s) of session %s: %s%s", job.id, job.kind, self.tag(job.owner),
                 job.state, why)  # fmt: skip
        self._jobs.ended(job)

    def _move(self, job: Job, transition: Callable[[], None]) -> None:
        """Apply a state transition and keep the counts (an illegal one raises)."""
        before = job.state
        transition()
        self._jobs.moved(job, before)

    def _unfinished(self) -> list[Job]:
        return [j for j in self._jobs if not j.state.final]

    def _wait_until_idle(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._unfinished(), timeout)

    def _waiting_owners(self) -> set[str]:
        """Owners of queued jobs: their places change when any job ahead moves."""
        return {j.owner for j in self._jobs if j.state is JobState.QUEUED}

    def _info(self, job: Job, positions: dict[int, int] | None = None) -> JobInfo:
        position = None
        if job.state is JobState.QUEUED:
            positions = self.backend.positions() if positions is None else positions
            position = self._line.position(job, positions, self._cluster_waiting)
        workers = self.backend.stats().alive if job.state is JobState.QUEUED else 1
        return job.info(position, eta(job, position, self._durations.mean, workers, self.clock()))

    def _cluster_waiting(self) -> int:
        return self.backend.stats().cluster_waiting or 0

    def _notify(self, owners: set[str], stats: bool) -> None:
        """Tell listeners that something changed (never with the lock held)."""
        self._listeners.notify(owners, stats)
