"""The line of jobs waiting in this process, and the bounds a new job must pass to join it.

A job waits here until the backend has room for it; a cluster's backend then keeps its own line,
in which the job has a place every replica agrees on. The bounds are checked in the order a user
would want to hear of them, each refusal with its own message (the JobRejected subclasses in
app/core/jobs.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from app.core.backends.base import Backend
from app.core.jobs import BackendUnavailable, ClusterFull, Job, OwnerLimitReached, QueueFull


class WaitingLine:
    """Jobs not yet handed to the backend, in submission order (the queue's lock guards it)."""

    def __init__(self, max_waiting: int, max_per_owner: int) -> None:
        if max_waiting < 1 or max_per_owner < 1:
            raise ValueError("max_waiting and max_per_owner must be at least 1")
        self.max_waiting = max_waiting  # jobs waiting in all (here and in the backend)
        self.max_per_owner = max_per_owner  # unfinished (queued or running) jobs of one owner
        self._jobs: deque[Job] = deque()

    def admit(self, backend: Backend, owner_unfinished: int, waiting: int) -> None:
        """Raise why a new job may not join (a JobRejected subclass), or return."""
        why = backend.unavailable()
        if why is not None:
            raise BackendUnavailable(why)
        if owner_unfinished >= self.max_per_owner:
            raise OwnerLimitReached(owner_unfinished, self.max_per_owner)
        full = backend.full()
        if full is not None:
            raise ClusterFull(full)
        # A job that the backend starts at once never waits: only count real waiters.
        starts_now = backend.starts_at_once and backend.free_slots() > 0
        if waiting >= self.max_waiting and not starts_now:
            raise QueueFull(waiting, self.max_waiting)

    def position(
        self, job: Job, handed: dict[int, int], cluster_waiting: Callable[[], int]
    ) -> int | None:
        """The 1-based place of a queued job: its place in the backend's line (`handed`), or
        behind every job already waiting there (of every replica) if it still waits here."""
        if job.id in handed:
            return handed[job.id]
        if job in self._jobs:
            ahead = max([*handed.values(), cluster_waiting()])
            return ahead + self._jobs.index(job) + 1
        return None

    def append(self, job: Job) -> None:
        self._jobs.append(job)

    def popleft(self) -> Job:
        return self._jobs.popleft()

    def discard(self, job: Job) -> bool:
        """Take `job` out of the line; whether it was in it."""
        if job in self._jobs:
            self._jobs.remove(job)
            return True
        return False

    def __bool__(self) -> bool:
        return bool(self._jobs)
