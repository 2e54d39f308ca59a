"""The jobs the queue remembers: each owner's unfinished jobs and last few finished ones.

An owner's history is trimmed to its `keep_finished` most recent finished jobs as jobs end,
and forgotten entirely once the owner is closed (its session ended) and its last job is over:
memory follows the sessions that are open, not every job ever run. Not thread-safe on its own:
the queue calls it holding its lock.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator

from app.core.jobs import Job, JobState


class History:
    """Also counts: jobs submitted, and jobs in each state now."""

    def __init__(self, keep_finished: int = 20) -> None:
        self.keep_finished = keep_finished
        self.submitted = 0
        self.counts = dict.fromkeys(JobState, 0)
        self._owners: dict[str, OrderedDict[int, Job]] = {}
        self._by_id: dict[int, Job] = {}
        self._closed: set[str] = set()  # gone, but some of their jobs still run

    def add(self, job: Job) -> None:
        self._owners.setdefault(job.owner, OrderedDict())[job.id] = job
        self._by_id[job.id] = job
        self.submitted += 1
        self.counts[job.state] += 1

    def moved(self, job: Job, before: JobState) -> None:
        """The job went from `before` to its state now."""
        self.counts[before] -= 1
        self.counts[job.state] += 1

    def get(self, job_id: int) -> Job | None:
        return self._by_id.get(job_id)

    def of(self, owner: str) -> list[Job]:
        """The owner's jobs, oldest first."""
        return list(self._owners.get(owner, {}).values())

    def unfinished_of(self, owner: str) -> list[Job]:
        return [j for j in self.of(owner) if not j.state.final]

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._by_id.values()))

    def ended(self, job: Job) -> None:
        """A job reached its final state: trim its owner's history."""
        jobs = self._owners.get(job.owner)
        if jobs is None:
            return
        finished = [j.id for j in jobs.values() if j.state.final]
        for old in finished[: max(0, len(finished) - self.keep_finished)]:
            del jobs[old]
            del self._by_id[old]
        self.forget_if_done(job.owner)

    def close(self, owner: str) -> None:
        """The owner is gone: forget it once its last job has ended."""
        self._closed.add(owner)
        self.forget_if_done(owner)

    def forget_if_done(self, owner: str) -> None:
        if owner in self._closed and all(j.state.final for j in self.of(owner)):
            self._closed.discard(owner)
            for job_id in self._owners.pop(owner, {}):
                del self._by_id[job_id]
