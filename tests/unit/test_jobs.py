"""The job's state machine and what work sees (app/core/jobs.py)."""

from __future__ import annotations

import threading

import pytest

from app.core.jobs import InvalidTransition, Job, JobCancelled, JobContext, JobState


def job() -> Job:
    return Job(1, "owner", "io", lambda ctx: None, now=10.0)


def test_a_job_moves_queued_running_done() -> None:
    j = job()
    assert j.state is JobState.QUEUED
    j.set_running(11.0, where="server thread 1")
    j.set_done("result", 13.0)
    assert (j.state, j.started_at, j.finished_at, j.result, j.progress, j.where) == (
        JobState.DONE, 11.0, 13.0, "result", 1.0, "server thread 1",
    )  # fmt: skip


@pytest.mark.parametrize("end", ["failed", "cancelled"])
def test_a_queued_job_may_end_without_running(end: str) -> None:
    j = job()
    if end == "failed":
        j.set_failed("lost", 12.0)
    else:
        j.set_cancelled(12.0, reason="its tab closed")
    assert j.state.final and j.started_at is None and j.finished_at == 12.0
    assert (j.error, j.reason) == (("lost", None) if end == "failed" else (None, "its tab closed"))


def test_illegal_moves_raise_and_change_nothing() -> None:
    j = job()
    with pytest.raises(InvalidTransition):
        j.set_done("too soon", 11.0)  # never ran
    j.set_running(11.0)
    with pytest.raises(InvalidTransition):
        j.set_running(12.0)
    j.set_cancelled(12.0)
    for move in (lambda: j.set_done(1, 13.0), lambda: j.set_failed("x", 13.0),
                 lambda: j.set_cancelled(13.0), lambda: j.set_running(13.0)):  # fmt: skip
        with pytest.raises(InvalidTransition):
            move()
    assert (j.state, j.finished_at) == (JobState.CANCELLED, 12.0)


def test_context_check_and_sleep_raise_once_cancelled() -> None:
    cancel = threading.Event()
    reported: list[float] = []
    ctx = JobContext(cancel.wait, reported.append)
    ctx.check()
    ctx.progress(1.7)
    ctx.progress(-1)
    assert reported == [1.0, 0.0]
    assert not ctx.cancelled
    cancel.set()
    assert ctx.cancelled
    with pytest.raises(JobCancelled):
        ctx.check()
    with pytest.raises(JobCancelled):
        ctx.sleep(10)
