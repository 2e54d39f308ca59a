"""What the Dask backend runs inside the cluster: the task that runs one job on a worker, and
the scheduler plugin through which it reads the cluster's figures and queue positions.

Both are imported by reference, so the scheduler and every worker must be able to import the
app (this project installed in their environment as in the app's, or PYTHONPATH pointing at it,
with the same pinned dask and distributed):
the scheduler unpickles each job's task (and so imports this module and app.core.work) before
it queues it. This module imports nothing of the app beyond the vocabulary of jobs, so that
importing it stays cheap there.
"""

from __future__ import annotations

import os
import time

from distributed.diagnostics.plugin import SchedulerPlugin

from app.core.backends.base import Cancelled, Done, Failed, Outcome
from app.core.jobs import JobCancelled, JobContext, Work

STATE_OP = "panel_jobs_state_v2"  # the scheduler handler the plugin adds (versioned)
PROGRESS_EVERY = 0.2  # seconds: at most one progress message per job this often
CHECK_EVERY = 0.05  # seconds: how often a zero-timeout cancel check asks the scheduler


class _CancelToken:
    """The job's `distributed.Event` as a JobContext's `wait_cancel`.

    `wait(seconds)` is `Event.wait`: the sleep of an I/O job, which wakes at once when the Event
    is set. A check that does not wait (`ctx.check()` between steps of a compute loop) asks the
    scheduler at most every CHECK_EVERY seconds and answers "not cancelled" in between, so that
    a tight loop does not send the scheduler a request per step. Once set, it stays set."""

    def __init__(self, event) -> None:
        self._event = event
        self._set = False
        self._checked = float("-inf")

    def wait(self, seconds: float) -> bool:
        if self._set:
            return True
        if seconds <= 0:
            now = time.monotonic()
            if now - self._checked < CHECK_EVERY:
                return False
            self._checked = now
            self._set = bool(self._event.is_set())
        else:
            self._set = bool(self._event.wait(timeout=seconds))
            self._checked = time.monotonic()
        return self._set

    def is_set(self) -> bool:
        """Ask the scheduler now."""
        self._set = self._set or bool(self._event.is_set())
        return self._set


def run_job(work: Work, key: str, topic: str, cancel_name: str) -> Outcome:
    """The task of one job, on a Dask worker: its outcome is the task's result.

    It says "started" (with where it runs) and how far it got through `Worker.log_event` on the
    replica's topic, and waits on the job's Event to learn of a cancel. Nothing escapes: an
    exception, `SystemExit` or `KeyboardInterrupt` from the work (which would kill the worker
    process, and make the scheduler run the task again on the next worker) ends the job as
    failed with the reason, and the worker takes its next task."""
    try:
        from distributed import Event, get_worker

        worker = get_worker()
        token = _CancelToken(Event(cancel_name))
        if token.is_set():  # cancelled while it waited, in the moment it was sent to a worker
            return Cancelled()
        worker.log_event(
            topic,
            {"key": key, "kind": "started", "where": f"dask worker {worker.address}, "
             f"pid {os.getpid()}"},
        )  # fmt: skip
        last = float("-inf")

        def report(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY:
                last = now
                worker.log_event(topic, {"key": key, "kind": "progress", "fraction": fraction})

        try:
            result = work(JobContext(token.wait, report))
        except JobCancelled:
            return Cancelled()
        return Cancelled() if token.is_set() else Done(result)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt included: the job fails
        return Failed(f"{type(exc).__name__}: {exc}")


def cluster_state(
    dask_scheduler=None,
    keys: tuple[str, ...] | list[str] = (),
    semaphore: str = "",
) -> dict:
    """Run on the scheduler (by the plugin's handler, or `Client.run_on_scheduler` when
    debugging): the cluster's figures, and for `keys`
    (one replica's unfinished jobs) each one's 1-based place among every queued task of the
    cluster, or its state when it is not queued, and which of them a dying worker was running.

    `busy` counts tasks assigned to workers, which with `worker-saturation: 1.0` and jobs
    submitted as root-ish tasks are the running ones. `leases` are the ids of the leases of the
    shared bound (at most its size): the caller tells its own from the others'."""
    s = dask_scheduler
    order = {ts.key: place for place, ts in enumerate(s.queued.sorted(), start=1)}
    ranks: dict[str, int | str | None] = {}
    died: list[str] = []
    for key in keys:
        ts = s.tasks.get(key)
        if ts is None:  # not arrived yet, or already forgotten
            ranks[key] = None
            continue
        ranks[key] = order.get(key, ts.state)
        if ts.suspicious:  # a worker died while running it: the scheduler would run it again
            died.append(key)
    threads = alive = busy = 0
    for ws in s.workers.values():
        threads += ws.nthreads
        if ws.status.name == "running":
            alive += ws.nthreads
        busy += min(len(ws.processing), ws.nthreads)
    ext = s.extensions.get("semaphores")
    held = ext.leases.get(semaphore, {}) if ext is not None else {}
    return {
        "ranks": ranks,
        "died": died,
        "threads": threads,
        "alive": alive,
        "busy": busy,
        "waiting": len(order) + len(s.unrunnable),
        "leases": list(held),
    }


class ClusterStatePlugin(SchedulerPlugin):
    """Gives the scheduler one more handler, STATE_OP, which answers `cluster_state`.

    The backend asks it every half second; `Client.run_on_scheduler` would do the same, but the
    scheduler logs a line at INFO for each such call ("Run out-of-band function"). Registered by
    every replica on connecting, idempotently: the first registration stands until the scheduler
    restarts, so the handler's name carries a version to change with its arguments."""

    name = "panel-jobs-state-v2"
    idempotent = True

    def start(self, scheduler) -> None:
        def panel_jobs_state(
            keys: list[str] | None = None, semaphore: str = ""
        ) -> dict:
            return cluster_state(scheduler, keys or (), semaphore)

        scheduler.handlers[STATE_OP] = panel_jobs_state
