"""The threaded-queue component without a server: the seed's texts, errors and bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from queue_helpers import thread_queue, wait_for_stats

from app.components.job_panel import QueuePanel, job_row, pool_text, status_text
from app.core.job_queue import JobQueue
from app.core.jobs import JobInfo, JobState, QueueStats


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    q = thread_queue(1, max_waiting=2, max_per_owner=3).start()
    yield q
    q.shutdown(grace=0.5, timeout=0.5)


def wait_for(panel: QueuePanel, name: str, value: str, timeout: float = 5.0) -> None:
    """Wait, on the parameter's own change events, until panel.<name> == value."""
    changed = threading.Event()
    watcher = panel.param.watch(lambda event: changed.set(), name)
    deadline = time.monotonic() + timeout
    try:
        while getattr(panel, name) != value:
            assert changed.wait(max(0.0, deadline - time.monotonic())), getattr(panel, name)
            changed.clear()
    finally:
        panel.param.unwatch(watcher)


def info(job_id: int, state: JobState, position: int | None = None) -> JobInfo:
    return JobInfo(job_id, "o", "io", state, 0.0, position, 0.0, None, None, None)


def test_status_text_follows_the_seed() -> None:
    assert status_text([], {}) == "Queue empty"
    jobs = {1: info(1, JobState.DONE), 2: info(2, JobState.RUNNING), 3: info(3, JobState.QUEUED, 1)}
    assert status_text([1, 2, 3], jobs) == "Processing item 2 of 3 items in queue."
    jobs = {1: info(1, JobState.QUEUED, 4)}
    assert status_text([1], jobs) == (
        "Item 1 of 1 items in queue is waiting for a worker (position 4 in the shared queue)."
    )
    assert status_text([1, 2], {1: info(1, JobState.FAILED)}) == "Queue empty"


def test_launch_processes_an_item_then_reports_queue_empty(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=0.2)
    assert panel.status == "Queue empty"
    panel._launch()
    wait_for(panel, "status", "Processing item 1 of 1 items in queue.")
    wait_for(panel, "status", "Queue empty")
    assert panel.message == ""


def test_a_failing_item_is_reported(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=0.1, kind="fail")
    panel._launch()
    wait_for(panel, "failures", "Item 1 failed: ItemFailed: this item fails on purpose")
    wait_for(panel, "status", "Queue empty")


def test_bounds_are_reported_and_nothing_is_lost(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=5)
    panel._launch()
    wait_for(panel, "status", "Processing item 1 of 1 items in queue.")
    panel._launch()
    panel._launch()  # one running, two waiting: the queue and this session are both full
    panel._launch()
    assert panel.message == (
        "You have 3 unfinished jobs (waiting or running), the most one session may have"
    )
    assert len(queue.jobs_of(panel._owner)) == 3
    other = QueuePanel(queue, item_seconds=5)
    other._launch()
    assert other.message == "Queue full: 2 of 2 jobs waiting, try again shortly"
    assert queue.jobs_of(other._owner) == []


def test_closing_the_session_cancels_its_items(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=5)
    panel._launch()
    panel._launch()
    wait_for(panel, "status", "Processing item 1 of 2 items in queue.")
    panel._session.close()
    # Both end as cancelled (the running one at its next check), then the owner is forgotten.
    stats = wait_for_stats(queue, lambda s: s.cancelled == 2 and s.running == s.queued == 0)
    assert (stats.done, stats.failed) == (0, 0)
    assert queue.jobs_of(panel._owner) == []


