"""The seam between the job queue and what runs its jobs.

The queue hands a backend a job's id and its work (`run`) when the backend says it has room
(`free_slots`), and asks it to `cancel` one. The backend tells the queue, through `JobEvents`,
that a job started (and where), how far it got, and how it ended, from whatever thread it is on.
A backend never calls the queue while it holds a lock of its own, and the queue never blocks on
a backend: every method below returns at once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Protocol

from app.core.jobs import Cancelled, Done, Failed, Outcome, Work

__all__ = ["Backend", "BackendStats", "Cancelled", "Done", "Failed", "JobEvents", "Outcome"]


class JobEvents(Protocol):
    """What a backend reports about the jobs it was handed (the queue implements it)."""

    def started(self, job_id: int, where: str | None) -> None: ...

    def progressed(self, job_id: int, fraction: float) -> None: ...

    def finished(self, job_id: int, outcome: Outcome) -> None: ...

    def room(self) -> None:
        """The backend can take more jobs than when it last said so."""


@dataclass(frozen=True)
class BackendStats:
    """What runs the jobs, at one moment."""

    workers: int  # worker threads in all (this process's, or the cluster's)
    alive: int
    busy: int
    cluster_waiting: int | None = None  # jobs of every replica waiting in the cluster
    problems: tuple[str, ...] = ()  # why it is degraded, for /health and the page


class Backend(ABC):
    """Runs work handed over by the queue. `start` and `stop` bracket its life."""

    name: ClassVar[str]
    # Whether a job it has room for starts the moment it is handed over (threads do); a
    # cluster takes jobs into its own queue and says later when each starts.
    starts_at_once: ClassVar[bool] = False

    @abstractmethod
    def start(self, events: JobEvents) -> None:
        """Start running jobs, reporting to `events` (on the server's loop, once)."""

    @abstractmethod
    def free_slots(self) -> int:
        """How many more jobs it takes now; the queue keeps the rest waiting in order."""

    @abstractmethod
    def run(self, job_id: int, work: Work) -> bool:
        """Take a job; True if it is running from this moment (no `started` will follow)."""

    @abstractmethod
    def cancel(self, job_id: int) -> None:
        """Stop a job it was handed: it ends with `finished(Cancelled)` (or its own outcome, if
        it ended first)."""

    def positions(self) -> dict[int, int]:
        """1-based places of handed-over jobs still waiting to start, where it keeps a line."""
        return {}

    def unavailable(self) -> str | None:
        """Why no job can be submitted now (the cluster cannot be reached), or None."""
        return None

    def full(self) -> str | None:
        """Why it takes no more jobs now, as a bound every replica shares, or None."""
        return None

    @abstractmethod
    def stats(self) -> BackendStats: ...

    @abstractmethod
    def stop(self, timeout: float) -> bool:
        """Stop for good, within `timeout` s; whether everything it started has stopped."""
