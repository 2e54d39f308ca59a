"""The async-callbacks demo: every click starts its own task that awaits, then reports."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import panel as pn
import param

from app.components.live_table import LiveTable, timer
from app.components.mirror import mirror
from app.components.session import SessionLoop
from app.components.text_line import TextLine
from app.settings import param_range

log = logging.getLogger(__name__)

KEEP_FINISHED = 20  # finished tasks kept in the list, so it never grows without end
COALESCE_MS = 100  # the list is sent at most this often: a burst of clicks is one update


@dataclass
class TaskRecord:
    """One click's task, as the list shows it."""

    n: int
    started: float
    state: str = "running"  # running, finished, cancelled
    ended: float | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def row(self, now: float) -> dict:
        end = self.ended if self.ended is not None else now
        return {
            "id": self.n,
            "state": self.state,
            # The browser counts a running task's seconds itself: no message per tick.
            "elapsed": timer(end - self.started, running=self.state == "running"),
            "cancellable": self.state == "running",
        }


class AsyncClicker(pn.viewable.Viewer):
    """A "Click me!" button whose async callback reports "Running N", awaits, and reports
    "Finished N". Each click is its own asyncio task, so clicks run concurrently and the
    server's event loop stays free while they wait. A live list shows this session's tasks,
    each cancellable; at most `max_tasks` run at once per session."""

    duration = param.Number(**param_range("async_task_seconds"))
    max_tasks = param.Integer(**param_range("async_max_tasks"))
    status = param.String(default="", doc="The seed's status text.")
    message = param.String(default="", doc="Why a click started nothing.")

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self._tasks: dict[int, TaskRecord] = {}
        self._session = SessionLoop()
        self._session.on_close(self._cancel_all)
        self._show_soon = self._session.coalesced(self._show, min_interval_ms=COALESCE_MS)
        self._button = pn.widgets.Button(label="Click me!", color="primary")
        self._button.on_click(self._run)
        # Set by a plain watcher rather than bound as a reference: one click is then one
        # property change, without param's reference machinery on the busiest path.
        # Every status is sent, none coalesced away: a click's "Running N" must reach the page
        # even when an earlier task's "Finished" follows it within milliseconds.
        self._status_text = TextLine()
        mirror(self, "status", self._status_text, "text")
        self._table = LiveTable(
            on_cancel=self._cancel,
            caption="Your tasks",
            item="task",
            columns=[["state", "State"], ["elapsed", "Elapsed"]],
            empty_text="No tasks yet: click the button.",
            count_running=True,  # "3 tasks running", counted by the browser from the rows
        )
        mirror(self, "message", self._table, "warning")  # above the task list while not empty

    # -- the seed's callback, with a task list around it -----------------------------------
    async def _run(self, event) -> None:
        # An async callback: Panel runs it on the event loop, also with --num-threads.
        n = event.new
        if self._running_count() >= self.max_tasks:
            self.message = (
                f"Click {n} started nothing: {self.max_tasks} tasks are running, "
                "the most one session may have."
            )
            return
        record = TaskRecord(n, time.monotonic(), task=asyncio.current_task())
        self._tasks[n] = record
        self.message = ""
        self.status = f"Running {n}"
        self._changed()
        try:
            await asyncio.sleep(self.duration)
        except asyncio.CancelledError:
            # Cancelled by its button or because the session closed; this task is the top of
            # its own stack, so it ends here rather than re-raising into Panel's dispatcher.
            record.state = "cancelled"
            if not self._session.closed:
                self.status = f"Cancelled {n}"
        else:
            record.state = "finished"
            self.status = f"Finished {n}"
        finally:
            record.ended = time.monotonic()
            record.task = None
            if not self._session.closed:
                self._changed()

    def _cancel(self, n: int) -> None:
        """A row's Cancel (from the browser; with --num-threads on a pool thread): asyncio
        tasks are not thread-safe, so the loop cancels it."""
        self._session.call(self._cancel_on_loop, n)

    def _cancel_on_loop(self, n: int) -> None:
        record = self._tasks.get(n)
        if record is not None and record.task is not None and record.state == "running":
            record.task.cancel()

    # -- the list ----------------------------------------------------------------------------
    def _running_count(self) -> int:
        return sum(1 for r in self._tasks.values() if r.state == "running")

    def _changed(self) -> None:
        finished = [n for n, r in self._tasks.items() if r.state != "running"]
        for n in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._tasks[n]
        self._show_soon()

    def _show(self) -> None:
        now = time.monotonic()
        self._table.show([r.row(now) for r in self._tasks.values()])

    def _cancel_all(self) -> None:
        # The session is gone: tasks still waiting would write into a page nobody sees.
        running = [r.task for r in self._tasks.values() if r.task is not None]
        for task in running:
            task.cancel()
        if running:
            log.info("session closed; %d async tasks cancelled", len(running))

    def __panel__(self):
        return pn.Column(
            pn.Row(self._button, self._status_text), self._table, sizing_mode="stretch_width"
        )
