"""A bounded job queue shared by every session, worked by a fixed pool of threads.

Work is cooperative: it receives a `JobContext` through which it reports progress and learns of
cancellation (`ctx.sleep` and `ctx.check` raise `JobCancelled`).

Observers are told *that* an owner's jobs (or the pool's figures) changed, never handed state:
they read a fresh snapshot when they render, so a late notification can never show stale state.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from app.core.jobs import (
    JobCancelled,
    JobContext,
    JobInfo,
    JobState,
    OwnerLimitReached,
    QueueClosed,
    QueueFull,
    QueueStats,
    Work,
)

log = logging.getLogger(__name__)


class _Job:
    __slots__ = (
        "cancel",
        "error",
        "finished_at",
        "id",
        "kind",
        "owner",
        "progress",
        "result",
        "started_at",
        "state",
        "submitted_at",
        "work",
    )

    def __init__(self, job_id: int, owner: str, kind: str, work: Work, now: float) -> None:
        self.id, self.owner, self.kind, self.work = job_id, owner, kind, work
        self.state = JobState.QUEUED
        self.progress = 0.0
        self.submitted_at = now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: object = None
        self.error: str | None = None
        self.cancel = threading.Event()


OwnerListener = Callable[[], None]
StatsListener = Callable[[], None]


class JobQueue:
    """One process-wide FIFO queue of jobs, worked by `workers` threads.

    Bounds: at most `max_waiting` jobs wait in all, and one owner has at most `max_per_owner`
    unfinished (queued or running) jobs. The queue keeps each owner's last `keep_finished`
    finished jobs for display, and forgets an owner entirely on `close_owner`.
    """

    def __init__(
        self,
        workers: int = 2,
        max_waiting: int = 100,
        max_per_owner: int = 20,
        keep_finished: int = 20,
        progress_interval: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if workers < 1 or max_waiting < 1 or max_per_owner < 1:
            raise ValueError("workers, max_waiting and max_per_owner must be at least 1")
        self.workers = workers
        self.max_waiting = max_waiting
        self.max_per_owner = max_per_owner
        self.keep_finished = keep_finished
        self.progress_interval = progress_interval
        self.clock = clock
        self._cond = threading.Condition()
        self._waiting: deque[_Job] = deque()
        # Jobs handed to an idle worker at submit time: already running, about to be picked up.
        self._handed: deque[_Job] = deque()
        self._idle = 0  # workers waiting for work
        self._owners: dict[str, OrderedDict[int, _Job]] = {}
        self._by_id: dict[int, _Job] = {}
        self._closed_owners: set[str] = set()  # gone, but some of their jobs still run
        self._ids = itertools.count(1)
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._counts = dict.fromkeys(JobState, 0)
        self._submitted = 0
        self._durations: deque[float] = deque(maxlen=20)
        self._owner_listeners: dict[str, list[OwnerListener]] = {}
        self._stats_listeners: list[StatsListener] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> JobQueue:
        """Start the worker threads (once)."""
        with self._cond:
            if self._closed:
                raise QueueClosed
            if self._threads:
                return self
            for n in range(self.workers):
                thread = threading.Thread(
                    target=self._work_loop, name=f"job-worker-{n + 1}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        log.info("job queue started: %d workers, %d may wait", self.workers, self.max_waiting)
        return self

    def shutdown(self, grace: float = 2.0, timeout: float = 1.0) -> bool:
        """Stop accepting, cancel waiting jobs, give running ones `grace` seconds, then cancel them.

        Returns whether every worker stopped. Workers are daemon threads, so even a job that
        ignores its cancel token never keeps the process from exiting.
        """
        with self._cond:
            self._closed = True
            dropped = list(self._waiting)
            self._waiting.clear()
            for job in dropped:
                self._finish(job, JobState.CANCELLED)
            self._cond.notify_all()
            running = [j for jobs in self._owners.values() for j in jobs.values()
                       if j.state is JobState.RUNNING]
        self._notify({job.owner for job in dropped}, stats=True)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for job in running:
            job.cancel.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        stopped = not any(t.is_alive() for t in self._threads)
        log.info("job queue shut down (%s)", "clean" if stopped else "workers still busy")
        return stopped

    # -- submitting and cancelling ---------------------------------------------------------
    def submit(self, owner: str, kind: str, work: Work) -> JobInfo:
        """Queue `work` for `owner`; raise a JobRejected subclass if a bound forbids it."""
        with self._cond:
            if self._closed:
                raise QueueClosed
            jobs = self._owners.get(owner)
            pending = sum(1 for j in jobs.values() if not j.state.final) if jobs else 0
            if pending >= self.max_per_owner:
                raise OwnerLimitReached(pending, self.max_per_owner)
            # A job that a free worker will take at once never waits, so only count real waiters.
            if len(self._waiting) >= self.max_waiting:
                raise QueueFull(len(self._waiting), self.max_waiting)
            job = _Job(next(self._ids), owner, kind, work, self.clock())
            self._owners.setdefault(owner, OrderedDict())[job.id] = job
            self._by_id[job.id] = job
            self._submitted += 1
            self._counts[JobState.QUEUED] += 1
            if self._idle > len(self._handed):
                # A worker is free: the job runs from this moment, so the first thing anyone
                # sees of it is "running", not a wait of the few ms until that thread wakes.
                self._start(job)
                self._handed.append(job)
            else:
                self._waiting.append(job)
            self._cond.notify()
            info = self._info(job)
        log.info("job %d (%s) of session %s: submitted", job.id, kind, owner)
        self._notify({owner}, stats=True)
        return info

    def cancel(self, job_id: int, owner: str | None = None) -> bool:
        """Cancel a job: a queued one leaves the queue at once, a running one stops at its next
        check. Returns False if it had already finished, is unknown, or (when `owner` is given)
        belongs to someone else."""
        with self._cond:
            job = self._find(job_id)
            if job is None or job.state.final or (owner is not None and job.owner != owner):
                return False
            job.cancel.set()
            if job.state is not JobState.QUEUED:
                return True
            self._waiting.remove(job)
            self._finish(job, JobState.CANCELLED)
            owners = self._waiting_owners() | {job.owner}
        self._notify(owners, stats=True)
        return True

    def cancel_owner(self, owner: str) -> int:
        """Cancel every unfinished job of `owner`; returns how many were cancelled."""
        with self._cond:
            jobs = [j for j in self._owners.get(owner, {}).values() if not j.state.final]
            for job in jobs:
                job.cancel.set()
                if job.state is JobState.QUEUED:
                    self._waiting.remove(job)
                    self._finish(job, JobState.CANCELLED)
            owners = self._waiting_owners() | {owner}
        if jobs:
            self._notify(owners, stats=True)
        return len(jobs)

    def close_owner(self, owner: str) -> int:
        """The owner is gone (its session closed): cancel its jobs, drop its listeners and
        history. Returns how many jobs were cancelled."""
        with self._cond:
            self._owner_listeners.pop(owner, None)
            self._closed_owners.add(owner)
        cancelled = self.cancel_owner(owner)
        with self._cond:
            self._forget_if_done(owner)
        return cancelled

    # -- reading ---------------------------------------------------------------------------
    def jobs_of(self, owner: str) -> list[JobInfo]:
        """Snapshots of the owner's jobs, oldest first."""
        with self._cond:
            return [self._info(j) for j in self._owners.get(owner, {}).values()]

    def get(self, job_id: int) -> JobInfo | None:
        with self._cond:
            job = self._find(job_id)
            return None if job is None else self._info(job)

    @property
    def idle_workers(self) -> int:
        """Workers waiting for work now (a job submitted meanwhile starts at once)."""
        with self._cond:
            return self._idle

    def stats(self) -> QueueStats:
        with self._cond:
            counts = self._counts
            return QueueStats(
                workers=self.workers,
                alive_workers=sum(t.is_alive() for t in self._threads),
                running=counts[JobState.RUNNING],
                queued=counts[JobState.QUEUED],
                max_waiting=self.max_waiting,
                submitted=self._submitted,
                done=counts[JobState.DONE],
                failed=counts[JobState.FAILED],
                cancelled=counts[JobState.CANCELLED],
                closed=self._closed,
            )

    # -- observing -------------------------------------------------------------------------
    def subscribe(self, owner: str, listener: OwnerListener) -> Callable[[], None]:
        """Call `listener()` (from any thread) whenever one of `owner`'s jobs changes."""
        with self._cond:
            self._owner_listeners.setdefault(owner, []).append(listener)

        def unsubscribe() -> None:
            with self._cond:
                listeners = self._owner_listeners.get(owner, [])
                if listener in listeners:
                    listeners.remove(listener)

        return unsubscribe

    def subscribe_stats(self, listener: StatsListener) -> Callable[[], None]:
        """Call `listener()` (from any thread) whenever the pool's figures change."""
        with self._cond:
            self._stats_listeners.append(listener)

        def unsubscribe() -> None:
            with self._cond:
                if listener in self._stats_listeners:
                    self._stats_listeners.remove(listener)

        return unsubscribe

    # -- internals -------------------------------------------------------------------------
    def _work_loop(self) -> None:
        while True:
            with self._cond:
                self._idle += 1
                while not self._handed and not self._waiting and not self._closed:
                    self._cond.wait()
                self._idle -= 1
                if self._handed:
                    job = self._handed.popleft()
                    owners: set[str] = set()  # told when it was handed over
                elif self._waiting:
                    job = self._waiting.popleft()
                    self._start(job)
                    owners = self._waiting_owners() | {job.owner}
                else:
                    return
            if owners:
                self._notify(owners, stats=True)
            self._run(job)

    def _start(self, job: _Job) -> None:
        """Mark a job running (lock held)."""
        self._set_state(job, JobState.RUNNING)
        job.started_at = self.clock()
        log.info("job %d (%s) of session %s: running", job.id, job.kind, job.owner)

    def _run(self, job: _Job) -> None:
        last_told = 0.0

        def report(fraction: float) -> None:
            nonlocal last_told
            with self._cond:
                job.progress = fraction
            # Progress may be reported often; listeners hear of it at most every interval.
            # State changes are always told at once.
            now = time.monotonic()
            if now - last_told >= self.progress_interval:
                last_told = now
                self._notify({job.owner}, stats=False)

        ctx = JobContext(job.cancel, report)
        result: object = None
        error: str | None = None
        try:
            result = job.work(ctx)
            state = JobState.CANCELLED if job.cancel.is_set() else JobState.DONE
        except JobCancelled:
            state = JobState.CANCELLED
        except Exception as exc:  # the job fails, the worker carries on
            state = JobState.FAILED
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job %d (%s) of session %s raised %s", job.id, job.kind, job.owner, error)
        with self._cond:
            job.result, job.error = result, error
            if state is JobState.DONE:
                job.progress = 1.0
            self._finish(job, state)
        self._notify({job.owner}, stats=True)

    def _set_state(self, job: _Job, state: JobState) -> None:
        self._counts[job.state] -= 1
        self._counts[state] += 1
        job.state = state

    def _finish(self, job: _Job, state: JobState) -> None:
        """Move a job to its final state (lock held) and trim the owner's history."""
        self._set_state(job, state)
        job.finished_at = self.clock()
        if state is JobState.DONE and job.started_at is not None:
            self._durations.append(job.finished_at - job.started_at)
        log.info("job %d (%s) of session %s: %s", job.id, job.kind, job.owner, state)
        jobs = self._owners.get(job.owner)
        if jobs is None:
            return
        finished = [j.id for j in jobs.values() if j.state.final]
        for old in finished[: max(0, len(finished) - self.keep_finished)]:
            del jobs[old]
            del self._by_id[old]
        self._forget_if_done(job.owner)

    def _forget_if_done(self, owner: str) -> None:
        """Drop a closed owner's history once its last running job has ended (lock held)."""
        jobs = self._owners.get(owner, {})
        if owner in self._closed_owners and all(j.state.final for j in jobs.values()):
            self._closed_owners.discard(owner)
            for job_id in self._owners.pop(owner, {}):
                del self._by_id[job_id]

    def _find(self, job_id: int) -> _Job | None:
        return self._by_id.get(job_id)

    def _waiting_owners(self) -> set[str]:
        return {j.owner for j in self._waiting}

    def _mean_duration(self) -> float | None:
        return sum(self._durations) / len(self._durations) if self._durations else None

    def _info(self, job: _Job) -> JobInfo:
        position = eta = None
        now = self.clock()
        mean = self._mean_duration()
        if job.state is JobState.QUEUED:
            position = self._waiting.index(job) + 1
            if mean is not None:
                # Jobs ahead are taken `workers` at a time; then it runs for about the mean.
                eta = mean * ((position - 1) // self.workers + 1) + mean
        elif job.state is JobState.RUNNING and job.started_at is not None:
            elapsed = now - job.started_at
            if job.progress > 0:
                eta = max(0.0, elapsed / job.progress - elapsed)
            elif mean is not None:
                eta = max(0.0, mean - elapsed)
        return JobInfo(
            id=job.id,
            owner=job.owner,
            kind=job.kind,
            state=job.state,
            progress=job.progress,
            position=position,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            eta=eta,
            result=job.result,
            error=job.error,
        )

    def _notify(self, owners: set[str], stats: bool) -> None:
        """Tell listeners that something changed; never with the lock held, never raising."""
        with self._cond:
            listeners = [cb for o in owners for cb in self._owner_listeners.get(o, ())]
            if stats:
                listeners += self._stats_listeners
        for listener in listeners:
            try:
                listener()
            except Exception:
                log.exception("a job queue listener failed")
