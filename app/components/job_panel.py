"""The threaded-queue demo: this session's items, worked by the process's shared pool of threads."""

from __future__ import annotations

import itertools
import logging
import threading

import panel as pn
import param

from app.components.live_table import LiveTable, seconds, timer
from app.core.job_queue import JobQueue
from app.core.jobs import JobInfo, JobRejected, JobState, QueueStats
from app.core.work import WORK_KINDS

log = logging.getLogger(__name__)

_local_owners = itertools.count(1)


def session_owner() -> str:
    """This session's id, the owner of its jobs (a made-up one outside a server)."""
    context = pn.state.curdoc.session_context if pn.state.curdoc else None
    return context.id if context is not None else f"local-{next(_local_owners)}"


def status_text(batch: list[int], jobs: dict[int, JobInfo]) -> str:
    """The seed's status line for this session's current batch of items.

    A batch is every item submitted since the session's queue was last empty, as in the seed,
    where the list of items grew while the worker went through it."""
    unfinished = [jobs[i] for i in batch if i in jobs and not jobs[i].state.final]
    if not unfinished:
        return "Queue empty"
    running = [j for j in unfinished if j.state is JobState.RUNNING]
    if running:
        return f"Processing item {batch.index(running[0].id) + 1} of {len(batch)} items in queue."
    first = unfinished[0]
    return (
        f"Item {batch.index(first.id) + 1} of {len(batch)} items in queue is waiting "
        f"for a worker (position {first.position} in the shared queue)."
    )


def job_row(job: JobInfo, now: float) -> dict:
    """What the job table shows of a job."""
    return {
        "id": job.id,
        "kind": WORK_KINDS[job.kind].short if job.kind in WORK_KINDS else job.kind,
        "state": str(job.state),
        "position": "—" if job.position is None else str(job.position),
        "eta": "—" if job.state.final else seconds(job.eta),
        # Counted on by the browser while the job runs, between the queue's notifications.
        "elapsed": (
            timer(job.elapsed(now), running=job.state is JobState.RUNNING)
            if job.started_at is not None
            else "—"
        ),
        "progress": round(job.progress * 100),
        "error": job.error or "",
        "cancellable": not job.state.final,
    }


def pool_text(stats: QueueStats) -> str:
    return (
        f"Shared pool: {stats.running} of {stats.workers} workers busy · "
        f"{stats.queued} of {stats.max_waiting} jobs waiting · "
        f"{stats.done} done, {stats.failed} failed, {stats.cancelled} cancelled"
    )


class QueuePanel(pn.viewable.Viewer):
    """A "Click to launch" button that puts an item of the chosen kind on the shared job queue,
    the seed's status line for this session's items only, a live table of this session's jobs
    (each cancellable), and a line for the shared pool.

    It never touches widgets from a worker thread: a queue notification only schedules one
    refresh on this session's event loop, which reads a fresh snapshot of the queue."""

    kind = param.Selector(
        default="io", objects={kind.label: kind.name for kind in WORK_KINDS.values()}
    )
    item_seconds = param.Number(default=2.0, bounds=(0, None), doc="Seconds each item works.")
    status = param.String(default="Queue empty", doc="The seed's status line.")
    message = param.String(default="", doc="The latest thing the user must know.")
    pool = param.String(default="", doc="The shared pool's figures.")

    def __init__(self, queue: JobQueue, **params) -> None:
        super().__init__(**params)
        self._queue = queue
        self._owner = session_owner()
        self._doc = pn.state.curdoc
        self._lock = threading.Lock()
        self._batch: list[int] = []
        self._reported: set[int] = set()
        self._refresh_pending = False
        self._closed = False
        self._launch_button = pn.widgets.Button(label="Click to launch", color="primary")
        self._launch_button.on_click(self._launch)
        self._cancel_all = pn.widgets.Button(label="Cancel all", color="warning", disabled=True)
        self._cancel_all.on_click(self._cancel_all_jobs)
        self._kind = pn.widgets.RadioButtonGroup.from_param(self.param.kind, name="Kind of item")
        self._alert = pn.pane.Alert(
            self.param.message, alert_type="warning", visible=self.param.message.rx.bool()
        )
        self._table = LiveTable(
            on_cancel=self._cancel_job,
            caption="Your jobs",
            item="job",
            columns=[
                ["kind", "Kind"],
                ["state", "State"],
                ["position", "Position"],
                ["eta", "ETA"],
                ["elapsed", "Elapsed"],
            ],
            progress=True,
            empty_text="No jobs yet: choose a kind and click to launch.",
        )
        self._unsubscribe = [
            queue.subscribe(self._owner, self._schedule_refresh),
            queue.subscribe_stats(self._schedule_refresh),
        ]
        self._refresh()
        if self._doc is not None:
            pn.state.on_session_destroyed(self._on_session_destroyed)

    # -- user actions (on the session's loop) ----------------------------------------------
    def _launch(self, event=None) -> None:
        work = WORK_KINDS[self.kind].make(self.item_seconds)
        try:
            job = self._queue.submit(self._owner, self.kind, work)
        except JobRejected as rejected:
            self.message = str(rejected)
            return
        with self._lock:
            self._batch.append(job.id)
        self.message = ""
        self._refresh()  # on the session's loop already: show the new item at once

    def _cancel_job(self, job_id: int) -> None:
        # The id comes from the browser: only this session's own jobs may be cancelled.
        if self._queue.cancel(job_id, owner=self._owner):
            log.info("session %s cancelled job %d", self._owner, job_id)

    def _cancel_all_jobs(self, event=None) -> None:
        cancelled = self._queue.cancel_owner(self._owner)
        log.info("session %s cancelled all its %d unfinished jobs", self._owner, cancelled)

    # -- refreshing --------------------------------------------------------------------------
    def _schedule_refresh(self) -> None:
        """Called from any thread: run one refresh on the session's loop, however many changes."""
        with self._lock:
            if self._refresh_pending or self._closed:
                return
            self._refresh_pending = True
        if self._doc is None:
            self._refresh()
            return
        try:
            self._doc.add_next_tick_callback(self._refresh)
        except Exception:  # the session is closing; there is nothing left to refresh
            log.debug("refresh not scheduled for closing session %s", self._owner)

    def _refresh(self) -> None:
        with self._lock:
            self._refresh_pending = False
            jobs = self._queue.jobs_of(self._owner)
            by_id = {job.id: job for job in jobs}
            status = status_text(self._batch, by_id)
            failures = [
                (self._batch.index(i) + 1, by_id[i])
                for i in self._batch
                if i in by_id and by_id[i].state is JobState.FAILED and i not in self._reported
            ]
            self._reported.update(job.id for _, job in failures)
            if status == "Queue empty":
                self._batch.clear()
                self._reported.clear()
        self.status = status
        self.pool = pool_text(self._queue.stats())
        if failures:
            self.message = "; ".join(f"Item {n} failed: {job.error}" for n, job in failures)
        self._cancel_all.disabled = all(job.state.final for job in jobs)
        now = self._queue.clock()
        self._table.show([job_row(job, now) for job in jobs])

    def _on_session_destroyed(self, session_context) -> None:
        with self._lock:
            self._closed = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        cancelled = self._queue.close_owner(self._owner)
        log.info("session %s closed; %d of its jobs cancelled", self._owner, cancelled)

    def __panel__(self):
        return pn.Column(
            self._kind,
            pn.Row(self._launch_button, pn.widgets.StaticText(value=self.param.status)),
            self._alert,
            pn.widgets.StaticText(value=self.param.pool),
            self._table,
            self._cancel_all,
            sizing_mode="stretch_width",
        )
