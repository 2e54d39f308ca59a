"""The vocabulary of jobs: the job and its state machine, what work sees while it runs,
snapshots, and why a job was refused.

The words are those of `concurrent.futures`: a job is submitted, may be cancelled, and ends in
exactly one final state (done, failed or cancelled) with its result or the reason. The legal
moves are queued → running → one final state, or queued → a final state; any other move raises
`InvalidTransition`, so a bug that would finish a job twice is loud instead of silent.
"""

from __future__ import annotations

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


_MOVES = {
    JobState.QUEUED: {JobState.RUNNING, JobState.FAILED, JobState.CANCELLED},
    JobState.RUNNING: {JobState.DONE, JobState.FAILED, JobState.CANCELLED},
}


class InvalidTransition(RuntimeError):
    """A job was asked to move to a state it cannot reach from where it is."""


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
        super().__init__(
            f"You have {pending} unfinished jobs (waiting or running), the most one session "
            "may have"
        )


class ClusterFull(JobRejected):
    """The bound every replica shares is reached."""

    def __init__(self, why: str) -> None:
        super().__init__(f"The cluster is full: {why}, try again shortly")


class QueueClosed(JobRejected):
    """The queue is shutting down and accepts no more work."""

    def __init__(self) -> None:
        super().__init__("The server is shutting down and accepts no new jobs")


class BackendUnavailable(JobRejected):
    """The backend cannot take jobs now (e.g. the cluster cannot be reached)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"Jobs cannot be submitted now: {why}")


class JobCancelled(Exception):
    """Raised inside a job's work when the job has been cancelled."""


class JobContext:
    """What a job's work sees: its cancel token and a way to report progress.

    `wait_cancel(seconds)` waits up to `seconds` for the job to be cancelled and says whether it
    was (a `threading.Event.wait` in a thread, a `distributed.Event.wait` on a Dask worker)."""

    def __init__(
        self, wait_cancel: Callable[[float], bool], report: Callable[[float], None]
    ) -> None:
        self._wait_cancel = wait_cancel
        self._report = report

    @property
    def cancelled(self) -> bool:
        return self._wait_cancel(0)

    def check(self) -> None:
        """Raise JobCancelled if the job has been cancelled; call it between steps."""
        if self._wait_cancel(0):
            raise JobCancelled

    def sleep(self, seconds: float) -> None:
        """Wait like time.sleep, but wake at once and raise JobCancelled on cancel."""
        if self._wait_cancel(seconds):
            raise JobCancelled

    def progress(self, fraction: float) -> None:
        """Report progress from 0 to 1."""
        self._report(min(1.0, max(0.0, float(fraction))))


Work = Callable[[JobContext], object]


@dataclass(frozen=True)
class Done:
    result: object = None


@dataclass(frozen=True)
class Failed:
    error: str


@dataclass(frozen=True)
class Cancelled:
    reason: str | None = None


Outcome = Done | Failed | Cancelled  # how a job ended


class Job:
    """One submitted job and its state machine. The queue owns it and moves it under its lock;
    everyone else sees `JobInfo` snapshots."""

    __slots__ = (
        "error", "finished_at", "id", "kind", "owner", "progress", "reason", "result",
        "started_at", "state", "submitted_at", "where", "work",
    )  # fmt: skip

    def __init__(self, job_id: int, owner: str, kind: str, work: Work, now: float) -> None:
        self.id, self.owner, self.kind, self.work = job_id, owner, kind, work
        self.state = JobState.QUEUED
        self.progress = 0.0
        self.submitted_at = now
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self.result: object = None
        self.error: str | None = None  # why it failed
        self.reason: str | None = None  # why it was cancelled, when not by its owner
        self.where: str | None = None  # what ran it: a worker thread, a Dask worker

    def _move(self, to: JobState, now: float) -> None:
        if to not in _MOVES.get(self.state, ()):
            raise InvalidTransition(f"job {self.id} cannot go from {self.state} to {to}")
        self.state = to
        if to is JobState.RUNNING:
            self.started_at = now
        else:
            self.finished_at = now

    def set_running(self, now: float, where: str | None = None) -> None:
        self._move(JobState.RUNNING, now)
        self.where = where or self.where

    def set_done(self, result: object, now: float) -> None:
        self._move(JobState.DONE, now)
        self.result, self.progress = result, 1.0

    def set_failed(self, error: str, now: float) -> None:
        self._move(JobState.FAILED, now)
        self.error = error

    def set_cancelled(self, now: float, reason: str | None = None) -> None:
        self._move(JobState.CANCELLED, now)
        self.reason = reason

    def end(self, outcome: Outcome, now: float) -> None:
        """Move to the final state `outcome` says (an illegal move raises)."""
        if isinstance(outcome, Done):
            self.set_done(outcome.result, now)
        elif isinstance(outcome, Failed):
            self.set_failed(outcome.error, now)
        else:
            self.set_cancelled(now, outcome.reason)

    def info(self, position: int | None, eta: float | None) -> JobInfo:
        """A snapshot of the job now, with its place in line and its ETA."""
        return JobInfo(
            id=self.id, owner=self.owner, kind=self.kind, state=self.state,
            progress=self.progress, position=position, submitted_at=self.submitted_at,
            started_at=self.started_at, finished_at=self.finished_at, eta=eta,
            result=self.result, error=self.error, reason=self.reason, where=self.where,
        )  # fmt: skip


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
    reason: str | None = None
    where: str | None = None

    def elapsed(self, now: float) -> float:
        """Seconds since it started (or was submitted, while it waits), up to when it finished."""
        start = self.started_at if self.started_at is not None else self.submitted_at
        end = self.finished_at if self.finished_at is not None else now
        return max(0.0, end - start)


@dataclass(frozen=True)
class QueueStats:
    """The queue's figures at one moment: submitted = queued+running+done+failed+cancelled.

    `workers`, `alive_workers` and `busy_workers` describe what runs the jobs: this process's
    threads, or the cluster's worker threads on Dask. `cluster_waiting` counts the jobs of every
    replica waiting in the cluster (None with threads)."""

    backend: str
    workers: int
    alive_workers: int
    busy_workers: int
    running: int
    queued: int
    max_waiting: int
    submitted: int
    done: int
    failed: int
    cancelled: int
    closed: bool
    cluster_waiting: int | None = None
    problems: tuple[str, ...] = ()