def test_table_rows_show_what_the_user_needs() -> None:
    queued = JobInfo(7, "o", "io", JobState.QUEUED, 0.0, 3, 10.0, None, None, 4.25)
    assert job_row(queued, now=12.0) == {
        "id": 7, "kind": "I/O wait", "state": "queued", "position": "3", "eta": "4.2 s",
        "elapsed": "—", "where": "—", "progress": 0, "error": "", "note": "",
        "cancellable": True,
    }  # fmt: skip
    failed = JobInfo(8, "o", "fail", JobState.FAILED, 0.5, None, 10.0, 11.0, 12.5, None,
                     error="ItemFailed: on purpose")  # fmt: skip
    row = job_row(failed, now=20.0)
    assert (row["state"], row["progress"]) == ("failed", 50)
    assert row["elapsed"] == {"elapsed": 1.5, "running": False}  # a stopped clock
    assert (row["error"], row["cancellable"], row["eta"]) == ("ItemFailed: on purpose", False, "—")
    stopped = JobInfo(9, "o", "io", JobState.CANCELLED, 0.2, None, 10.0, 11.0, 12.0, None,
                      reason="the server shut down", where="server thread 2")  # fmt: skip
    row = job_row(stopped, now=20.0)
    assert (row["note"], row["error"]) == ("the server shut down", "")
    assert row["where"] == "server thread 2"


def test_the_pool_line_says_what_runs_the_jobs() -> None:
    stats = QueueStats(
        backend="threads", workers=2, alive_workers=2, busy_workers=1, running=1, queued=3,
        max_waiting=100, submitted=9, done=4, failed=0, cancelled=1, closed=False,
    )  # fmt: skip
    assert pool_text(stats) == (
        "Shared pool: 1 of 2 workers busy · 3 of 100 jobs waiting · 4 done, 0 failed, 1 cancelled"
    )
    broken = QueueStats(**{**stats.__dict__, "problems": ("the cluster cannot be reached",)})
    assert pool_text(broken) == "Jobs cannot run now: the cluster cannot be reached"


def test_cancel_from_the_browser_reaches_only_this_sessions_jobs(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=5)
    other = QueuePanel(queue, item_seconds=5)
    panel._launch()
    other._launch()
    theirs = queue.jobs_of(other._owner)[0].id
    panel._table._handle_msg({"cancel": theirs})  # a forged message naming another's job
    panel._table._handle_msg({"cancel": True})  # forged: not an id
    panel._table._handle_msg(["cancel", theirs])  # forged: not a message at all
    assert not queue.get(theirs).state.final
    mine = queue.jobs_of(panel._owner)[0].id
    panel._table._handle_msg({"cancel": mine})
    assert queue.get(mine).state in (JobState.CANCELLED, JobState.RUNNING)
    wait_for(panel, "status", "Queue empty")
    assert queue.get(mine).state is JobState.CANCELLED


def test_cancel_all_from_the_browser_cancels_this_sessions_jobs_only(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=5)
    other = QueuePanel(queue, item_seconds=5)
    panel._launch()
    # One worker and room for 2 waiting: the third job fits once the first one runs.
    wait_for_stats(queue, lambda s: s.running == 1, "the first job running")
    panel._launch()
    other._launch()
    assert len(queue.jobs_of(other._owner)) == 1
    panel._table._handle_msg({"cancel_all": "yes"})  # forged: not the message
    panel._table._handle_msg({"cancel_all": True, "owner": other._owner})  # forged: extra keys
    assert not any(job.state.final for job in queue.jobs_of(panel._owner))
    panel._table._handle_msg({"cancel_all": True})
    wait_for(panel, "status", "Queue empty")
    assert {job.state for job in queue.jobs_of(panel._owner)} == {JobState.CANCELLED}
    assert not queue.jobs_of(other._owner)[0].state.final


def test_the_table_shows_the_panels_lines(queue: JobQueue) -> None:
    panel = QueuePanel(queue, item_seconds=5)
    assert panel._table.summary == panel.pool and panel.pool.startswith("Shared pool:")
    panel.message, panel.failures = "Queue full", "Item 1 failed: boom"
    assert (panel._table.warning, panel._table.error) == ("Queue full", "Item 1 failed: boom")
    assert panel._status_text.text == panel.status == "Queue empty"
