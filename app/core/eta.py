"""How long until a job finishes: from its progress while it runs, and from how long recent
jobs took while it waits."""

from __future__ import annotations

from collections import deque

from app.core.jobs import Job, JobState


class Durations:
    """The run times of the last `keep` jobs that finished."""

    def __init__(self, keep: int = 20) -> None:
        self._recent: deque[float] = deque(maxlen=keep)

    def add(self, seconds: float) -> None:
        self._recent.append(seconds)

    @property
    def mean(self) -> float | None:
        return sum(self._recent) / len(self._recent) if self._recent else None


def eta(
    job: Job, position: int | None, mean: float | None, workers: int, now: float
) -> float | None:
    """Seconds until `job` is likely to finish, or None when there is nothing to go by."""
    if job.state is JobState.QUEUED:
        if mean is None or position is None:
            return None
        # Jobs ahead are taken `workers` at a time; then it runs for about the mean.
        return mean * ((position - 1) // max(1, workers) + 1) + mean
    if job.state is JobState.RUNNING and job.started_at is not None:
        elapsed = now - job.started_at
        if job.progress > 0:
            return max(0.0, elapsed / job.progress - elapsed)
        if mean is not None:
            return max(0.0, mean - elapsed)
    return None
