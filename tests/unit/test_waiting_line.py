"""The queue's waiting line: a job's place, here or in a cluster's line."""

from __future__ import annotations

import pytest

from app.core.jobs import Job
from app.core.waiting_line import WaitingLine


def job(job_id: int) -> Job:
    return Job(job_id, "owner", "io", lambda ctx: None, 0.0)


def test_a_job_waiting_here_comes_after_every_job_waiting_in_the_cluster() -> None:
    line = WaitingLine(max_waiting=10, max_per_owner=10)
    first, second = job(3), job(4)
    line.append(first)
    line.append(second)
    handed = {1: 1, 2: 2}  # this replica's jobs already in the cluster's line
    assert line.position(first, handed, lambda: 0) == 3
    assert line.position(second, handed, lambda: 0) == 4
    # Other replicas' jobs wait in the cluster too: 5 in all, so this one is 6th.
    assert line.position(first, handed, lambda: 5) == 6
    assert line.position(job(1), handed, lambda: 5) == 1  # handed over: the cluster's place
    assert line.discard(first) and not line.discard(first)
    assert line.position(second, {}, lambda: 0) == 1
    assert line.position(first, {}, lambda: 0) is None  # neither here nor handed over


def test_bounds_must_allow_one_job() -> None:
    with pytest.raises(ValueError):
        WaitingLine(max_waiting=0, max_per_owner=1)
