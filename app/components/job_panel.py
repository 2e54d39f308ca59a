"""The threaded-queue demo: this session's items, worked by the process's shared job queue."""

from __future__ import annotations

import logging
import threading

import panel as pn
import param

from app.components.live_table import LiveTable, seconds, timer
from app.components.mirror import mirror
from app.components.session import SessionLoop
from app.components.text_line import TextLine
from app.core.job_queue import JobQueue
from app.core.jobs import JobInfo, JobRejected, JobState, QueueStats
from app.core.work import WORK_KINDS, JobSpec
from app.settings import param_range

log = logging.getLogger(__name__)


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
    where = "" if first.position is None else f" (position {first.position} in the shared queue)"
    return (
        f"Item {batch.index(first.id) + 1} of {len(batch)} items in queue is waiting "
        f"for a worker{where}."
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
        "where": job.where or "—",
        "progress": round(job.progress * 100),
        "error": job.error or "",
        "note": job.reason or "",
        "cancellable": not job.state.final,
    }


def pool_text(stats: QueueStats) -> str:
    """The line about what runs everyone's jobs."""
    if stats.problems:
        return "Jobs cannot run now: " + "; ".join(stats.problems)
    counts = f"{stats.done} done, {stats.failed} failed, {stats.cancelled} cancelled"
    if stats.cluster_waiting is not None:
        return (
            f"Dask cluster: {stats.busy_workers} of {stats.workers} workers busy · "
            f"{stats.cluster_waiting} jobs waiting in the cluster, {stats.queued} of "
            f"{stats.max_waiting} from this server · {counts}"
        )
    return (
        f"Shared pool: {stats.busy_workers} of {stats.workers} workers busy · "
        f"{stats.queued} of {stats.max_waiting} jobs waiting · {counts}"
    )


class QueuePanel(pn.viewable.Viewer):
    """A "Click to launch" button that puts an item of the chosen kind on the shared job queue,
    the seed's status line for this session's items only, a live table of this session's jobs
    (each cancellable), and a line for the shared pool.

    It never touches a model off the session's loop: a queue notification (on a worker thread)
    or a click (on a pool thread with --num-threads) only schedules one refresh there, which
    reads a fresh snapshot of the queue, so the last refresh always shows the latest state."""

    kind = param.Selector(
        default="io", objects={kind.label: kind.name for kind in WORK_KINDS.values()}
    )
    item_seconds = param.Number(**param_range("queue_item_seconds"))
    status = param.String(default="Queue empty", doc="The seed's status line.")
    message = param.String(default="", doc="Why the last launch was refused.")
    failures = param.String(default="", doc="Items of this batch that failed.")
    pool = param.String(default="", doc="The shared pool's figures.")

    def __init__(self, queue: JobQueue, **params) -> None:
        super().__init__(**params)
        self._queue = queue
        self._session = SessionLoop()
        self._owner = self._session.id
        self._lock = threading.Lock()
        self._batch: list[int] = []
        self._reported: set[int] = set()
        self._refresh_soon = self._session.coalesced(self._refresh)
        self._launch_button = pn.widgets.Button(label="Click to launch", color="primary")
        self._launch_button.on_click(self._launch)
        self._kind = pn.widgets.RadioButtonGroup.from_param(self.param.kind, name="Kind of item")
        self._status_text = TextLine()
        self._table = LiveTable(
            on_cancel=self._cancel_job,
            on_cancel_all=self._cancel_all_jobs,
            cancel_all=True,
            caption="Your jobs",
            item="job",
            columns=[
                ["kind", "Kind"],
                ["state", "State"],
                ["position", "Position"],
                ["eta", "ETA"],
                ["elapsed", "Elapsed"],
                ["where", "Ran on"],
            ],
            progress=True,
            empty_text="No jobs yet: choose a kind and click to launch.",
        )
        self._unsubscribe = [
            queue.subscribe(self._owner, self._refresh_soon),
            queue.subscribe_stats(self._refresh_soon),
        ]
        self._session.on_close(self._closed)
        # The refusal, the failures and the pool line are shown by the table.
        mirror(self, "status", self._status_text, "text")
        mirror(self, "message", self._table, "warning")
        mirror(self, "failures", self._table, "error")
        mirror(self, "pool", self._table, "summary")
        self._refresh()

    # -- user actions (on the loop, or on a pool thread with --num-threads) ------------------
    def _kind_at_click(self) -> str:
        """The kind chosen in the browser when "Click to launch" was clicked.

        With --num-threads, Panel hands each widget's change to a pool thread of its own and
        awaits neither, so a click can be handled before the kind change that preceded it in
        the browser. Bokeh applies both to the models on the loop, in message order, before
        Panel hands them on: the radio group's model holds what the user saw at the click."""
        for model, _ in self._kind._models.values():
            if self._session.in_server and model.document is self._session.doc:
                return self._kind.values[model.active]
        return self.kind

    def _launch(self, event=None) -> None:
        kind = self._kind_at_click()
        try:
            job = self._queue.submit(self._owner, kind, JobSpec(kind, self.item_seconds))
        except JobRejected as rejected:
            self._session.call(self._refused, str(rejected))
            return
        with self._lock:
            new_batch = not self._batch
            if new_batch:
                self._reported.clear()
            self._batch.append(job.id)
        self._session.call(self._launched, new_batch)

    def _cancel_job(self, job_id: int) -> None:
        # The id comes from the browser: only this session's own jobs may be cancelled.
        if self._queue.cancel(job_id, owner=self._owner):
            log.info("%s cancelled job %d", self._tag, job_id)

    def _cancel_all_jobs(self) -> None:
        cancelled = self._queue.cancel_owner(self._owner)
        log.info("%s cancelled all its %d unfinished jobs", self._tag, cancelled)

    @property
    def _tag(self) -> str:
        return f"session {self._queue.tag(self._owner)}"

    # -- on the session's loop ---------------------------------------------------------------
    def _refused(self, why: str) -> None:
        self.message = why

    def _launched(self, new_batch: bool) -> None:
        self.message = ""
        if new_batch:
            self.failures = ""  # about the last batch
        self._refresh()  # show the new item at once

    def _refresh(self) -> None:
        jobs = self._queue.jobs_of(self._owner)
        by_id = {job.id: job for job in jobs}
        with self._lock:
            status = status_text(self._batch, by_id)
            failed = [
                (self._batch.index(i) + 1, by_id[i])
                for i in self._batch
                if i in by_id and by_id[i].state is JobState.FAILED
            ]
            new_failure = any(job.id not in self._reported for _, job in failed)
            self._reported.update(job.id for _, job in failed)
            if status == "Queue empty":
                self._batch.clear()
        self.status = status
        stats = self._queue.stats()
        self.pool = pool_text(stats)
        if new_failure:
            self.failures = "; ".join(f"Item {n} failed: {job.error}" for n, job in failed)
        if status == "Queue empty" and self.message and not stats.problems:
            self.message = ""  # a refusal is old news once this session's queue has drained
        now = self._queue.clock()
        self._table.show([job_row(job, now) for job in jobs])

    def _closed(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        cancelled = self._queue.close_owner(self._owner)
        log.info("%s closed; %d of its jobs cancelled", self._tag, cancelled)

    def __panel__(self):
        return pn.Column(
            self._kind,
            pn.Row(self._launch_button, self._status_text),
            self._table,
            sizing_mode="stretch_width",
        )
