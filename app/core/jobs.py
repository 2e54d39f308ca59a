"""The vocabulary of jobs: their states, what work sees while it runs, snapshots and errors.

The words are those of `concurrent.futures`: a job is submitted, may be cancelled, and ends in
exactly one final state (done, failed or cancelled) with its result or error.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class JobRejected(RuntimeError):
    """A job was not accepted; nothing was enqueued. The message is meant for the user."""


class QueueFull(JobRejected):
    """The queue holds as many waiting jobs as it may."""

    def __init__(self, waiting: int, limit: int) -> None:
        self.waiting, self.limit = waiting, limit
        super().__init__(f"Queue full: {waiting} of {limit} jobs waiting, try again shortly")


class OwnerLimitReached(JobRejected):
    """One owner (session) has as many unfinished jobs as it may."""

    def __init__(self, pending: int, limit: int) -> None:
        self.pending, self.limit = pending, limit
        super().__init__(f"You have {pending} jobs waiting, the most one session may have")


class QueueClosed(JobRejected):
    """The queue is shutting down and accepts no more work."""

    def __init__(self) -> None:
        super().__init__("The server is shutting down and accepts no new jobs")


class JobCancelled(Exception):
    """Raised inside a job's work when the job has been cancelled."""


class JobContext:
    """What a job's work sees: its cancel token and a way to report progress."""

    def __init__(self, cancel: threading.Event, report: Callable[[float], None]) -> None:
        self._cancel = cancel
        self._report = report

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise JobCancelled if the job has been cancelled; call it between steps."""
        if self._cancel.is_set():
            raise JobCancelled

    def sleep(self, seconds: float) -> None:
        """Wait like time.sleep, but wake at once and raise JobCancelled on cancel."""
        if self._cancel.wait(seconds):
            raise JobCancelled

    def progress(self, fraction: float) -> None:
        """Report progress from 0 to 1."""
        self._report(min(1.0, max(0.0, float(fraction))))


Work = Callable[[JobContext], object]


@dataclass(frozen=True)
class JobInfo:
    """An immutable snapshot of one job, safe to hand to any thread."""

    id: int
    owner: str
    kind: str
    state: JobState
    progress: float
    position: int | None  # 1-based place among waiting jobs, None unless queued
    submitted_at: float
    started_at: float | None
    finished_at: float | None
    eta: float | None  # estimated seconds until it finishes, when it can be estimated
    result: object = None
    error: str | None = None

    def elapsed(self, now: float) -> float:
        """Seconds since it started (or was submitted, while it waits), up to when it finished."""
        start = self.started_at if self.started_at is not None else self.submitted_at
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - start)


@dataclass(frozen=True)
class QueueStats:
    """The pool's figures at one moment: submitted = queued+running+done+failed+cancelled."""

    workers: int
    alive_workers: int
    running: int
    queued: int
    max_waiting: int
    submitted: int
    done: int
    failed: int
    cancelled: int
    closed: bool
